"""NetworkPolicy reachability as sets: what the union of the policies selecting a pod lets it send or receive.

Pure functions over plain objects (no I/O), imported only by the audit: `ipaddress` stays off the render path.

Destinations are address sets with ports (ipBlock cidr minus except, IPv4 and IPv6 apart) and pods. Pods are the
pod templates of the workloads in the output, in namespaces labelled as the output's Namespace objects say
(`kubernetes.io/metadata.name` always), plus witnesses for what the output does not show: one label-less "any
other pod" per known namespace and one in "any other namespace", so `{}`, `NotIn` and `DoesNotExist` selectors
reach them and an exact selector does not. Ports: all, a number, a range (endPort), or a name resolved against
the destination pod's container ports; toward an address, a name resolves on the pod that owns it, so it is every
port of that name in the output (or every port, when no pod in the output carries the name).

ipBlock texts are read as the API server stores them (cidr.py): an IPv4-mapped block is its IPv4 block. A field
the readers disagree on or the API server rejects is `policy_problems`' business (an audit error naming it); for
reach it counts at its worst: an unreadable cidr is every address (an engine may read it as allow-all), an
unreadable except entry excepts nothing, an unreadable port is every port.

Longer than most modules on purpose: one algorithm (selector resolution, address sets, port sets, grants),
whose parts only make sense together.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping

from executor_dind import cidr
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
    by_namespace: Mapping[str, tuple[int, ...]]  # namespace -> the indexes in `pods` of its pods


# --- selectors ----------------------------------------------------------------------------------------------


# Labels the controllers add to the pods they create, with values no render holds: a selector term on one of
# them is met, at worst, whatever the template says (an allow policy may select the pods or reach them).
CONTROLLER_LABELS = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "job-name",
        "controller-uid",
    }
)
CONTROLLER_LABEL_PREFIXES = ("batch.kubernetes.io/",)


def controller_label(key: str) -> bool:
    return key in CONTROLLER_LABELS or key.startswith(CONTROLLER_LABEL_PREFIXES)


def controller_labels_in(selector: Any) -> list[str]:
    """The controller-added label keys a selector's terms read (the worst case takes them as met)."""
    selector = as_dict(selector)
    keys = [str(key) for key in as_dict(selector.get("matchLabels"))]
    keys += [str(as_dict(e).get("key")) for e in as_list(selector.get("matchExpressions"))]
    return [key for key in dict.fromkeys(keys) if controller_label(key)]


def selector_matches(selector: Any, labels: Mapping[str, str], worst: bool = False) -> bool:
    """Kubernetes label selector semantics; an empty selector matches everything. A malformed selector (the API
    server would reject its object) matches nothing. worst: a term on a label the controllers add (and the
    template does not hold) is met, as it may be at runtime."""
    if selector is None:
        return True
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        return False
    for key, value in match_labels.items():
        if worst and str(key) not in labels and controller_label(str(key)):
            continue
        if labels.get(str(key)) != str(value):
            return False
    for expression in expressions:
        if not isinstance(expression, dict):
            return False
        key, operator = str(expression.get("key")), expression.get("operator")
        if (
            worst
            and key not in labels
            and controller_label(key)
            and operator in ("In", "NotIn", "Exists", "DoesNotExist")
        ):
            continue
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
    everyone = (*pods, *witnesses)
    by_namespace: dict[str, list[int]] = {}
    for index, pod in enumerate(everyone):
        by_namespace.setdefault(pod.namespace, []).append(index)
    return World(namespaces, everyone, {name: tuple(indexes) for name, indexes in by_namespace.items()})


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
    if (meta.get("namespace") or namespace) != namespace:  # no namespace: it may land in the pod's
        return False
    return selector_matches(spec.get("podSelector", {}), pod.labels, worst=True)


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


