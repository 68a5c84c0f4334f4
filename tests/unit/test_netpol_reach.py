"""audit/reach: the set algebra and the NetworkPolicy semantics the network rules are computed from."""

from __future__ import annotations

from typing import Any

import pytest

from executor_dind.audit import reach
from executor_dind.krm.read import read_stream

# What the loader makes of a port written with 5,000 digits.
HUGE = read_stream("a: " + "9" * 5000 + "\n")[0].obj["a"]


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
    ("block", "covered"),
    [
        # An engine may read an unreadable cidr as allow-all (the SIG reference engine does): every address.
        ({"cidr": "nonsense"}, ["0.0.0.0/0", "::/0"]),
        ({"cidr": "010.0.0.0/8"}, ["0.0.0.0/0", "::/0"]),
        # An unreadable except entry excepts nothing.
        ({"cidr": "10.0.0.0/8", "except": ["x"]}, ["10.0.0.0/8"]),
        (
            {"cidr": "10.0.0.0/8", "except": ["10.01.0.0/16", "10.2.0.0/16"]},
            [
                *("10.0.0.0/15", "10.3.0.0/16", "10.4.0.0/14", "10.8.0.0/13"),
                *("10.16.0.0/12", "10.32.0.0/11", "10.64.0.0/10", "10.128.0.0/9"),
            ],
        ),
        ({"cidr": "10.0.0.0/8", "except": 5}, ["10.0.0.0/8"]),
        (7, []),
    ],
)
def test_an_unreadable_ip_block_counts_at_its_worst(block, covered):
    assert cidrs(reach.block_networks(block)) == covered


def test_an_ipv4_mapped_block_is_its_ipv4_block():
    assert cidrs(reach.block_networks({"cidr": "::ffff:169.254.0.0/112"})) == ["169.254.0.0/16"]
    everything_but_ten = {"cidr": "::ffff:0:0/96", "except": ["::ffff:10.0.0.0/104"]}
    assert cidrs(reach.block_networks(everything_but_ten)) == [
        "0.0.0.0/5",
        "8.0.0.0/7",
        "11.0.0.0/8",
        "12.0.0.0/6",
        "16.0.0.0/4",
        "32.0.0.0/3",
        "64.0.0.0/2",
        "128.0.0.0/1",
    ]


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
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["y", "x"]}]}, False),
        ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]}, True),  # absent: not in
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["y", "x"]}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}, False),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
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
    # A name matches the pod's port of that name and protocol only.
    udp = reach.Grant("p", "egress[0]", None, [{"port": "dns", "protocol": "UDP"}])
    assert reach.grant_ports(udp, pod).describe() == "UDP 53"
    # Toward an address, the name is resolved on whichever pod owns it: every port of that name in the output,
    # or, when no pod in the output names a port so, any port.
    names = reach.named_ports([pod, reach.Pod("db", {}, "pgsql", (("dns", 5353, "UDP"), ("pgsql", 5432, "TCP")))])
    assert names == {("TCP", "http"): (3080,), ("UDP", "dns"): (53, 5353), ("TCP", "pgsql"): (5432,)}
    assert reach.grant_ports(udp, None, names).describe() == "UDP 53, UDP 5353"
    assert reach.grant_ports(udp, None, {}).describe() == "UDP 1-65535"
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
    # Namespace a's labels are defined (it carries team=x); any other namespace may carry team=x too.
    team = reach.Grant("p", "egress[0]", {"namespaceSelector": {"matchLabels": {"team": "x"}}}, None)
    assert [(p.name, p.note) for p in reach.grant_pods(team, "b", known)] == [
        ("db", ""),
        (
            "any pod in any other namespace",
            "namespaceSelector team=x: a namespace the input does not define may carry it too; read as matching any "
            "namespace whose labels the input does not define",
        ),
        ("any other pod in namespace a", ""),
    ]


NOBODY_CARRIES = (
    "namespaceSelector team=y: no namespace in the input carries it; read as matching any namespace whose labels "
    "the input does not define"
)


