"""NetworkPolicy semantics by np-guard's netpol-analyzer, not by our reading of the policies.

Upstream's Helm PR #830 shipped an egress policy whose semantics were inverted; these tests would catch
that: for each profile the analyser computes the connectivity of the whole render (upstream base, injected
objects, the cluster's DNS pods), and the tests assert on its verdicts. Baseline (no policy) shows that every
probe is reachable there, so what blocks it in the other profiles is the policy.
"""

from __future__ import annotations

import pytest

from checkers.conftest import HARDENED
from checkers.tools import DNS_NS, SOURCEGRAPH_NS, Connectivity, analysed_dir, connectivity

METADATA = "169.254.169.254"
PRIVATE = ("10.0.0.1", "172.16.0.1", "192.168.0.1", "100.64.0.1")
PUBLIC = ("8.8.8.8", "140.82.112.3")
DNS = f"{DNS_NS}/coredns[Deployment]"
FRONTEND = f"{SOURCEGRAPH_NS}/sourcegraph-frontend[Deployment]"
FRONTEND_HTTP = 3080
# Sourcegraph's internal services, and the frontend's ports other than HTTP (internal API, debug).
INTERNAL = (
    (f"{SOURCEGRAPH_NS}/pgsql[StatefulSet]", 5432),
    (f"{SOURCEGRAPH_NS}/gitserver[StatefulSet]", 3178),
    (f"{SOURCEGRAPH_NS}/redis-store[Deployment]", 6379),
    (FRONTEND, 3090),
    (FRONTEND, 6060),
)


def _registry(namespace: str) -> str:
    return f"{namespace}/executor-dind-registry[StatefulSet]"


@pytest.fixture(scope="module")
def analysed(netpolicy, renders, tmp_path_factory) -> dict[str, Connectivity]:
    """The analyser's connectivity of every profile's whole render."""
    out = {}
    for profile, render in renders.items():
        where = analysed_dir(tmp_path_factory.mktemp(f"netpol-{profile}"), render.objects)
        out[profile] = connectivity(netpolicy, where)
    return out


def test_every_probe_target_is_a_workload_the_analyser_knows(analysed, renders):
    """A misspelt workload would make every 'denied' below vacuous."""
    for profile, conn in analysed.items():
        namespace = renders[profile].namespace
        wanted = {renders[profile].executor_peer, DNS, FRONTEND, _registry(namespace)}
        wanted |= {target for target, _ in INTERNAL}
        assert wanted <= conn.workloads(), (profile, wanted - conn.workloads())


def test_baseline_has_no_policy_so_everything_is_reachable(analysed, renders):
    conn, executor = analysed["baseline"], renders["baseline"].executor_peer
    for address in (METADATA, *PRIVATE, *PUBLIC):
        assert conn.allows(executor, address, 443), address
    for target, port in ((FRONTEND, FRONTEND_HTTP), *INTERNAL, (_registry(SOURCEGRAPH_NS), 5000)):
        assert conn.allows(executor, target, port), target
    assert conn.allows(executor, DNS, 53, "UDP")
    assert conn.allows(FRONTEND, executor, 6060)
    assert conn.allows(FRONTEND, _registry(SOURCEGRAPH_NS), 5000)


@pytest.mark.parametrize("profile", HARDENED)
def test_executors_cannot_reach_metadata_private_ranges_or_internal_services(analysed, renders, profile):
    conn, executor = analysed[profile], renders[profile].executor_peer
    for port in (80, 443):
        assert not conn.allows(executor, METADATA, port)
    for address in PRIVATE:
        for port in (22, 53, 443, 5432):
            assert not conn.allows(executor, address, port), (address, port)
    for target, port in INTERNAL:
        assert not conn.allows(executor, target, port), (target, port)
    assert not conn.allows(executor, DNS, 9153), "only DNS ports on the DNS pods"


@pytest.mark.parametrize("profile", HARDENED)
def test_executors_reach_dns_the_frontend_http_port_the_registry_and_the_internet(analysed, renders, profile):
    conn, render = analysed[profile], renders[profile]
    executor = render.executor_peer
    assert conn.allows(executor, DNS, 53, "UDP")
    assert conn.allows(executor, DNS, 53, "TCP")
    # The pod port after the Service's DNAT (30080 -> 3080), not the Service port.
    assert conn.allows(executor, FRONTEND, FRONTEND_HTTP)
    assert conn.allows(executor, _registry(render.namespace), 5000)
    for address in PUBLIC:
        assert conn.allows(executor, address, 443), address


@pytest.mark.parametrize("profile", HARDENED)
def test_nothing_but_executors_reaches_executor_pods_or_the_registry(analysed, renders, profile):
    conn, render = analysed[profile], renders[profile]
    executor, registry = render.executor_peer, _registry(render.namespace)
    for source in (FRONTEND, f"{SOURCEGRAPH_NS}/worker[Deployment]", DNS):
        assert not conn.allows(source, executor, 6060), source
        assert not conn.allows(source, registry, 5000), source
    for address in (*PRIVATE, *PUBLIC):
        assert not conn.allows(address, executor, 6060), address
        assert not conn.allows(address, registry, 5000), address


def test_the_analyser_still_misreads_ipv6_blocks(netpolicy, renders, tmp_path):
    """Why the analysed copy leaves IPv6 ipBlocks out (tools.py): with them, netpol-analyzer v1.2.0 reads
    `::/0` as 0.0.0.0/0 and reports private ranges reachable. When this fails, the analyser has been fixed:
    drop the workaround."""
    render = renders["strict"]
    assert any(
        ":" in (peer.get("ipBlock") or {}).get("cidr", "")
        for obj in render.ours
        if obj["kind"] == "NetworkPolicy"
        for rule in obj["spec"].get("egress", [])
        for peer in rule.get("to", [])
    ), "the policy has an IPv6 block"
    raw = connectivity(netpolicy, analysed_dir(tmp_path / "raw", render.objects, ipv6_workaround=False))
    assert raw.allows(render.executor_peer, "10.0.0.1", 443)
