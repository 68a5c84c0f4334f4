"""Network policy: executors reach DNS, the frontend, the registry and the internet, nothing private
(docs/hardening.md).

Executor pods get one NetworkPolicy with both policy types. Ingress: only Prometheus on the metrics port.
Egress: the cluster DNS pods (a ports-only DNS rule would open port 53 on every private address), the frontend
pods on their HTTP *pod* port (policies see traffic after the Service's DNAT), the private registry's pods, and
`0.0.0.0/0` / `::/0` except the denied ranges (private, link-local incl. 169.254.169.254, CGNAT, loopback,
multicast, IPv6 ULA and link-local), plus `allowedCIDRs` for the user's own code hosts. Job containers run in
dind's network namespace and leave NATed to the pod address, so the pod's policy covers them too. A second
policy admits only executor pods to the private registry's port, and lets the registry reach only DNS and its
upstream (the same internet rule): jobs reach the registry, so its egress is theirs one hop away.

The audit computes, as address sets and pods with ports, what the union of every NetworkPolicy that selects a
pod allows (audit/reach/). What the render allows beyond the defaults (allowedCIDRs, the DNS pods) the audit
learns from the auditor's config (audit/allowances.py), never from the render: nothing here declares it.
"""

from __future__ import annotations

from executor_dind.hardening.common import Applied, Control
from executor_dind.naming import (
    EXECUTOR_POD_SELECTOR,
    METRICS_PORT,
    PROMETHEUS_POD_LABELS,
    REGISTRY_POD_SELECTOR,
    REGISTRY_PORT,
    object_metadata,
)
from executor_dind.settings import DENIED_CIDRS, NetworkPolicy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind import cidr
    from executor_dind.discovery import Context
    from executor_dind.spec import Spec

POLICY_NAME = "executor-dind-executors"
REGISTRY_POLICY_NAME = "executor-dind-registry"


def node_local_block(address: str) -> cidr.Network:
    """The NodeLocal DNSCache address as the one-address block of its family (an IPv4-mapped address is IPv4)."""
    from executor_dind import cidr

    return cidr.network(f"{address}/{128 if ':' in address else 32}")


def _uncovered(block: cidr.Network, by: list[cidr.Network]) -> list[cidr.Network]:
    """The parts of block that none of the networks in by contains."""
    parts = [block]
    for net in by:
        if net.version != block.version:
            continue
        rest = []
        for part in parts:
            if part.subnet_of(net):  # type: ignore[arg-type]
                continue
            rest.extend(part.address_exclude(net) if net.subnet_of(part) else [part])  # type: ignore[arg-type]
        parts = rest
    return parts


def _blocks(texts: tuple[str, ...], field: str, problems: list[tuple[str, str]]) -> list[tuple[str, cidr.Network]]:
    """(field path, network) of each readable entry; each unreadable one a problem at its own index."""
    from executor_dind import cidr

    found = []
    for index, text in enumerate(texts):
        where = f"{field}[{index}]"
        try:
            found.append((where, cidr.network(text)))
        except cidr.CidrError as error:
            problems.append((where, f"{text!r} {error}"))
    return found


def validate(spec: Spec, path: str) -> list[tuple[str, str]]:
    """Every CIDR read as the API server and the engines read it; with the control on, a config whose policy the
    self-audit would reject (a metadata address or a private range reachable) is refused at its own field."""
    conf = spec.hardening.network_policy
    if conf.denied_cidrs == DENIED_CIDRS and not conf.allowed_cidrs and not conf.dns.node_local_ip:
        return []  # the defaults, as the tests show: every metadata address and private range denied
    import ipaddress

    from executor_dind import cidr
    from executor_dind.audit.rules.network_policy import METADATA_ADDRESSES, PRIVATE_RANGES

    field = f"{path}.hardening.networkPolicy"
    problems: list[tuple[str, str]] = []
    denied = _blocks(conf.denied_cidrs, f"{field}.deniedCIDRs", problems)
    allowed = _blocks(conf.allowed_cidrs, f"{field}.allowedCIDRs", problems)
    for where, net in denied:
        if net.prefixlen == 0:
            problems.append(
                (
                    where,
                    f"denies every {'IPv4' if net.version == 4 else 'IPv6'} address: it becomes the `except` of "
                    f"{net}, which must be a strict subset (the API server rejects it); to deny everything, disable "
                    "egress some other way",
                )
            )
    if problems or not CONTROL.enabled(spec):
        return problems
    accepted = {exception.rule for exception in spec.audit_exceptions}
    metadata = {ipaddress.ip_address(address): what for address, what in METADATA_ADDRESSES.items()}
    if "EXD302" not in accepted:
        local = (
            [(f"{field}.dns.nodeLocalIP", node_local_block(conf.dns.node_local_ip))] if conf.dns.node_local_ip else []
        )
        for where, net in [*allowed, *local]:
            for address, what in metadata.items():
                if address in net:
                    problems.append(
                        (
                            where,
                            f"{net} holds {address} ({what}): executors would reach it (audit rule EXD302); "
                            "leave it out",
                        )
                    )
        for address, what in metadata.items():
            host = cidr.network(f"{address}/{address.max_prefixlen}")
            if _uncovered(host, [net for _, net in denied]):
                problems.append(
                    (
                        f"{field}.deniedCIDRs",
                        f"does not cover {address} ({what}): executors would reach it (audit "
                        f"rule EXD302); add {host} (the default list covers every metadata address)",
                    )
                )
    if "EXD303" not in accepted:
        covering = [net for _, net in denied + allowed]
        for text, what in PRIVATE_RANGES.items():
            open_parts = _uncovered(cidr.network(text), covering)
            if open_parts:
                problems.append(
                    (
                        f"{field}.deniedCIDRs",
                        f"leaves {', '.join(map(str, open_parts[:3]))} of the {what} range "
                        f"{text} open (audit rule EXD303): deny it, or list what executors need in allowedCIDRs",
                    )
                )
    return problems