def test_a_namespace_selector_on_labels_nothing_defines_matches_every_namespace_the_output_does_not_define():
    # a: a Namespace object with its labels; b: only named by a pod (its labels are not in the output).
    known = reach.world({"a": {"team": "x"}}, [reach.Pod("a", {"app": "db"}, "db"), reach.Pod("b", {}, "web")])
    team_y = reach.Grant("p", "egress[0]", {"namespaceSelector": {"matchLabels": {"team": "y"}}}, None)
    assert [(p.name, p.note) for p in reach.grant_pods(team_y, "a", known)] == [
        ("web", NOBODY_CARRIES),
        ("any pod in any other namespace", NOBODY_CARRIES),
        ("any other pod in namespace b", NOBODY_CARRIES),
    ]
    # Control: where the output defines the labels they are read exactly (a carries team=x, and no team=y).
    team_x = reach.Grant("p", "egress[0]", {"namespaceSelector": {"matchLabels": {"team": "x"}}}, None)
    assert [p.name for p in reach.grant_pods(team_x, "a", known) if not p.note] == [
        "db",
        "any other pod in namespace a",
    ]


def test_the_namespace_name_label_is_resolved_and_a_name_outside_the_output_is_another_namespace():
    known = reach.world({"a": {}}, [reach.Pod("a", {"app": "db"}, "db")], named=["monitoring"])

    def named(operator: str, *values: str) -> list[str]:
        expression = {"key": "kubernetes.io/metadata.name", "operator": operator, "values": list(values)}
        grant = reach.Grant("p", "egress[0]", {"namespaceSelector": {"matchExpressions": [expression]}}, None)
        return [p.name + p.note for p in reach.grant_pods(grant, "a", known)]

    assert named("In", "a") == ["db", "any other pod in namespace a"]
    # monitoring is named (by a policy) but not shown: its pods exist in the cluster, unseen.
    assert named("In", "monitoring") == ["any other pod in namespace monitoring"]
    # A name nothing in the output names is some other namespace.
    assert named("In", "tenant") == ["any pod in any other namespace"]
    assert named("NotIn", "a", "monitoring") == ["any pod in any other namespace"]
    assert named("DoesNotExist") == []


def test_a_pod_selector_nothing_shown_carries_matches_a_pod_the_output_does_not_show():
    known = reach.world({"a": {}}, [reach.Pod("a", {"app": "db"}, "db")])
    pgsql = reach.Grant("p", "egress[0]", {"podSelector": {"matchLabels": {"app": "pgsql"}}}, None)
    [assumed] = reach.grant_pods(pgsql, "a", known)
    assert assumed.name == (
        "a pod the input does not show in namespace a (podSelector app=pgsql: no pod the input shows there carries "
        "it; read as matching)"
    )
    assert (assumed.namespace, dict(assumed.labels), assumed.witness) == ("a", {"app": "pgsql"}, True)
    # Control: a selector a shown pod meets resolves to it alone.
    db = reach.Grant("p", "egress[0]", {"podSelector": {"matchLabels": {"app": "db"}}}, None)
    assert [p.name for p in reach.grant_pods(db, "a", known)] == ["db"]


def test_address_holes_leave_out_what_is_allowed_on_its_ports():
    dns_anywhere = reach.Grant(
        "p", "egress[0]", {"ipBlock": {"cidr": "169.254.20.10/32"}}, [{"port": 53, "protocol": "UDP"}]
    )
    allowed = [(reach.ipset("169.254.20.10/32"), reach.ports_of(("UDP", 53), ("TCP", 53)))]
    assert reach.address_holes([dns_anywhere], reach.ipset("169.254.0.0/16"), allowed) == []
    wider = dns_anywhere._replace(ports=None)
    [hole] = reach.address_holes([wider], reach.ipset("169.254.0.0/16"), allowed)
    assert cidrs(hole.addresses) == ["169.254.20.10/32"]


@pytest.mark.parametrize(
    ("port", "ranges"),
    [
        ("\u2075\u2074\u2073\u2072", {"TCP": ((1, 65535),)}),  # superscript digits: no number, no name
        ("5432", {"TCP": ((1, 65535),)}),  # a numeric string: the API server rejects it as a name
        (HUGE, {"TCP": ((1, 65535),)}),
        (10**5000, {"TCP": ((1, 65535),)}),
        (True, {"TCP": ((1, 65535),)}),
        (5432, {"TCP": ((5432, 5432),)}),
    ],
    ids=["superscript", "numeric-string", "five-thousand-digits", "ten-to-the-5000", "bool", "number"],
)
def test_a_port_no_reader_agrees_on_is_every_port(port, ranges):
    grant = reach.Grant("p", "egress[0]", None, [{"port": port}])
    assert reach.grant_ports(grant, None).ranges == ranges


