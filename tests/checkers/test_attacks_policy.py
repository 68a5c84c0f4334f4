"""The attack corpus, policy-semantics half: peers whose selectors the output cannot resolve (read at their worst,
the finding naming the term), and AdminNetworkPolicy / BaselineAdminNetworkPolicy with their precedence. Each
mutation of a clean render fails the audit with exactly the expected error rules and names what opens the hole;
each reading has a control that passes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from checkers.test_attacks import Objects, add, assert_attack_fails, egress_policy, errors, items_of, policy

Case = tuple[str, Callable[[Objects], Objects], set[str], str]
EXECUTOR_SELECTOR = {"matchLabels": {"app.kubernetes.io/name": "executor"}}
NAME = "kubernetes.io/metadata.name"
DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
KUBE_DNS = {"matchLabels": {"k8s-app": "kube-dns"}}


def ingress_policy(name: str, namespace: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return policy(
        name, namespace, {"podSelector": EXECUTOR_SELECTOR, "policyTypes": ["Ingress"], "ingress": list(rules)}
    )


def prometheus_from(namespace_labels: dict[str, str]) -> Callable[[str], dict[str, Any]]:
    """An extra ingress policy over the executor pods: Prometheus pods of the namespaces so labelled, to metrics."""
    peer = {
        "namespaceSelector": {"matchLabels": namespace_labels},
        "podSelector": {"matchLabels": {"app": "prometheus"}},
    }
    return lambda ns: ingress_policy("extra", ns, {"from": [peer], "ports": [{"port": 6060}]})


def to(peer: dict[str, Any], ports: list[dict[str, Any]] | None = None) -> Callable[[str], dict[str, Any]]:
    """An extra egress policy over the executor pods with one rule to this peer."""
    rule: dict[str, Any] = {"to": [peer]}
    if ports is not None:
        rule["ports"] = ports
    return lambda ns: egress_policy("extra", ns, rule)


ADMIN_API = "policy.networking.k8s.io/v1alpha1"
EVERY_NAMESPACE = {"namespaces": {}}
METADATA = {"networks": ["169.254.169.254/32"]}
PRIVATE_10 = {"networks": ["10.0.0.0/8"]}
EVERYTHING = [{"networks": ["0.0.0.0/0", "::/0"]}, {"namespaces": {}}]


def anp(name: str, priority: int, *egress: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    """An AdminNetworkPolicy over every namespace's pods (cluster-scoped: no namespace)."""
    spec = {"priority": priority, "subject": EVERY_NAMESPACE, "egress": list(egress)}
    return lambda _ns: {"apiVersion": ADMIN_API, "kind": "AdminNetworkPolicy", "metadata": {"name": name}, "spec": spec}


