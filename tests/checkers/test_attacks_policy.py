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


@pytest.mark.parametrize("case", CLEAN)
def test_the_same_peers_pass_where_the_output_resolves_them(renders, case):
    profile, mutate = CLEAN[case]
    assert errors(items_of(mutate(copy.deepcopy(renders[profile].objects)))) == (set(), [])
