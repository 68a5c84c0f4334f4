"""The attack corpus's network classes as mutations of a render, and the audit's verdict on a destination (an
error finding saying it is reachable), shared by the tests that hold the audit against a real engine: kube-router
on packets (runtime/test_netpol.py) and the reference engine's oracle (checkers/test_netpol_oracle.py).

The mapping "audit error <=> reachable": a destination is reachable by the audit's word when an error finding of
one of its reasons names it: EXD302 names each metadata address, EXD303 each private range (less the metadata
addresses), EXD305 the pods beyond the frontend's HTTP port, DNS and the registry (as a class).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from executor_dind.audit.rules.network_policy import METADATA_ADDRESSES, PRIVATE_RANGES
from runtime.harness import find
from runtime.netpol import pod_object

FRONTEND = {"url": "http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080"}
EXECUTOR_LABELS = {"matchLabels": {"app.kubernetes.io/name": "executor"}}
Reason = tuple[str, str]  # (rule, the text its message holds for this destination)
POD_REASON: Reason = ("EXD305", "")


def spec_of(profile: str) -> dict[str, Any]:
    """The ExecutorDind spec the corpus renders: executors in their own namespace, the frontend in sourcegraph."""
    return {"namespace": "executors", "frontend": FRONTEND, "hardening": {"profile": profile}}


def address_reasons(address: str) -> tuple[Reason, ...]:
    """The findings that say an address outside the pods is reachable: EXD302 naming it (a metadata address), or
    EXD303 naming each private range that holds it."""
    if address in METADATA_ADDRESSES:
        return (("EXD302", f"metadata service {address} "),)
    ip = ipaddress.ip_address(address)
    return tuple(("EXD303", f" range {cidr} ") for cidr in PRIVATE_RANGES if ip in ipaddress.ip_network(cidr))


def audit_says_open(objects: list[dict[str, Any]], targets: dict[str, tuple[Reason, ...]]) -> dict[str, bool]:
    """The audit of the same objects the engine reads (the render and the cluster's pods): per destination,
    whether an error finding of one of its reasons says it is reachable."""
    from executor_dind.audit import audit
    from executor_dind.krm.item import Item

    findings = [r for r in audit([Item.new(o) for o in objects]) if r.severity == "error"]
    return {
        target: any(r.rule == rule and named in r.message for r in findings for rule, named in reasons)
        for target, reasons in targets.items()
    }


def cluster_objects(pods: dict[str, Any]) -> list[dict[str, Any]]:
    """What the API server holds beside the render: the stand-in pods (not the executor and registry, which the
    render's templates stand for) and their namespaces with the label the API server sets."""
    names = sorted({pod.namespace for name, pod in pods.items() if name not in ("executor", "registry")})
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": {"kubernetes.io/metadata.name": n}}}
        for n in names
    ]
    return [*namespaces, *(pod_object(pod) for name, pod in pods.items() if name not in ("executor", "registry"))]


# --- NetworkPolicy mutations (every engine) -------------------------------------------------------------------


def extra_egress(name: str, rule: dict[str, Any], selector: dict[str, Any] | None = None) -> Any:
    def mutate(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        namespace = find(objects, "Deployment")["metadata"]["namespace"]
        pod_selector = selector if selector is not None else EXECUTOR_LABELS
        spec = {"podSelector": pod_selector, "policyTypes": ["Egress"], "egress": [rule]}
        policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": name, "namespace": namespace}, "spec": spec}  # fmt: skip
        return [*objects, policy]

    return mutate


def drop_excepts(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ipBlock gaps: the metadata and 10/8 excepts dropped from the render's own 0.0.0.0/0 rule."""
    for rule in find(objects, "NetworkPolicy", "executor-dind-executors")["spec"]["egress"]:
        for peer in rule.get("to", []):
            block = peer.get("ipBlock") or {}
            if "except" in block:
                block["except"] = [c for c in block["except"] if c not in ("169.254.0.0/16", "10.0.0.0/8")]
    return objects


# name -> (the audit corpus's class, mutation of a render)
CORPUS = {
    "allow-all-egress": ("allow-all", extra_egress("allow-all", {}, selector={})),
    "ipblock-gap": ("ipBlock gaps", drop_excepts),
    "named-port-other-namespace": (
        "named ports",
        extra_egress(
            "named",
            {
                "to": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}},
                        "podSelector": {"matchLabels": {"app": "other"}},
                    }
                ],
                "ports": [{"port": "http"}],
            },
        ),
    ),
    "named-port-on-ip-block": (
        "named ports",
        extra_egress(
            "named-block",
            {
                "to": [{"ipBlock": {"cidr": "169.254.0.0/16"}}, {"ipBlock": {"cidr": "10.0.0.0/8"}}],
                "ports": [{"port": "http"}],
            },
        ),
    ),
    "namespace-selector-everything": (
        "namespaceSelector: {}",
        extra_egress("all-namespaces", {"to": [{"namespaceSelector": {}}]}),
    ),
    "ipv4-mapped-metadata": (
        "IPv4-mapped",
        extra_egress("mapped", {"to": [{"ipBlock": {"cidr": "::ffff:169.254.169.254/128"}}]}),
    ),
    "controller-label-selector": (
        "controller-label selectors",
        extra_egress(
            "by-hash", {}, selector={"matchExpressions": [{"key": "pod-template-hash", "operator": "Exists"}]}
        ),
    ),
}


