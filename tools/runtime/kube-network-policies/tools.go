//go:build tools

// SIG Network's reference NetworkPolicy engine, pinned by go.mod/go.sum: the runtime tier's engine for
// AdminNetworkPolicy. Its command (cmd/, a main package) is built from the module's own source with the patches
// beside this file (tools/runtime/install.sh); this import pins the module and its dependencies.
package tools

import _ "sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
