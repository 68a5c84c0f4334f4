"""The strict profile's gVisor start script: with no default route it stops and says why.

(With a default route, test_dind's strict cases run the same script on the host kernel and the job container's
traffic reaches the node namespace as the pod address.)
"""

from __future__ import annotations

from runtime.harness import dind_of, in_netns, render, sh

STRICT = {
    "namespace": "executors",
    "frontend": {"url": "http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080"},
    "hardening": {"profile": "strict"},
}


def test_no_default_route_fails_with_the_reason(janitor, executor_dind, tmp_path) -> None:
    dind = dind_of(render(executor_dind, STRICT, tmp_path, "strict"))[0]
    netns = janitor.netns("noroute")
    result = sh(in_netns(netns, [*dind["command"], *dind.get("args", [])]), timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip() == "no default route: no interface to NAT job traffic through"
