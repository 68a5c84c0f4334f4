//go:build tools

// The netpol controller of kube-router, pinned by go.mod/go.sum: the NetworkPolicy engine of the runtime tier.
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
