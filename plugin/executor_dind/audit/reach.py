"""NetworkPolicy reachability as sets: what the union of the policies selecting a pod lets it send or receive.

Pure functions over plain objects (no I/O), imported only by the audit: `ipaddress` stays off the render path.

Destinations are address sets with ports (ipBlock cidr minus except, IPv4 and IPv6 apart) and pods. Pods are the
pod templates of the workloads in the output, in namespaces labelled as the output's Namespace objects say
(`kubernetes.io/metadata.name` always), plus witnesses for what the output does not show: one label-less "any
other pod" per known namespace and one in "any other namespace", so `{}`, `NotIn` and `DoesNotExist` selectors
reach them and an exact selector does not. Ports: all, a number, a range (endPort), or a name resolved against
the destination pod's container ports (a name never matches an address: Kubernetes resolves names on pods only).

Longer than most modules on purpose: one algorithm (selector resolution, address sets, port sets, grants),
whose parts only make sense together.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping

from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PROTOCOLS = ("TCP", "UDP", "SCTP")
NAME_LABEL = "kubernetes.io/metadata.name"
OTHER_NAMESPACE = "(any other namespace)"
ALL_PORTS = ((1, 65535),)


class Pod(Record):
    """A pod a policy may select: a workload's pod template, or a witness for pods the output does not show."""

    namespace: str
    labels: Mapping[str, str]
    name: str  # for messages: "Deployment/sourcegraph/pgsql", "any other pod in namespace sourcegraph"
    ports: tuple[tuple[str, int, str], ...] = ()  # (name, number, protocol) of its containers' ports
    witness: bool = False


class Ports(Record):
    """Per protocol, the port ranges allowed; empty when nothing is."""

    ranges: Mapping[str, tuple[tuple[int, int], ...]]

    def __bool__(self) -> bool:
        return any(self.ranges.values())

    def minus(self, other: Ports) -> Ports:
        out = {}
        for protocol, ranges in self.ranges.items():
            remaining = list(ranges)
            for low, high in other.ranges.get(protocol, ()):
                remaining = [piece for r in remaining for piece in _range_minus(r, (low, high))]
            if remaining:
                out[protocol] = tuple(remaining)
        return Ports(out)

    def describe(self) -> str:
        if all(self.ranges.get(p) == ALL_PORTS for p in PROTOCOLS):
            return "every port"
        parts = []
        for protocol in PROTOCOLS:
            for low, high in self.ranges.get(protocol, ()):
                parts.append(f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}")
        return ", ".join(parts)


EVERY_PORT = Ports(dict.fromkeys(PROTOCOLS, ALL_PORTS))
NO_PORT = Ports({})


def ports_of(*entries: tuple[str, int]) -> Ports:
    out: dict[str, tuple[tuple[int, int], ...]] = {}
    for protocol, port in entries:
        out[protocol] = (*out.get(protocol, ()), (port, port))
    return Ports(out)


def _range_minus(keep: tuple[int, int], drop: tuple[int, int]) -> list[tuple[int, int]]:
    if drop[1] < keep[0] or drop[0] > keep[1]:
        return [keep]
    pieces = []
    if keep[0] < drop[0]:
        pieces.append((keep[0], drop[0] - 1))
    if drop[1] < keep[1]:
        pieces.append((drop[1] + 1, keep[1]))
    return pieces


class Grant(Record):
    """One peer of one rule of one policy, with that rule's ports."""

    policy: str
    rule: str  # "egress[2]"
    peer: Any  # the peer mapping; None: the rule has no peers (every destination)
    ports: Any  # the rule's ports list; None or empty: every port

    @property
    def where(self) -> str:
        return f"{self.policy} ({self.rule})"


class World(Record):
    """The objects reachability is resolved against."""

    namespaces: Mapping[str, Mapping[str, str]]  # namespace -> its labels
    pods: tuple[Pod, ...]  # workload pods and witnesses


