"""network_policy: the executors' and the registry's NetworkPolicies, rule by rule."""

from __future__ import annotations

import ipaddress
from typing import Any

from executor_dind import naming
from executor_dind.hardening import network_policy
from executor_dind.settings import DENIED_CIDRS
from executor_dind.spec import Spec, parse_spec

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


# --- validate: CIDRs as the API server and the engines read them, refused at their own field ------------------

NP = "spec.hardening.networkPolicy"


def np_problems(network_policy_settings: dict[str, Any], **raw: Any) -> list[tuple[str, str]]:
    hardening = {"profile": "recommended", "networkPolicy": network_policy_settings}
    return network_policy.validate(spec_unvalidated(hardening=hardening, **raw), "spec")


def spec_unvalidated(**raw: Any) -> Spec:
    return parse_spec(raw)


def test_the_default_lists_pass_the_full_check():
    """The defaults are accepted without being read (the KRM path stays free of ipaddress): read, they pass."""
    assert np_problems({"deniedCIDRs": list(reversed(DENIED_CIDRS))}) == []
    assert np_problems({"deniedCIDRs": list(DENIED_CIDRS), "allowedCIDRs": ["203.0.113.0/24"]}) == []


def test_ipv4_mapped_allowed_cidrs_are_read_as_ipv4_and_the_metadata_address_refused_at_its_index():
    problems = np_problems({"allowedCIDRs": ["203.0.113.0/24", "::ffff:169.254.0.0/112"]})
    assert problems == [
        (
            f"{NP}.allowedCIDRs[1]",
            "169.254.0.0/16 holds 169.254.169.254 (AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack instance "
            "metadata): executors would reach it (audit rule EXD302); leave it out",
        ),
        (
            f"{NP}.allowedCIDRs[1]",
            "169.254.0.0/16 holds 169.254.169.252 (GKE metadata server (some setups)): executors would reach it "
            "(audit rule EXD302); leave it out",
        ),
        (
            f"{NP}.allowedCIDRs[1]",
            "169.254.0.0/16 holds 169.254.170.2 (AWS ECS task metadata and credentials): executors would reach it "
            "(audit rule EXD302); leave it out",
        ),
        (
            f"{NP}.allowedCIDRs[1]",
            "169.254.0.0/16 holds 169.254.170.23 (EKS Pod Identity credentials): executors would reach it (audit "
            "rule EXD302); leave it out",
        ),
        (
            f"{NP}.allowedCIDRs[1]",
            "169.254.0.0/16 holds 169.254.0.23 (Tencent Cloud instance metadata): executors would reach it (audit "
            "rule EXD302); leave it out",
        ),
    ]
    # the same block written as IPv4, and a mapped private block (the user's choice): no problem for the latter
    assert [p[0] for p in np_problems({"allowedCIDRs": ["169.254.169.254/32"]})] == [f"{NP}.allowedCIDRs[0]"]
    assert np_problems({"allowedCIDRs": ["::ffff:10.1.0.0/112"]}) == []


def test_leading_zeros_and_non_cidrs_are_refused_at_their_index_whatever_the_profile():
    bad = {"allowedCIDRs": ["10.1.0.0/16", "010.0.0.0/8"], "deniedCIDRs": ["10.0.0.0/33"]}
    expected = [
        (f"{NP}.deniedCIDRs[0]", "'10.0.0.0/33' is not a CIDR: /33 is not a prefix length from 0 to 32"),
        (
            f"{NP}.allowedCIDRs[1]",
            "'010.0.0.0/8' has an IPv4 octet with a leading zero: the API server reads it as decimal, Go's net "
            "package (used by the policy engines) refuses it; write it without leading zeros",
        ),
    ]
    assert np_problems(bad) == expected
    raw = {"hardening": {"profile": "baseline", "networkPolicy": bad}}
    assert network_policy.validate(spec_unvalidated(**raw), "spec") == expected


def test_a_denied_block_of_every_address_would_be_an_except_equal_to_its_cidr():
    [(path, message)] = np_problems({"deniedCIDRs": [*DENIED_CIDRS, "::ffff:0.0.0.0/96"]})
    assert path == f"{NP}.deniedCIDRs[14]"
    assert message.startswith("denies every IPv4 address: it becomes the `except` of 0.0.0.0/0, which must be a strict")