NOT_A_PORT = "is neither a port number from 1 to 65535 nor a port name (1-15 of a-z, 0-9 and '-', with a letter)"


def test_policy_problems_name_the_field():
    policy = {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "egress": [
                {
                    "to": [
                        {"ipBlock": {"cidr": "010.0.0.0/8"}},
                        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254", "10.0.0.0/8"]}},
                        {"ipBlock": {"cidr": "::ffff:10.0.0.0/104", "except": ["10.1.0.0/16"]}},
                    ],
                    "ports": [{"port": "\u2075\u2074"}, {"port": HUGE}, {"port": 80, "endPort": 79}],
                }
            ],
            "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/16"}}], "ports": [{"protocol": "ICMP"}]}],
        },
    }
    assert reach.policy_problems(policy) == [
        (
            "spec.egress[0].ports[0].port",
            "'\u2075\u2074' " + NOT_A_PORT,
        ),
        (
            "spec.egress[0].ports[1].port",
            "an integer of 5000 digits " + NOT_A_PORT,
        ),
        ("spec.egress[0].ports[2].endPort", "79 is not a port number from the rule's numeric port to 65535"),
        (
            "spec.egress[0].to[0].ipBlock.cidr",
            "'010.0.0.0/8' has an IPv4 octet with a leading zero: the API server reads it as decimal, Go's net package "
            "(used by the policy engines) refuses it; write it without leading zeros",
        ),
        (
            "spec.egress[0].to[1].ipBlock.except[0]",
            "'169.254.169.254' is not a CIDR: an address, '/', and a prefix length (e.g. 10.0.0.0/8 or fd00::/8)",
        ),
        (
            "spec.egress[0].to[2].ipBlock.except[0]",
            "'10.1.0.0/16' must be a strict subset of the block's cidr '::ffff:10.0.0.0/104' "
            "(the API server rejects it)",
        ),
        ("spec.ingress[0].ports[0].protocol", "'ICMP' is not TCP, UDP or SCTP"),
    ]
    # Positive control: the same shapes written as every reader reads them have no problem.
    clean = {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "egress": [
                {
                    "to": [
                        {"ipBlock": {"cidr": "10.0.0.0/8"}},
                        {"ipBlock": {"cidr": "::ffff:10.0.0.0/104", "except": ["::ffff:10.1.0.0/112"]}},
                    ],
                    "ports": [{"port": "pgsql"}, {"port": 5432}, {"port": 80, "endPort": 81, "protocol": "SCTP"}],
                }
            ],
        },
    }
    assert reach.policy_problems(clean) == []


def test_a_term_on_a_label_the_controllers_add_is_met_at_worst():
    labels = {"app": "executor"}
    by_hash = {"matchLabels": {"app": "executor", "pod-template-hash": "5d8f"}}
    assert not reach.selector_matches(by_hash, labels)
    assert reach.selector_matches(by_hash, labels, worst=True)
    for key in ("controller-revision-hash", "batch.kubernetes.io/job-name", "apps.kubernetes.io/pod-index"):
        absent = {"matchExpressions": [{"key": key, "operator": "DoesNotExist"}, {"key": key, "operator": "Exists"}]}
        assert reach.selector_matches(absent, labels, worst=True), key
    # Positive control: other keys the template lacks stay unmet, and a held label is read as it is.
    assert not reach.selector_matches({"matchLabels": {"tier": "db"}}, labels, worst=True)
    held = {"app": "executor", "pod-template-hash": "aaaa"}
    assert not reach.selector_matches(by_hash, held, worst=True)
    assert reach.controller_labels_in(by_hash) == ["pod-template-hash"]


# --- AdminNetworkPolicy and BaselineAdminNetworkPolicy precedence ------------------------------------------------

TEN = {"networks": ["10.0.0.0/8"]}


def admin(name: str, priority: Any, *egress: dict[str, Any], kind: str = "AdminNetworkPolicy") -> dict[str, Any]:
    spec = {"priority": priority, "subject": {"namespaces": {}}, "egress": list(egress)}
    return {"kind": kind, "metadata": {"name": name}, "spec": spec}