def port_number(value: Any) -> int | None:
    """A port number as the API server reads one: an integer from 1 to 65535 (never a bool, never a string)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    return None


def port_name(value: Any) -> str | None:
    """An IANA service name as validation.IsValidPortName accepts it: 1-15 of [a-z0-9-], a letter among them,
    no leading, trailing or doubled hyphen."""
    if not isinstance(value, str) or not 1 <= len(value) <= 15 or not value.isascii():
        return None
    if not all(c.islower() or c.isdigit() or c == "-" for c in value) or not any(c.isalpha() for c in value):
        return None
    if value.startswith("-") or value.endswith("-") or "--" in value:
        return None
    return value


def named_ports(pods: Iterable[Pod]) -> dict[tuple[str, str], tuple[int, ...]]:
    """(protocol, name) -> the numbers pods in the output give that name: where a named port toward an address
    can land (the name is resolved on whichever pod owns the address)."""
    out: dict[tuple[str, str], set[int]] = {}
    for pod in pods:
        for name, number, protocol in pod.ports:
            if name:
                out.setdefault((protocol, name), set()).add(number)
    return {key: tuple(sorted(numbers)) for key, numbers in out.items()}


def grant_ports(grant: Grant, pod: Pod | None, names: Mapping[tuple[str, str], tuple[int, ...]] | None = None) -> Ports:
    """The ports a grant allows to this pod, or (pod None) to an address: there a name is resolved on the pod
    that owns the address, so it is every port `names` gives it, or every port when no pod in the output has it."""
    entries = _port_entries(grant.ports)
    if entries is None:
        return EVERY_PORT
    out: dict[str, list[tuple[int, int]]] = {}
    for entry in entries:
        protocol = str(entry.get("protocol") or "TCP").upper()
        port = entry.get("port")
        number, name = port_number(port), port_name(port)
        if port is None or (number is None and name is None):
            out.setdefault(protocol, []).append(ALL_PORTS[0])  # no port, or one no reader agrees on: the worst
        elif number is not None:
            end = port_number(entry.get("endPort"))
            high = end if end is not None and end >= number else number
            if "endPort" in entry and end is None:
                high = ALL_PORTS[0][1]
            out.setdefault(protocol, []).append((number, high))
        elif pod is not None:
            for pod_name, pod_number, pod_protocol in pod.ports:
                if pod_name == name and pod_protocol == protocol:
                    out.setdefault(protocol, []).append((pod_number, pod_number))
        else:
            found = (names or {}).get((protocol, name or ""))
            numbers = [(n, n) for n in found] if found else [ALL_PORTS[0]]
            out.setdefault(protocol, []).extend(numbers)
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
    """An ipBlock text every reader reads alike (cidr.network, IPv4-mapped blocks as IPv4), or None."""
    try:
        return cidr.network(text)
    except cidr.CidrError:
        return None


def ipset(*networks: Any) -> IPSet:
    """The addresses of these networks: ip_network objects, or the audit's own texts (a CIDR or an address)."""
    out = []
    for network in networks:
        parsed = ipaddress.ip_network(network, strict=False)
        out.append((parsed.version, int(parsed.network_address), int(parsed.broadcast_address)))
    return _normalised(out)


NOTHING = IPSet(())
EVERYWHERE = ipset("0.0.0.0/0", "::/0")


def block_networks(block: Any) -> IPSet:
    """An ipBlock's addresses: its cidr minus its except entries, at their worst where a reader cannot read them
    (an engine may take an unreadable cidr as every address and skip an unreadable except entry)."""
    if not isinstance(block, dict):
        return NOTHING
    excepted = block.get("except") or []
    texts = tuple(excepted) if isinstance(excepted, list) else ()
    key = (block.get("cidr"), texts)
    if all(isinstance(text, str) for text in (key[0], *texts)):
        if key not in _BLOCKS:  # policies repeat the same blocks: each is cut once per process
            _BLOCKS[key] = _block_networks(*key)
        return _BLOCKS[key]
    return _block_networks(*key)


_BLOCKS: dict[tuple[Any, tuple[Any, ...]], IPSet] = {}