# --- selectors ----------------------------------------------------------------------------------------------


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics; an empty selector matches everything. A malformed selector (the API
    server would reject its object) matches nothing."""
    if selector is None:
        return True
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        return False
    for key, value in match_labels.items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in expressions:
        if not isinstance(expression, dict):
            return False
        key, operator = str(expression.get("key")), expression.get("operator")
        values = expression.get("values") or []
        values = [str(v) for v in values] if isinstance(values, list) else []
        present = key in labels
        if operator == "In":
            ok = present and labels[key] in values
        elif operator == "NotIn":
            ok = not present or labels[key] not in values
        elif operator == "Exists":
            ok = present
        elif operator == "DoesNotExist":
            ok = not present
        else:
            return False
        if not ok:
            return False
    return True


# --- the world ------------------------------------------------------------------------------------------------


def world(
    namespace_objects: Mapping[str, Mapping[str, str]], pods: Iterable[Pod], extra_pods: Iterable[Pod] = ()
) -> World:
    """Known namespaces (with objects, or named by a pod), their labels, and the pods with their witnesses."""
    pods = [*pods, *extra_pods]
    namespaces: dict[str, dict[str, str]] = {}
    for name in {*namespace_objects, *(pod.namespace for pod in pods)}:
        namespaces[name] = {**dict(as_dict(namespace_objects.get(name))), NAME_LABEL: name}
    namespaces[OTHER_NAMESPACE] = {NAME_LABEL: OTHER_NAMESPACE}
    witnesses = [Pod(name, {}, _witness_name(name), witness=True) for name in sorted(namespaces)]
    return World(namespaces, (*pods, *witnesses))


def _witness_name(namespace: str) -> str:
    if namespace == OTHER_NAMESPACE:
        return "any pod in any other namespace"
    return f"any other pod in namespace {namespace or '(none)'}"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def container_ports(spec: Mapping[str, Any]) -> tuple[tuple[str, int, str], ...]:
    out = []
    for key in ("initContainers", "containers"):
        for entry in as_list(spec.get(key)):
            if not isinstance(entry, dict):
                continue
            for port in as_list(entry.get("ports")):
                if isinstance(port, dict) and isinstance(port.get("containerPort"), int):
                    protocol = str(port.get("protocol") or "TCP").upper()
                    out.append((str(port.get("name") or ""), port["containerPort"], protocol))
    return tuple(out)


# --- policies -------------------------------------------------------------------------------------------------


def policy_types(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """As the API server defaults them: Ingress always, Egress when there are egress rules."""
    types = spec.get("policyTypes")
    if isinstance(types, list) and types:
        return tuple(str(t) for t in types)
    egress = spec.get("egress")
    return ("Ingress", "Egress") if isinstance(egress, list) and egress else ("Ingress",)


def selects(policy: Mapping[str, Any], namespace: str, pod: Pod, direction: str) -> bool:
    spec = policy.get("spec")
    if not isinstance(spec, dict) or direction not in policy_types(spec):
        return False
    meta = policy.get("metadata") if isinstance(policy.get("metadata"), dict) else {}
    if (meta.get("namespace") or "") != namespace:
        return False
    return selector_matches(spec.get("podSelector", {}), pod.labels)


def grants(policies: Iterable[Mapping[str, Any]], direction: str) -> list[Grant]:
    """Every (peer, ports) of the policies' rules in one direction ("Egress": `egress`/`to`)."""
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    out = []
    for policy in policies:
        meta = policy.get("metadata") if isinstance(policy.get("metadata"), dict) else {}
        name = str(meta.get("name") or "(no name)")
        rules = as_dict(policy.get("spec")).get(key)
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            rule = rule if isinstance(rule, dict) else {}
            peers = rule.get(peers_key)
            ports = rule.get("ports")
            where = f"{key}[{index}]"
            if not isinstance(peers, list) or not peers:
                out.append(Grant(name, where, None, ports))
            else:
                out.extend(Grant(name, where, peer, ports) for peer in peers)
    return out


def _port_entries(ports: Any) -> list[dict[str, Any]] | None:
    """The rule's port entries, or None for every port."""
    if not isinstance(ports, list) or not ports:
        return None
    return [p if isinstance(p, dict) else {} for p in ports]


def grant_ports(grant: Grant, pod: Pod | None) -> Ports:
    """The ports a grant allows to this pod (None: an address, where port names match nothing)."""
    entries = _port_entries(grant.ports)
    if entries is None:
        return EVERY_PORT
    out: dict[str, list[tuple[int, int]]] = {}
    for entry in entries:
        protocol = str(entry.get("protocol") or "TCP").upper()
        port = entry.get("port")
        if port is None:
            out.setdefault(protocol, []).append(ALL_PORTS[0])
        elif isinstance(port, int) and not isinstance(port, bool):
            end = entry.get("endPort")
            high = end if isinstance(end, int) and end >= port else port
            out.setdefault(protocol, []).append((port, high))
        elif isinstance(port, str) and port.isdigit():
            out.setdefault(protocol, []).append((int(port), int(port)))
        elif isinstance(port, str) and pod is not None:
            for name, number, pod_protocol in pod.ports:
                if name == port and pod_protocol == protocol:
                    out.setdefault(protocol, []).append((number, number))
    return Ports({protocol: tuple(ranges) for protocol, ranges in out.items()})


# --- address sets ---------------------------------------------------------------------------------------------


class IPSet(Record):
    """Addresses as sorted, disjoint, inclusive integer intervals per IP version: ipaddress parses and prints,
    the algebra stays on integers (cheap however many holes an except list cuts)."""

    intervals: tuple[tuple[int, int, int], ...]  # (version, first, last)

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __or__(self, other: IPSet) -> IPSet:
        return _normalised([*self.intervals, *other.intervals])

    def __and__(self, other: IPSet) -> IPSet:
        out = []
        for version, low, high in self.intervals:
            for other_version, other_low, other_high in other.intervals:
                if version == other_version and low <= other_high and other_low <= high:
                    out.append((version, max(low, other_low), min(high, other_high)))
        return _normalised(out)

    def __sub__(self, other: IPSet) -> IPSet:
        out = list(self.intervals)
        for version, low, high in other.intervals:
            kept = []
            for v, a, b in out:
                if v != version or b < low or a > high:
                    kept.append((v, a, b))
                    continue
                if a < low:
                    kept.append((v, a, low - 1))
                if high < b:
                    kept.append((v, high + 1, b))
            out = kept
        return _normalised(out)

    def networks(self) -> list[Network]:
        """As CIDR networks (the fewest that cover exactly these addresses)."""
        out: list[Network] = []
        for version, low, high in self.intervals:
            kind = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
            first, last = kind(low), kind(high)
            out.extend(ipaddress.summarize_address_range(first, last))  # type: ignore[arg-type]
        return out