def test_a_denied_list_that_leaves_metadata_or_private_ranges_open_is_refused_unless_excepted():
    problems = np_problems({"deniedCIDRs": ["10.0.0.0/8"]})
    assert (
        f"{NP}.deniedCIDRs",
        "does not cover 169.254.169.254 (AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack instance metadata): "
        "executors would reach it (audit rule EXD302); add 169.254.169.254/32 (the default list covers every "
        "metadata address)",
    ) in problems
    assert (
        f"{NP}.deniedCIDRs",
        "leaves 172.16.0.0/12 of the private range 172.16.0.0/12 open (audit rule EXD303): deny it, or list what "
        "executors need in allowedCIDRs",
    ) in problems
    assert len(problems) == 9 + 9  # every metadata address (nine) (none is in 10/8); every private range but 10/8
    exceptions = [{"rule": "EXD302", "reason": "bare metal, no metadata"}, {"rule": "EXD303", "reason": "a b c"}]
    assert np_problems({"deniedCIDRs": ["10.0.0.0/8"]}, auditExceptions=exceptions) == []
    # off, the control's lists open nothing
    raw = {"hardening": {"profile": "baseline", "networkPolicy": {"deniedCIDRs": ["10.0.0.0/8"]}}}
    assert network_policy.validate(spec_unvalidated(**raw), "spec") == []


def test_mapped_forms_are_rendered_canonical_and_node_local_ip_per_family():
    raw = {
        "hardening": {
            "networkPolicy": {
                "allowedCIDRs": ["::ffff:203.0.113.0/120"],
                "deniedCIDRs": [*DENIED_CIDRS, "::ffff:198.51.100.0/120"],
                "dns": {"nodeLocalIP": "fd00::a"},
            }
        }
    }
    policy, _ = policy_of(raw)
    blocks = [peer["ipBlock"] for rule in policy["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer]
    assert blocks[0] == {"cidr": "fd00::a/128"}
    assert "198.51.100.0/24" in blocks[1]["except"] and blocks[1]["cidr"] == "0.0.0.0/0"
    assert blocks[2]["cidr"] == "::/0" and not any("ffff" in text for text in blocks[2]["except"])
    assert blocks[3] == {"cidr": "203.0.113.0/24"}
    assert "annotations" not in policy["metadata"]  # the audit takes allowances from its --config, never the input
    mapped, _ = policy_of({"hardening": {"networkPolicy": {"dns": {"nodeLocalIP": "::ffff:169.254.20.10"}}}})
    assert mapped["spec"]["egress"][1]["to"] == [{"ipBlock": {"cidr": "169.254.20.10/32"}}]


def test_node_local_ip_on_a_metadata_address_is_refused_at_its_field():
    [(path, message)] = np_problems({"dns": {"nodeLocalIP": "169.254.169.254"}})
    assert path == f"{NP}.dns.nodeLocalIP"
    assert message.startswith("169.254.169.254/32 holds 169.254.169.254 (AWS, GCP")
    assert np_problems({"dns": {"nodeLocalIP": "169.254.20.10"}}) == []


# Credential endpoints users hit (../shared/research/helm-and-peers.md), each with the default entry covering it.
CREDENTIAL_ENDPOINTS = {
    "169.254.169.254": "169.254.0.0/16",  # AWS, GCP (GKE's metadata server), Azure IMDS
    "169.254.169.252": "169.254.0.0/16",  # GKE metadata server on some setups
    "169.254.170.2": "169.254.0.0/16",  # ECS task credentials
    "169.254.170.23": "169.254.0.0/16",  # EKS Pod Identity
    "fd00:ec2::23": "fc00::/7",  # EKS Pod Identity over IPv6
    "fd00:ec2::254": "fc00::/7",  # AWS IMDS over IPv6
    "100.100.100.200": "100.64.0.0/10",  # Alibaba Cloud metadata, inside CGNAT
    "168.63.129.16": "168.63.129.16/32",  # Azure WireServer, a public address
}


def test_every_credential_endpoint_is_denied_by_default_and_reaches_the_rendered_except_lists():
    policy, _ = policy_of({"hardening": {"profile": "recommended"}})
    internet = [peer["ipBlock"] for peer in policy["spec"]["egress"][-1]["to"]]
    assert [block["cidr"] for block in internet] == ["0.0.0.0/0", "::/0"]
    for address, entry in CREDENTIAL_ENDPOINTS.items():
        ip = ipaddress.ip_address(address)
        covering = [text for text in DENIED_CIDRS if ip in ipaddress.ip_network(text)]
        assert covering == [entry], address
        assert entry in internet[0 if ip.version == 4 else 1]["except"], address
    # the positive control: a public address nobody lists is not denied
    assert not any(ipaddress.ip_address("8.8.8.8") in ipaddress.ip_network(text) for text in DENIED_CIDRS)
