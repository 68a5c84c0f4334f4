"""audit/reach: the set algebra and the NetworkPolicy semantics the network rules are computed from."""

from __future__ import annotations

import pytest

from executor_dind.audit import reach


def cidrs(addresses: reach.IPSet) -> list[str]:
    return [str(n) for n in addresses.networks()]


def test_an_ip_block_is_its_cidr_minus_its_excepts():
    block = {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.2.0.0/15"]}
    assert cidrs(reach.block_networks(block)) == [
        "10.0.0.0/16",
        "10.4.0.0/14",
        "10.8.0.0/13",
        "10.16.0.0/12",
        "10.32.0.0/11",
        "10.64.0.0/10",
        "10.128.0.0/9",
    ]


@pytest.mark.parametrize(
    "block", [{"cidr": "nonsense"}, {"cidr": "10.0.0.0/8", "except": ["x"]}, {"cidr": "10.0.0.0/8", "except": 5}, 7]
)
def test_a_malformed_ip_block_covers_nothing(block):
    assert not reach.block_networks(block)


def test_ip_versions_never_mix():
    everything = reach.ipset("0.0.0.0/0")
    assert not everything & reach.ipset("fd00::/8")
    assert cidrs(reach.EVERYWHERE - everything) == ["::/0"]


def test_union_intersection_and_difference():
    a = reach.ipset("10.0.0.0/24", "10.0.1.0/24")
    assert cidrs(a) == ["10.0.0.0/23"]
    assert cidrs(a & reach.ipset("10.0.1.128/25", "192.168.0.0/16")) == ["10.0.1.128/25"]
    assert cidrs(a - reach.ipset("10.0.0.0/24")) == ["10.0.1.0/24"]
    assert cidrs(a | reach.ipset("10.0.2.0/23")) == ["10.0.0.0/22"]


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        (None, True),
        ({}, True),
        ({"matchLabels": {"app": "x"}}, True),
        ({"matchLabels": {"app": "y"}}, False),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["y"]}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "Sometimes"}]}, False),
        ({"matchExpressions": ["garbage"]}, False),
        ({"matchLabels": "garbage"}, False),
        ("garbage", False),
    ],
)
def test_selector_semantics(selector, matches):
    assert reach.selector_matches(selector, {"app": "x"}) is matches


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        ({"egress": [{}]}, ("Ingress", "Egress")),
        ({"egress": []}, ("Ingress",)),
        ({}, ("Ingress",)),
        ({"policyTypes": ["Egress"], "ingress": [{}]}, ("Egress",)),
    ],
)
def test_policy_types_default_as_the_api_server_does(spec, types):
    assert reach.policy_types(spec) == types


def test_ports_numbers_ranges_and_names():
    pod = reach.Pod("ns", {}, "p", (("http", 3080, "TCP"), ("dns", 53, "UDP")))
    grant = reach.Grant("p", "egress[0]", None, [{"port": "http"}, {"port": 8000, "endPort": 8010}, {"port": "dns"}])
    assert reach.grant_ports(grant, pod).describe() == "TCP 3080, TCP 8000-8010"
    # A name matches the pod's port of that name and protocol only; an address has no names.
    udp = reach.Grant("p", "egress[0]", None, [{"port": "dns", "protocol": "UDP"}])
    assert reach.grant_ports(udp, pod).describe() == "UDP 53"
    assert not reach.grant_ports(udp, None)
    assert reach.grant_ports(reach.Grant("p", "egress[0]", None, None), None).describe() == "every port"


def test_witnesses_stand_for_pods_the_output_does_not_show():
    known = reach.world({"a": {"team": "x"}}, [reach.Pod("a", {"app": "db"}, "db")])
    every_namespace = reach.Grant("p", "egress[0]", {"namespaceSelector": {}}, None)
    assert [p.name for p in reach.grant_pods(every_namespace, "a", known)] == [
        "db",
        "any pod in any other namespace",
        "any other pod in namespace a",
    ]
    exact = reach.Grant("p", "egress[0]", {"podSelector": {"matchLabels": {"app": "db"}}}, None)
    assert [p.name for p in reach.grant_pods(exact, "a", known)] == ["db"]
    team = reach.Grant("p", "egress[0]", {"namespaceSelector": {"matchLabels": {"team": "x"}}}, None)
    assert [p.name for p in reach.grant_pods(team, "b", known)] == ["db", "any other pod in namespace a"]


def test_address_holes_leave_out_what_is_allowed_on_its_ports():
    dns_anywhere = reach.Grant(
        "p", "egress[0]", {"ipBlock": {"cidr": "169.254.20.10/32"}}, [{"port": 53, "protocol": "UDP"}]
    )
    allowed = [(reach.ipset("169.254.20.10/32"), reach.ports_of(("UDP", 53), ("TCP", 53)))]
    assert reach.address_holes([dns_anywhere], reach.ipset("169.254.0.0/16"), allowed) == []
    wider = dns_anywhere._replace(ports=None)
    [hole] = reach.address_holes([wider], reach.ipset("169.254.0.0/16"), allowed)
    assert cidrs(hole.addresses) == ["169.254.20.10/32"]