def _normalised(intervals: list[tuple[int, int, int]]) -> IPSet:
    merged: list[tuple[int, int, int]] = []
    for version, low, high in sorted(intervals):
        if merged and merged[-1][0] == version and low <= merged[-1][2] + 1:
            merged[-1] = (version, merged[-1][1], max(high, merged[-1][2]))
        else:
            merged.append((version, low, high))
    return IPSet(tuple(merged))


def parse_network(text: Any) -> Network | None:
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError:
        return None


def ipset(*networks: Any) -> IPSet:
    """The addresses of these networks (ip_network objects or CIDR texts; unparsable ones are left out)."""
    out = []
    for network in networks:
        parsed = (
            network if isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network) else parse_network(network)
        )
        if parsed is not None:
            out.append((parsed.version, int(parsed.network_address), int(parsed.broadcast_address)))
    return _normalised(out)


NOTHING = IPSet(())
EVERYWHERE = ipset("0.0.0.0/0", "::/0")


def block_networks(block: Any) -> IPSet:
    """An ipBlock's addresses: its cidr minus its except entries. A malformed block: none (the API server
    rejects its policy)."""
    if not isinstance(block, dict):
        return NOTHING
    cidr = parse_network(block.get("cidr"))
    excepted = block.get("except") or []
    if cidr is None or not isinstance(excepted, list):
        return NOTHING
    holes = [parse_network(text) for text in excepted]
    if any(hole is None for hole in holes):
        return NOTHING
    return ipset(cidr) - ipset(*holes)


def grant_networks(grant: Grant) -> IPSet:
    """The addresses a grant's peer covers: everything for a rule without peers, its ipBlock, or none."""
    if grant.peer is None:
        return EVERYWHERE
    if not isinstance(grant.peer, dict) or "ipBlock" not in grant.peer:
        return NOTHING
    return block_networks(grant.peer["ipBlock"])


def grant_pods(grant: Grant, policy_namespace: str, known: World) -> Iterator[Pod]:
    """The pods a grant's peer selects: podSelector in the policy's namespace, or in the namespaces its
    namespaceSelector selects; a rule without peers selects every pod."""
    peer = grant.peer
    if peer is None:
        yield from known.pods
        return
    if not isinstance(peer, dict) or "ipBlock" in peer:
        return
    if "namespaceSelector" not in peer and "podSelector" not in peer:
        return
    namespace_selector = peer.get("namespaceSelector", None)
    pod_selector = peer.get("podSelector", None)
    for pod in known.pods:
        if "namespaceSelector" in peer:
            labels = known.namespaces.get(pod.namespace, {NAME_LABEL: pod.namespace})
            if not selector_matches(namespace_selector if namespace_selector is not None else {}, labels):
                continue
        elif pod.namespace != policy_namespace:
            continue
        if selector_matches(pod_selector if pod_selector is not None else {}, pod.labels):
            yield pod


# --- verdicts -------------------------------------------------------------------------------------------------


class AddressHole(Record):
    addresses: IPSet  # within the class, beyond what is allowed
    ports: Ports
    grant: Grant


class PodHole(Record):
    pod: Pod
    ports: Ports  # beyond what is allowed to that pod
    grant: Grant


def address_holes(
    grant_list: Iterable[Grant], forbidden: IPSet, allowed: Iterable[tuple[IPSet, Ports]] = ()
) -> list[AddressHole]:
    """Where the grants reach forbidden addresses, less the (addresses, ports) pairs that are allowed."""
    allowed = list(allowed)
    holes = []
    for grant in grant_list:
        ports = grant_ports(grant, None)
        if not ports:
            continue
        reached = grant_networks(grant) & forbidden
        for addresses, allowed_ports in allowed:
            if not ports.minus(allowed_ports):
                reached = reached - addresses
        if reached:
            holes.append(AddressHole(reached, ports, grant))
    return holes


def pod_holes(
    grant_list: Iterable[Grant],
    policy_namespace: str,
    known: World,
    allowed: Any,
) -> list[PodHole]:
    """Where the grants reach pods on ports `allowed(pod)` does not allow."""
    holes = []
    for grant in grant_list:
        for pod in grant_pods(grant, policy_namespace, known):
            beyond = grant_ports(grant, pod).minus(allowed(pod))
            if beyond:
                holes.append(PodHole(pod, beyond, grant))
    return holes


def describe_networks(addresses: IPSet, limit: int = 4) -> str:
    networks = addresses.networks()
    text = ", ".join(str(n) for n in networks[:limit])
    return text + (f" and {len(networks) - limit} more" if len(networks) > limit else "")
