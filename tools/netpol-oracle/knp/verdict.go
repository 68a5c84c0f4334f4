//go:build netpol_oracle

// This file is compiled INTO sigs.k8s.io/kube-network-policies/pkg/networkpolicy (v0.8.0) by `go build -overlay`
// (see the Makefile's netpol-oracle rule): v0.8.0 keeps the engine's decision, evaluatePacket, unexported. The
// module itself is used as the proxy serves it; nothing of it is copied or patched.

package networkpolicy

import (
	"context"
	"net"

	v1 "k8s.io/api/core/v1"
)

// Verdict is the engine's own decision for the first packet of a connection: true accepts it, false drops it.
// Pods are found by address as the engine finds them (the pods' status.podIPs).
func (c *Controller) Verdict(ctx context.Context, srcIP, dstIP net.IP, proto v1.Protocol, srcPort, dstPort int) bool {
	if c.nriPlugin == nil {
		// The engine falls back to NRI's address map when no pod has the address; with NRI off the map is empty
		// (v0.8.0 dereferences the plugin unconditionally).
		c.nriPlugin = &nriPlugin{podIPMap: map[string]string{}}
	}
	family := v1.IPv4Protocol
	if dstIP.To4() == nil {
		family = v1.IPv6Protocol
	}
	p := packet{family: family, srcIP: srcIP, dstIP: dstIP, proto: proto, srcPort: srcPort, dstPort: dstPort}
	return c.evaluatePacket(ctx, p)
}

// PodAt is the pod the engine assigns to an address (nil: none), so callers can check their stand-ins resolve.
func (c *Controller) PodAt(ip net.IP) *v1.Pod {
	return c.getPodAssignedToIP(ip.String())
}
