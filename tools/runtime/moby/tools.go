//go:build tools

package tools

import (
	_ "github.com/moby/moby/v2/cmd/dockerd"
)
