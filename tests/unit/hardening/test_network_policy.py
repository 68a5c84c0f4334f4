"""network_policy: the executors' and the registry's NetworkPolicies, rule by rule."""

from __future__ import annotations

import ipaddress
from typing import Any

from executor_dind import naming
from executor_dind.hardening import network_policy

from ..helpers import find, spec
from .support import apply


def policy_of(raw: dict[str, Any] | None = None, namespace: str = "sourcegraph", sg: str = "sourcegraph"):
    objects, results = apply(network_policy.CONTROL, raw or {}, namespace, sg)
    assert results == []
    return find(objects, "NetworkPolicy", network_policy.POLICY_NAME), objects


def test_policy_selects_every_executor_pod_and_nothing_else():
    policy, objects = policy_of({"queues": [{"name": "batches"}, {"name": "codeintel"}]})
    assert policy["spec"]["podSelector"] == {"matchLabels": naming.EXECUTOR_POD_SELECTOR}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    for name in ("executor-batches", "executor-codeintel"):
        labels = find(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert naming.EXECUTOR_POD_SELECTOR.items() <= labels.items()


def test_dns_egress_goes_to_the_cluster_dns_pods_only():
    policy, _ = policy_of()
    dns = policy["spec"]["egress"][0]
    assert dns == {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    # no rule opens port 53 (or anything) to every destination
    for rule in policy["spec"]["egress"]:
        assert rule.get("to"), rule


def test_node_local_dns_opens_exactly_that_address():
    policy, _ = policy_of({"hardening": {"networkPolicy": {"dns": {"nodeLocalIP": "169.254.20.10"}}}})
    rules = [
        r for r in policy["spec"]["egress"] if any("ipBlock" in p and "except" not in p["ipBlock"] for p in r["to"])
    ]
    assert rules == [
        {
            "to": [{"ipBlock": {"cidr": "169.254.20.10/32"}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
    ]


def test_frontend_egress_uses_the_pod_port_in_sourcegraphs_namespace():
    policy, _ = policy_of(namespace="executors", sg="sourcegraph")
    frontend = policy["spec"]["egress"][1]
    assert frontend == {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "sourcegraph"}},
                "podSelector": {"matchLabels": {"app": "sourcegraph-frontend"}},
            }
        ],
        "ports": [{"protocol": "TCP", "port": "http"}],
    }


def test_same_namespace_peers_need_no_namespace_selector():
    policy, _ = policy_of()
    assert policy["spec"]["egress"][1]["to"] == [{"podSelector": {"matchLabels": {"app": "sourcegraph-frontend"}}}]
    assert policy["spec"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}],
            "ports": [{"protocol": "TCP", "port": 6060}],
        }
    ]


def test_registry_egress_targets_the_registry_pods_port():
    policy, _ = policy_of()
    assert policy["spec"]["egress"][2] == {
        "to": [{"podSelector": {"matchLabels": naming.REGISTRY_POD_SELECTOR}}],
        "ports": [{"protocol": "TCP", "port": naming.REGISTRY_PORT}],
    }


def test_internet_egress_excepts_every_denied_range():
    policy, _ = policy_of()
    internet = next(r for r in policy["spec"]["egress"] if any("except" in p.get("ipBlock", {}) for p in r["to"]))
    assert "ports" not in internet
    blocks = {p["ipBlock"]["cidr"]: set(p["ipBlock"]["except"]) for p in internet["to"]}
    assert set(blocks) == {"0.0.0.0/0", "::/0"}
    denied = set(spec().hardening.network_policy.denied_cidrs)
    assert blocks["0.0.0.0/0"] | blocks["::/0"] == denied
    for probe in (
        "169.254.169.254",
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "127.0.0.1",
        "fd00::1",
        "fe80::1",
    ):
        address = ipaddress.ip_address(probe)
        cidr = "0.0.0.0/0" if address.version == 4 else "::/0"
        assert any(address in ipaddress.ip_network(e) for e in blocks[cidr]), probe
    for public in ("8.8.8.8", "140.82.112.3", "2606:4700::1111"):
        address = ipaddress.ip_address(public)
        cidr = "0.0.0.0/0" if address.version == 4 else "::/0"
        assert not any(address in ipaddress.ip_network(e) for e in blocks[cidr]), public


def test_allowed_cidrs_add_a_rule_of_their_own():
    policy, _ = policy_of({"hardening": {"networkPolicy": {"allowedCIDRs": ["10.20.0.0/16", "fd12::/64"]}}})
    assert policy["spec"]["egress"][-1] == {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}, {"ipBlock": {"cidr": "fd12::/64"}}]
    }


def test_registry_policy_admits_only_executor_pods_and_lets_the_registry_reach_dns_and_the_internet():
    policy, objects = policy_of({"hardening": {"networkPolicy": {"allowedCIDRs": ["10.20.0.0/16"]}}})
    registry = find(objects, "NetworkPolicy", network_policy.REGISTRY_POLICY_NAME)
    assert registry["spec"]["podSelector"] == {"matchLabels": naming.REGISTRY_POD_SELECTOR}
    assert registry["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert registry["spec"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": naming.EXECUTOR_POD_SELECTOR}}],
            "ports": [{"protocol": "TCP", "port": naming.REGISTRY_PORT}],
        }
    ]
    # The executors' DNS rule, then their internet rule (denied ranges excepted) and allowedCIDRs: no frontend,
    # no registry-to-registry, no private range beyond the allowed one.
    assert registry["spec"]["egress"] == [policy["spec"]["egress"][0], *policy["spec"]["egress"][3:]]
    assert registry["spec"]["egress"][0]["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert registry["spec"]["egress"][1]["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert registry["spec"]["egress"][-1] == {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]}


def test_policies_live_beside_the_executors():
    _, objects = policy_of(namespace="executors")
    for obj in objects:
        if obj["kind"] == "NetworkPolicy":
            assert obj["metadata"]["namespace"] == "executors"
            assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "executor-dind"


def test_an_unknown_sourcegraph_namespace_never_becomes_an_empty_namespace_selector():
    objects, _ = apply(network_policy.CONTROL, {"namespace": "executors"}, namespace="executors", sg="")
    policy = find(objects, "NetworkPolicy", network_policy.POLICY_NAME)
    peers = [peer for rule in policy["spec"]["egress"] for peer in rule["to"]]
    peers += [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    names = [
        p["namespaceSelector"].get("matchLabels", {}).get("kubernetes.io/metadata.name")
        for p in peers
        if "namespaceSelector" in p
    ]
    assert "" not in names