def _block_networks(text: Any, excepted: tuple[Any, ...]) -> IPSet:
    covered = parse_network(text)
    holes = [parse_network(entry) for entry in excepted]
    return (ipset(covered) if covered is not None else EVERYWHERE) - ipset(*(h for h in holes if h is not None))


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
    pod_selector = peer.get("podSelector", None)
    if "namespaceSelector" in peer:
        namespace_selector = peer["namespaceSelector"] if peer["namespaceSelector"] is not None else {}
        chosen = [name for name, labels in known.namespaces.items() if selector_matches(namespace_selector, labels)]
    else:
        chosen = [policy_namespace]
    # The pods of the chosen namespaces, in the world's order (findings list the first few).
    for index in sorted(index for name in chosen for index in known.by_namespace.get(name, ())):
        pod = known.pods[index]
        if selector_matches(pod_selector if pod_selector is not None else {}, pod.labels, worst=True):
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
    grant_list: Iterable[Grant],
    forbidden: IPSet,
    allowed: Iterable[tuple[IPSet, Ports]] = (),
    names: Mapping[tuple[str, str], tuple[int, ...]] | None = None,
) -> list[AddressHole]:
    """Where the grants reach forbidden addresses, less the (addresses, ports) pairs that are allowed; `names`:
    where a named port can land (named_ports of the output's pods)."""
    allowed = list(allowed)
    holes = []
    for grant in grant_list:
        ports = grant_ports(grant, None, names)
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


# --- fields the readers disagree on ---------------------------------------------------------------------------


def _port_problems(entries: Any, where: str) -> Iterator[tuple[str, str]]:
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        path = f"{where}.ports[{index}]"
        if not isinstance(entry, dict):
            yield path, "is not a mapping of protocol, port and endPort"
            continue
        protocol = entry.get("protocol", "TCP")
        if protocol not in PROTOCOLS:
            yield f"{path}.protocol", f"{protocol!r} is not TCP, UDP or SCTP"
        port = entry.get("port")
        if port is not None and port_number(port) is None and port_name(port) is None:
            yield (
                f"{path}.port",
                f"{_shown(port)} is neither a port number from 1 to 65535 nor a port name (1-15 of a-z, 0-9 and '-', "
                "with a letter)",
            )
        if "endPort" in entry:
            end = port_number(entry.get("endPort"))
            if end is None or port_number(port) is None or end < (port_number(port) or 0):
                yield (
                    f"{path}.endPort",
                    f"{_shown(entry.get('endPort'))} is not a port number from the rule's numeric port to 65535",
                )