def act(action: str, *peers: dict[str, Any], ports: Any = None) -> dict[str, Any]:
    return {"action": action, "to": list(peers), **({"ports": ports} if ports is not None else {})}


def private_reached(grants: list[reach.Grant]) -> list[str]:
    return [cidrs(hole.addresses)[0] for hole in reach.address_holes(grants, reach.ipset("10.0.0.0/8"))]


NP_TEN = [reach.Grant("to-vpc", "egress[0]", {"ipBlock": {"cidr": "10.0.0.0/8"}}, None)]


def test_precedence_is_priority_then_rule_order_and_ties_have_none():
    [deny_5] = reach.admin_rules(admin("a", 5, act("Deny", TEN)), "Egress")
    [allow_10] = reach.admin_rules(admin("b", 10, act("Allow", TEN)), "Egress")
    [allow_5] = reach.admin_rules(admin("c", 5, act("Allow", TEN)), "Egress")
    first, then = reach.admin_rules(admin("d", 50, act("Deny", TEN), act("Allow", TEN)), "Egress")
    assert reach.precedes(deny_5, allow_10) and not reach.precedes(allow_10, deny_5)
    assert not reach.precedes(deny_5, allow_5) and not reach.precedes(allow_5, deny_5)  # same priority: undefined
    assert reach.precedes(first, then) and not reach.precedes(then, first)
    [unreadable] = reach.admin_rules(admin("e", "high", act("Deny", TEN)), "Egress")
    assert not reach.precedes(unreadable, allow_10) and not reach.precedes(deny_5, unreadable)


def test_a_deny_is_credited_against_the_network_policies_unless_a_pass_may_precede_it():
    deny = (admin("deny", 10, act("Deny", TEN)), True)
    grants, restricted = reach.weigh([deny], [], NP_TEN, True, "Egress")
    assert (private_reached(grants), restricted) == ([], True)
    # Control: without the Deny the NetworkPolicy reaches 10.0.0.0/8.
    assert private_reached(reach.weigh([], [], NP_TEN, True, "Egress")[0]) == ["10.0.0.0/8"]
    passing = (admin("pass", 5, act("Pass", TEN)), True)
    assert private_reached(reach.weigh([passing, deny], [], NP_TEN, True, "Egress")[0]) == ["10.0.0.0/8"]
    # A subject the audit cannot be sure of, or a named port: not credited.
    assert private_reached(reach.weigh([(deny[0], False)], [], NP_TEN, True, "Egress")[0]) == ["10.0.0.0/8"]
    named = (admin("deny", 10, act("Deny", TEN, ports=[{"namedPort": "ssh"}])), True)
    assert private_reached(reach.weigh([named], [], NP_TEN, True, "Egress")[0]) == ["10.0.0.0/8"]


def test_an_allow_counts_unless_a_deny_surely_precedes_it():
    allow = (admin("open", 10, act("Allow", TEN)), True)
    assert private_reached(reach.weigh([allow], [], [], True, "Egress")[0]) == ["10.0.0.0/8"]
    earlier = (admin("deny", 5, act("Deny", TEN)), True)
    assert private_reached(reach.weigh([earlier, allow], [], [], True, "Egress")[0]) == []
    tied = (admin("deny", 10, act("Deny", TEN)), True)
    assert private_reached(reach.weigh([tied, allow], [], [], True, "Egress")[0]) == ["10.0.0.0/8"]


def test_the_baseline_governs_only_where_no_network_policy_selects():
    baseline = [(admin("default", None, act("Deny", TEN), kind="BaselineAdminNetworkPolicy"), True)]
    grants, restricted = reach.weigh([], baseline, [], False, "Egress")
    assert restricted and [g.rule for g in grants] == ["no rule matches: allowed by default"]
    assert private_reached(grants) == []  # its Deny is credited against "allowed by default"
    assert reach.address_holes(grants, reach.ipset("192.168.0.0/16"))  # everything else is allowed
    # Where a NetworkPolicy selects the pod, the baseline does not apply: the NetworkPolicy's grant stands.
    assert private_reached(reach.weigh([], baseline, NP_TEN, True, "Egress")[0]) == ["10.0.0.0/8"]
    # A baseline without rules in the direction restricts nothing.
    assert reach.weigh([], baseline, [], False, "Ingress") == ([], False)