def banp(*egress: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    """The BaselineAdminNetworkPolicy (its one allowed name: default) over every namespace's pods."""
    spec = {"subject": EVERY_NAMESPACE, "egress": list(egress)}
    kind = "BaselineAdminNetworkPolicy"
    return lambda _ns: {"apiVersion": ADMIN_API, "kind": kind, "metadata": {"name": "default"}, "spec": spec}


def rule(action: str, *peers: dict[str, Any], ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": action.lower(), "action": action, "to": list(peers)}
    if ports is not None:
        out["ports"] = ports
    return out


def private_allowed(ns: str) -> dict[str, Any]:
    """A NetworkPolicy that opens 10.0.0.0/8 to the executors (EXD303 unless something denies it first)."""
    return egress_policy("to-vpc", ns, {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]})


# class -> name -> (profile, mutation, the exact set of error rules, a text some error finding must contain)
CORPUS: dict[str, dict[str, Case]] = {
    "unresolved-selectors": {
        "namespace-selector-on-a-label-no-namespace-carries": (
            "recommended",
            add(to({"namespaceSelector": {"matchLabels": {"team": "x"}}})),
            {"EXD305"},
            "any pod in any other namespace (every port), any other pod in namespace kube-system (every port), any "
            "other pod in namespace sourcegraph (every port), Deployment/sourcegraph/blobstore (every port), "
            "Deployment/sourcegraph/precise-code-intel-worker (every port) and 15 more: allowed by NetworkPolicy "
            "extra (egress[0]) (namespaceSelector team=x: no namespace in the input carries it; read as matching any "
            "namespace whose labels the input does not define)",
        ),
        "dns-pods-in-namespaces-selected-by-a-label-no-namespace-carries": (
            "strict",
            add(to({"namespaceSelector": {"matchLabels": {"role": "dns"}}, "podSelector": KUBE_DNS}, DNS_PORTS)),
            {"EXD305"},
            "a pod the input does not show in any other namespace (podSelector k8s-app=kube-dns: no pod the input "
            "shows there carries it; read as matching) (TCP 53, UDP 53)",
        ),
        "namespace-selector-expression-on-a-label-no-namespace-carries": (
            "strict-plain-containers",
            add(to({"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["ci"]}]}})),
            {"EXD305"},
            "allowed by NetworkPolicy extra (egress[0]) (namespaceSelector env=ci: no namespace in the input carries "
            "it; read as matching any namespace whose labels the input does not define)",
        ),
        "namespace-named-outside-the-render": (
            "recommended-plain-containers",
            add(to({"namespaceSelector": {"matchLabels": {NAME: "monitoring"}}})),
            {"EXD305"},
            "any other pod in namespace monitoring (every port): allowed by NetworkPolicy extra (egress[0])",
        ),
        "pod-selector-on-a-label-no-pod-carries": (
            "recommended",
            add(to({"podSelector": {"matchLabels": {"app": "pgsql-replica"}}}, [{"port": 5432}])),
            {"EXD305"},
            "a pod the input does not show in namespace sourcegraph (podSelector app=pgsql-replica: no pod the input "
            "shows there carries it; read as matching) (TCP 5432): allowed by NetworkPolicy extra (egress[0])",
        ),
        "ingress-from-a-namespace-no-namespace-carries-the-label-of": (
            "strict",
            add(prometheus_from({"team": "observability"})),
            {"EXD306"},
            "can connect: allowed by NetworkPolicy extra (ingress[0]) (namespaceSelector team=observability: no "
            "namespace in the input carries it; read as matching any namespace whose labels the input does not "
            "define)",
        ),
    },
    "admin-precedence": {
        "pass-then-a-permissive-network-policy": (
            "recommended",
            add(
                private_allowed,
                anp("pass-vpc", 5, rule("Pass", PRIVATE_10)),
                anp("deny-vpc", 10, rule("Deny", PRIVATE_10)),
            ),
            {"EXD303"},
            "the private range 10.0.0.0/8 (10.0.0.0/8 on every port): allowed by NetworkPolicy to-vpc (egress[0])",
        ),
        "allow-at-a-higher-priority-than-the-deny": (
            "strict",
            add(anp("imds", 5, rule("Allow", METADATA)), anp("deny-all", 10, rule("Deny", *EVERYTHING))),
            {"EXD302"},  # the Deny of every pod is credited: jobs no longer reach the registry (no EXD309)
            "the cloud metadata service 169.254.169.254 (AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack instance "
            "metadata) on every port: allowed by AdminNetworkPolicy imds (egress[0])",
        ),
        "allow-at-the-same-priority-as-the-deny": (
            "recommended-plain-containers",
            add(anp("deny-all", 10, rule("Deny", *EVERYTHING)), anp("imds", 10, rule("Allow", METADATA))),
            {"EXD302"},
            "allowed by AdminNetworkPolicy imds (egress[0])",
        ),
        "deny-on-a-named-port-is-not-credited": (
            "strict-plain-containers",
            add(private_allowed, anp("deny-ssh", 10, rule("Deny", PRIVATE_10, ports=[{"namedPort": "ssh"}]))),
            {"EXD303"},
            "allowed by NetworkPolicy to-vpc (egress[0])",
        ),
        "baseline-allow-where-no-network-policy-selects": (
            "baseline",
            add(banp(rule("Allow", METADATA), rule("Deny", *EVERYTHING))),
            {"EXD302"},
            "169.254.169.254 (AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack instance metadata) on every port: "
            "allowed by BaselineAdminNetworkPolicy default (egress[0])",
        ),
        "baseline-without-a-deny-allows-by-default": (
            "baseline",
            add(banp(rule("Deny", METADATA))),
            {"EXD302", "EXD303", "EXD305"},  # 169.254.169.254 denied; GKE's 169.254.169.252 and the rest are not
            "allowed by BaselineAdminNetworkPolicy default (no rule matches: allowed by default)",
        ),
        "admin-priority-the-api-server-refuses": (
            "strict",
            add(private_allowed, anp("deny-vpc", 1001, rule("Deny", PRIVATE_10))),
            {"EXD303", "EXD307"},
            "AdminNetworkPolicy deny-vpc: spec.priority 1001 is not a priority from 0 to 1000",
        ),
        "baseline-pass-is-no-baseline-action": (
            "baseline",
            add(banp(rule("Pass", METADATA), rule("Deny", *EVERYTHING))),
            {"EXD302", "EXD307"},
            "BaselineAdminNetworkPolicy default: spec.egress[0].action 'Pass' is not Allow or Deny",
        ),
        "baseline-deny-under-a-network-policy-that-selects": (
            "recommended",
            add(private_allowed, banp(rule("Deny", *EVERYTHING))),
            {"EXD303"},
            "allowed by NetworkPolicy to-vpc (egress[0])",
        ),
    },
}

CASES = {f"{group}/{name}": case for group, cases in CORPUS.items() for name, case in cases.items()}


@pytest.mark.parametrize("case", CASES)
def test_attack_fails_the_audit(renders, case):
    assert_attack_fails(renders, CASES[case])


# The same peers where the output resolves them: they pass.
CLEAN: dict[str, tuple[str, Callable[[Objects], Objects]]] = {
    "dns-pods-in-the-namespace-named-by-its-name-label": (
        "strict",
        add(to({"namespaceSelector": {"matchLabels": {NAME: "kube-system"}}, "podSelector": KUBE_DNS}, DNS_PORTS)),
    ),
    "frontend-pods-the-output-shows": (
        "recommended",
        add(to({"podSelector": {"matchLabels": {"app": "sourcegraph-frontend"}}}, [{"port": "http"}])),
    ),
    "prometheus-from-the-namespace-named-by-its-name-label": (
        "strict",
        add(prometheus_from({NAME: "sourcegraph"})),
    ),
}


CLEAN.update(
    {
        "admin-deny-blocks-what-a-network-policy-allows": (
            "recommended",
            add(private_allowed, anp("deny-vpc", 10, rule("Deny", PRIVATE_10))),
        ),
        "admin-deny-at-a-higher-priority-than-the-allow": (
            "strict",
            add(anp("deny-imds", 5, rule("Deny", METADATA)), anp("imds", 10, rule("Allow", METADATA))),
        ),
        "admin-deny-before-the-allow-in-one-policy": (
            "strict-plain-containers",
            add(anp("imds", 10, rule("Deny", METADATA), rule("Allow", METADATA))),
        ),
        "baseline-deny-everything-where-no-network-policy-selects": ("baseline", add(banp(rule("Deny", *EVERYTHING)))),
    }
)


@pytest.mark.parametrize("case", CLEAN)
def test_the_same_peers_pass_where_the_output_resolves_them(renders, case):
    profile, mutate = CLEAN[case]
    assert errors(items_of(mutate(copy.deepcopy(renders[profile].objects)))) == (set(), [])


def test_every_class_has_several_mutations_over_several_profiles():
    sizes = {group: len(cases) for group, cases in CORPUS.items()}
    assert sizes == {"unresolved-selectors": 6, "admin-precedence": 9}
    for cases in CORPUS.values():
        assert len({profile for profile, *_ in cases.values()}) >= 4