def _shown(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 64 and type(value) is int:
        return f"an integer of {value.bit_length()} bits"  # repr() refuses past 4300 digits (the loader's HugeInt
    text = repr(value)  # says its own length)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _block_problems(block: Any, path: str) -> Iterator[tuple[str, str]]:
    if not isinstance(block, dict):
        yield path, "is not a mapping of cidr and except"
        return
    text = block.get("cidr")
    try:
        cidr.network(text)
    except cidr.CidrError as error:
        yield f"{path}.cidr", f"{_shown(text)} {error}"
    excepted = block.get("except") or []
    if not isinstance(excepted, list):
        yield f"{path}.except", "is not a list of CIDRs"
        return
    for index, entry in enumerate(excepted):
        try:
            cidr.network(entry)
        except cidr.CidrError as error:
            yield f"{path}.except[{index}]", f"{_shown(entry)} {error}"
            continue
        problem = cidr.except_problem(str(text), entry) if isinstance(text, str) else None
        if problem:
            yield f"{path}.except[{index}]", problem


def policy_problems(policy: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field path, what is wrong) for every field of a NetworkPolicy that the API server rejects or that the
    API server and the enforcement engines read differently; empty when every reader reads it alike."""
    found: list[tuple[str, str]] = []
    spec = as_dict(policy.get("spec"))
    for key, peers_key in (("egress", "to"), ("ingress", "from")):
        rules = spec.get(key)
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            where = f"spec.{key}[{index}]"
            rule = as_dict(rule)
            found.extend(_port_problems(rule.get("ports"), where))
            peers = rule.get(peers_key)
            for number, peer in enumerate(peers if isinstance(peers, list) else []):
                if isinstance(peer, dict) and "ipBlock" in peer:
                    found.extend(_block_problems(peer["ipBlock"], f"{where}.{peers_key}[{number}].ipBlock"))
    return found


# --- AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1) ---------------------------------------------------
# Its Allow rules win over every NetworkPolicy, so they are weighed as grants beside the NetworkPolicies'; its
# Deny and Pass rules are not credited (the verdict errs toward reach). A BaselineAdminNetworkPolicy applies only
# where no NetworkPolicy isolates a pod, which the audit already reports as unrestricted.

ADMIN_ACTIONS = ("Allow", "Deny", "Pass")
EVERY_ADDRESS_PEERS = ({"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}})


def _admin_selector(peer: Mapping[str, Any]) -> dict[str, Any] | None:
    """An admin peer or subject as a NetworkPolicy peer (namespaces, or pods in namespaces); None: unknown."""
    if "namespaces" in peer:
        return {"namespaceSelector": peer["namespaces"] if isinstance(peer["namespaces"], dict) else {}}
    if "pods" in peer:
        pods = as_dict(peer["pods"])
        return {"namespaceSelector": pods.get("namespaceSelector", {}), "podSelector": pods.get("podSelector", {})}
    return None


def admin_selects(policy: Mapping[str, Any], known: World, pod: Pod) -> bool:
    """Whether the policy's subject selects the pod (a subject the audit cannot read selects it)."""
    subject = _admin_selector(as_dict(as_dict(policy.get("spec")).get("subject")))
    if subject is None:
        return True
    labels = known.namespaces.get(pod.namespace, {NAME_LABEL: pod.namespace})
    namespaces = subject.get("namespaceSelector")
    return selector_matches(namespaces or {}, labels) and selector_matches(subject.get("podSelector", {}), pod.labels)


def _admin_peers(peer: Any) -> list[dict[str, Any] | None]:
    peer = as_dict(peer)
    selector = _admin_selector(peer)
    if selector is not None:
        return [selector]
    if "networks" in peer:
        return [{"ipBlock": {"cidr": text}} for text in as_list(peer["networks"])]
    if "nodes" in peer:  # node addresses are not in the output: any address
        return [dict(p) for p in EVERY_ADDRESS_PEERS]
    return [None]  # a peer the audit cannot read: everything


def _admin_ports(ports: Any) -> list[dict[str, Any]] | None:
    if not isinstance(ports, list) or not ports:
        return None
    out = []
    for entry in (as_dict(p) for p in ports):
        number, named, span = as_dict(entry.get("portNumber")), entry.get("namedPort"), as_dict(entry.get("portRange"))
        if number:
            out.append({"protocol": number.get("protocol", "TCP"), "port": number.get("port")})
        elif named is not None:
            out.append({"port": named})
        elif span:
            out.append({"protocol": span.get("protocol", "TCP"), "port": span.get("start"), "endPort": span.get("end")})
        else:
            return None  # a port the audit cannot read: every port
    return out


def admin_grants(policy: Mapping[str, Any], direction: str) -> list[Grant]:
    """The grants of an AdminNetworkPolicy's Allow rules in one direction (a rule whose action the audit cannot
    read counts as Allow)."""
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    name = f"AdminNetworkPolicy {as_dict(policy.get('metadata')).get('name') or '(no name)'}"
    out = []
    for index, rule in enumerate(as_list(as_dict(policy.get("spec")).get(key))):
        rule = as_dict(rule)
        if rule.get("action") in ("Deny", "Pass"):
            continue
        ports = _admin_ports(rule.get("ports"))
        peers = [p for peer in as_list(rule.get(peers_key)) for p in _admin_peers(peer)] or [None]
        out.extend(Grant(name, f"{key}[{index}]", peer, ports) for peer in peers)
    return out


def admin_policy_problems(policy: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field path, what is wrong) for the fields of an admin policy the audit cannot read alike."""
    found = []
    spec = as_dict(policy.get("spec"))
    for key in ("egress", "ingress"):
        for index, rule in enumerate(as_list(spec.get(key))):
            rule = as_dict(rule)
            if rule.get("action") not in ADMIN_ACTIONS:
                action = _shown(rule.get("action"))
                found.append((f"spec.{key}[{index}].action", f"{action} is not Allow, Deny or Pass"))
            for number, peer in enumerate(as_list(rule.get("to"))):
                for position, text in enumerate(as_list(as_dict(peer).get("networks"))):
                    try:
                        cidr.network(text)
                    except cidr.CidrError as error:
                        where = f"spec.{key}[{index}].to[{number}].networks[{position}]"
                        found.append((where, f"{_shown(text)} {error}"))
    return found