# --- AdminNetworkPolicy mutations (engines that enforce policy.networking.k8s.io/v1alpha1) ----------------------


def admin_policy(kind: str, name: str, priority: int | None, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """A cluster-scoped (Baseline)AdminNetworkPolicy whose subject is the executor pods, with these egress rules."""
    subject = {"pods": {"namespaceSelector": {}, "podSelector": EXECUTOR_LABELS}}
    spec = {"subject": subject, "egress": rules, **({"priority": priority} if priority is not None else {})}
    return {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def admin_rule(action: str, peers: list[dict[str, Any]], ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"name": action.lower(), "action": action, "to": peers, **({"ports": ports} if ports else {})}


def with_objects(*extra: Any) -> Any:
    """A mutation adding objects, each an object or a mutation of its own (for the NetworkPolicy ones above)."""

    def mutate(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for thing in extra:
            objects = thing(objects) if callable(thing) else [*objects, thing]
        return objects

    return mutate


ANP = "AdminNetworkPolicy"
METADATA_NETWORKS = {"networks": ["169.254.169.254/32", "fd00:ec2::254/128"]}
LINK_LOCAL = {"networks": ["169.254.0.0/16"]}
ADMIN_CORPUS = {
    "anp-allow-metadata": ("ANP Allow", with_objects(admin_policy(ANP, "allow-imds", 10, [
        admin_rule("Allow", [METADATA_NETWORKS])]))),
    "anp-allow-10-on-ssh": ("ANP Allow", with_objects(admin_policy(ANP, "allow-ssh", 10, [
        admin_rule("Allow", [{"networks": ["10.0.0.0/8"]}], [{"portNumber": {"protocol": "TCP", "port": 22}}])]))),
    "anp-allow-every-namespace": ("ANP Allow", with_objects(admin_policy(ANP, "allow-pods", 10, [
        admin_rule("Allow", [{"namespaces": {}}])]))),
    "anp-named-port-to-networks": ("ANP Allow", with_objects(admin_policy(ANP, "allow-named", 10, [
        admin_rule("Allow", [LINK_LOCAL, {"networks": ["10.0.0.0/8"]}], [{"namedPort": "http"}])]))),
    "anp-deny-under-allow-all": ("ANP Deny", with_objects(
        CORPUS["allow-all-egress"][1], admin_policy(ANP, "deny-imds", 10, [admin_rule("Deny", [METADATA_NETWORKS])]))),
    "anp-deny-before-allow": ("ANP Deny", with_objects(
        admin_policy(ANP, "deny-imds", 5, [admin_rule("Deny", [METADATA_NETWORKS])]),
        admin_policy(ANP, "allow-link-local", 10, [admin_rule("Allow", [LINK_LOCAL])]))),
    "anp-pass-before-allow": ("ANP Pass", with_objects(
        admin_policy(ANP, "pass-imds", 5, [admin_rule("Pass", [METADATA_NETWORKS])]),
        admin_policy(ANP, "allow-link-local", 10, [admin_rule("Allow", [LINK_LOCAL])]))),
    "banp-allow-everything": ("BANP", with_objects(admin_policy("BaselineAdminNetworkPolicy", "default", None, [
        admin_rule("Allow", [{"networks": ["0.0.0.0/0", "::/0"]}])]))),
}  # fmt: skip

# The reference engine (kube-network-policies v0.8.0): (mutation -> reason) where the audit says a destination is
# reachable and the engine opens no packet of it (the oracle test in make test, the runtime tier on packets).
STRICTER_THAN_REFERENCE = {
    "named-port-on-ip-block": "a named port toward ipBlock peers: the audit resolves the name on whichever pod owns "
    "the address (the worst case); the reference engine resolves it on the destination pod only, so no port of "
    "the metadata address (no pod) opens",
    "anp-named-port-to-networks": "an AdminNetworkPolicy namedPort toward networks: as above (the engine matches a "
    "namedPort only on a destination pod)",
    "anp-pass-before-allow": "AdminNetworkPolicy Pass at a higher priority than an Allow is not credited by the audit",
}