def _namespace_peer(namespace: str, context: Context) -> dict[str, Any]:
    if namespace == context.namespace:
        return {}
    if not namespace:
        # Sourcegraph's namespace is unknown (an explicit frontend.url and no frontend Service in the input):
        # its pods are matched by label in every namespace rather than in none.
        return {"namespaceSelector": {}}
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def _dns_rules(conf: Any) -> list[dict[str, Any]]:
    """The cluster DNS pods (and the NodeLocal DNSCache address) on port 53."""
    dns_peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": conf.dns.namespace}},
        "podSelector": {"matchLabels": dict(conf.dns.pod_labels)},
    }
    dns_ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    rules: list[dict[str, Any]] = [{"to": [dns_peer], "ports": dns_ports}]
    if conf.dns.node_local_ip:
        rules.append({"to": [{"ipBlock": {"cidr": str(node_local_block(conf.dns.node_local_ip))}}], "ports": dns_ports})
    return rules


def _internet_rules(conf: Any) -> list[dict[str, Any]]:
    """`0.0.0.0/0` and `::/0` except the denied ranges, and the allowedCIDRs, as every reader reads them."""
    import ipaddress

    from executor_dind import cidr

    denied = [cidr.network(text) for text in conf.denied_cidrs]
    internet = []
    for everything in (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")):
        excepted = [str(net) for net in denied if net.version == everything.version]
        internet.append({"ipBlock": {"cidr": str(everything), "except": excepted}})
    rules: list[dict[str, Any]] = [{"to": internet}]
    if conf.allowed_cidrs:
        rules.append({"to": [{"ipBlock": {"cidr": cidr.canonical(text)}} for text in conf.allowed_cidrs]})
    return rules


def policy(spec: Spec, context: Context) -> dict[str, Any]:
    conf = spec.hardening.network_policy
    egress = _dns_rules(conf)
    frontend_peer = {
        **_namespace_peer(context.sourcegraph_namespace, context),
        "podSelector": {"matchLabels": dict(context.frontend_pod_labels)},
    }
    egress.append({"to": [frontend_peer], "ports": [{"protocol": "TCP", "port": context.frontend_pod_port}]})
    # Always present: it matches nothing until the registry exists, so the plain Components compose.
    egress.append(
        {
            "to": [{"podSelector": {"matchLabels": dict(REGISTRY_POD_SELECTOR)}}],
            "ports": [{"protocol": "TCP", "port": REGISTRY_PORT}],
        }
    )
    egress.extend(_internet_rules(conf))
    prometheus_peer = {
        **_namespace_peer(context.sourcegraph_namespace, context),
        "podSelector": {"matchLabels": dict(PROMETHEUS_POD_LABELS)},
    }
    return _network_policy(
        POLICY_NAME,
        context,
        {
            "podSelector": {"matchLabels": dict(EXECUTOR_POD_SELECTOR)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [prometheus_peer], "ports": [{"protocol": "TCP", "port": METRICS_PORT}]},
            ],
            "egress": egress,
        },
    )


def _network_policy(name: str, context: Context, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": object_metadata(name, context),
        "spec": spec,
    }


def registry_policy(spec: Spec, context: Context) -> dict[str, Any]:
    """The pull-through registry: ingress from executor pods only; egress to DNS and its upstream, which is the
    internet as the executors see it (the denied ranges excepted, allowedCIDRs added): never the metadata service,
    private ranges or other pods. Emitted even without the registry (it then selects nothing), so Components
    compose."""
    conf = spec.hardening.network_policy
    return _network_policy(
        REGISTRY_POLICY_NAME,
        context,
        {
            "podSelector": {"matchLabels": dict(REGISTRY_POD_SELECTOR)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": dict(EXECUTOR_POD_SELECTOR)}}],
                    "ports": [{"protocol": "TCP", "port": REGISTRY_PORT}],
                }
            ],
            "egress": [*_dns_rules(conf), *_internet_rules(conf)],
        },
    )


def apply(spec: Spec, context: Context, objects: tuple[dict[str, Any], ...]) -> Applied:
    return Applied(added=(policy(spec, context), registry_policy(spec, context)))


CONTROL = Control(
    id="networkPolicy",
    profiles=("recommended", "strict"),
    does="NetworkPolicy `executor-dind-executors` on executor pods: ingress only Prometheus on 6060; egress only "
    "cluster DNS pods, the frontend pods' HTTP *pod* port, the registry pods, and `0.0.0.0/0`/`::/0` except "
    "private, link-local (incl. 169.254.169.254), CGNAT, loopback, multicast, IPv6 ULA/link-local; "
    "`allowedCIDRs` for your code hosts; and `executor-dind-registry` admitting only executor pods to the registry, "
    "whose own egress is DNS and the same internet rule",
    guarantees="jobs cannot reach the cloud metadata service, private ranges or Sourcegraph's internal services; "
    "only DNS, the frontend's HTTP port, the registry and the public internet",
    requires="a CNI that enforces NetworkPolicy (Calico, Cilium, GKE Dataplane V2, ...)",
    settings=NetworkPolicy,
    validate=validate,
    apply=apply,
)
