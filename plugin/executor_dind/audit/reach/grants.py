"""NetworkPolicy rules as grants (one peer of one rule with its ports), what each reaches (addresses, pods, ports),
and where the grants reach beyond what is allowed.

Over 300 lines because grants and the holes they open share the readings of peers and ports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from executor_dind.audit.reach.addresses import EVERYWHERE, NOTHING, IPSet, block_networks
from executor_dind.audit.reach.cluster import OTHER_NAMESPACE, Pod, Term, World, carried, namespace_selected
from executor_dind.audit.reach.ports import ALL_PORTS, EVERY_PORT, Ports, port_name, port_number
from executor_dind.audit.reach.selectors import (
    as_dict,
    describe_term,
    required_labels,
    selector_matches,
    selector_terms,
    surely_matches,
)
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Grant(Record):
    """One peer of one rule of one policy, with that rule's ports."""

    policy: str
    rule: str  # "egress[2]"
    peer: Any  # the peer mapping; None: the rule has no peers (every destination)
    ports: Any  # the rule's ports list; None or empty: every port
    denied: tuple[Any, ...] = ()  # the Deny peers (Grants) credited against this one: they take precedence

    @property
    def where(self) -> str:
        return f"{self.policy} ({self.rule})"


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


def namespace_selectors(policy: Mapping[str, Any]) -> Iterator[Any]:
    """Every namespaceSelector of a NetworkPolicy's peers, or of an admin policy's subject and peers."""
    spec = as_dict(policy.get("spec"))
    peers = [spec.get("subject")]
    for key, peers_key in (("egress", "to"), ("ingress", "from")):
        rules = spec.get(key)
        for rule in rules if isinstance(rules, list) else []:
            found = as_dict(rule).get(peers_key)
            peers.extend(found if isinstance(found, list) else [])
    for peer in peers:
        peer = as_dict(peer)
        for selector in (
            peer.get("namespaceSelector"),
            peer.get("namespaces"),
            as_dict(peer.get("pods")).get("namespaceSelector"),
        ):
            if selector:
                yield selector


def _port_entries(ports: Any) -> list[dict[str, Any]] | None:
    """The rule's port entries, or None for every port."""
    if not isinstance(ports, list) or not ports:
        return None
    return [p if isinstance(p, dict) else {} for p in ports]


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


def grant_networks(grant: Grant) -> IPSet:
    """The addresses a grant's peer covers: everything for a rule without peers, its ipBlock, or none."""
    if grant.peer is None:
        return EVERYWHERE
    if not isinstance(grant.peer, dict) or "ipBlock" not in grant.peer:
        return NOTHING
    return block_networks(grant.peer["ipBlock"])


def grant_pods(grant: Grant, policy_namespace: str, known: World) -> Iterator[Pod]:
    """The pods a grant's peer selects: podSelector in the policy's namespace, or in the namespaces its
    namespaceSelector selects; a rule without peers selects every pod. What the output cannot resolve matches at
    its worst (cluster.py), and the pod's name or note says which term was read so."""
    peer = grant.peer
    if peer is None:
        yield from known.pods
        return
    if not isinstance(peer, dict) or "ipBlock" in peer:
        return
    if "namespaceSelector" not in peer and "podSelector" not in peer:
        return
    pod_selector = peer.get("podSelector", None)
    pod_selector = pod_selector if pod_selector is not None else {}
    chosen: list[tuple[str, tuple[Term, ...]]] = [(policy_namespace, ())]
    if "namespaceSelector" in peer:
        namespace_selector = peer["namespaceSelector"] if peer["namespaceSelector"] is not None else {}
        selected = ((name, namespace_selected(namespace_selector, name, known)) for name in known.namespaces)
        chosen = [(name, assumed) for name, (matched, assumed) in selected if matched]
    unresolved = [] if selector_matches(pod_selector, {}) else _unresolved(pod_selector, chosen, known)
    assumed_of = dict(chosen)
    # The pods of the chosen namespaces, in the world's order (findings list the first few).
    for index in sorted(index for name, _ in chosen for index in known.by_namespace.get(name, ())):
        pod = known.pods[index]
        if selector_matches(pod_selector, pod.labels, worst=True):
            yield _noted(pod, assumed_of[pod.namespace], known)
    for namespace in unresolved:
        yield _assumed_pod(namespace, pod_selector, assumed_of[namespace], known)


def _unresolved(selector: Any, chosen: list[tuple[str, tuple[Term, ...]]], known: World) -> list[str]:
    """The chosen namespaces where no pod the output shows meets the podSelector: it selects pods it does not show."""
    out = []
    for name, _ in chosen:
        shown = (known.pods[i] for i in known.by_namespace.get(name, ()) if not known.pods[i].witness)
        if not any(selector_matches(selector, pod.labels, worst=True) for pod in shown):
            out.append(name)
    return out


def _namespace_note(assumed: tuple[Term, ...], known: World) -> str:
    terms = ", ".join(describe_term(*term) for term in assumed)
    if any(carried(term, known) for term in assumed):
        why = "a namespace the input does not define may carry it too"
    else:
        why = "no namespace in the input carries it"
    return f"namespaceSelector {terms}: {why}; read as matching any namespace whose labels the input does not define"


def _noted(pod: Pod, assumed: tuple[Term, ...], known: World) -> Pod:
    return pod._replace(note=_namespace_note(assumed, known)) if assumed else pod


def _assumed_pod(namespace: str, selector: Any, assumed: tuple[Term, ...], known: World) -> Pod:
    terms = ", ".join(describe_term(*term) for term in selector_terms(selector) or [])
    where = "in any other namespace" if namespace == OTHER_NAMESPACE else f"in namespace {namespace or '(none)'}"
    name = (
        f"a pod the input does not show {where} (podSelector {terms}: no pod the input shows there carries it; "
        "read as matching)"
    )
    return _noted(Pod(namespace, required_labels(selector), name, witness=True), assumed, known)


def reach_networks(grant: Grant, ports: Ports) -> IPSet:
    """The addresses a grant reaches on these ports (its own), less those of the Deny peers credited against it
    that deny every one of the ports."""
    networks = grant_networks(grant)
    for deny in grant.denied:
        if not ports.minus(grant_ports(deny, None)):
            networks = networks - grant_networks(deny)
    return networks


def reach_ports(grant: Grant, destination: Pod, peer: Pod, known: World) -> Ports:
    """The ports of `destination` a grant allows between it and `peer` (the same pod for egress; for ingress the
    source), less what the Deny peers credited against it surely deny."""
    ports = grant_ports(grant, destination)
    for deny in grant.denied:
        if denies_pod(deny, peer, known):
            ports = ports.minus(grant_ports(deny, destination))
    return ports


def denies_pod(deny: Grant, pod: Pod, known: World) -> bool:
    """Whether a credited Deny peer surely covers this pod: its namespaces by `{}` or resolved terms (never any
    other namespace by a term), its pods by `{}`, or by a selector a pod the output shows meets."""
    peer = as_dict(deny.peer)
    if "ipBlock" in peer or deny.peer is None:
        return False
    namespaces = selector_terms(peer.get("namespaceSelector") or {})
    pods = selector_terms(peer.get("podSelector") or {})
    if namespaces is None or pods is None:
        return False
    if namespaces:
        matched, assumed = namespace_selected(peer.get("namespaceSelector"), pod.namespace, known)
        if pod.namespace == OTHER_NAMESPACE or not matched or assumed:
            return False
    if not pods:
        return True
    return not pod.witness and surely_matches(peer.get("podSelector"), pod.labels)


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
        reached = reach_networks(grant, ports) & forbidden
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
    selected: dict[tuple[str, ...], list[Pod]] | None = None,
) -> list[PodHole]:
    """Where the grants reach pods on ports `allowed(pod)` does not allow. selected: the pods each distinct peer
    selects in this world, kept by the caller across calls (executors in many namespaces under policies with the
    same peers select the same pods: without it the audit is O(policies x pods))."""
    holes = []
    for grant in grant_list:
        if selected is None:
            pods = grant_pods(grant, policy_namespace, known)
        else:
            key = _peer_key(grant.peer, policy_namespace)
            if key not in selected:
                selected[key] = list(grant_pods(grant, policy_namespace, known))
            pods = selected[key]
        granted: dict[tuple[tuple[str, int, str], ...], Ports] = {}  # a pod's ports -> what the grant allows it
        for pod in pods:
            if grant.denied:  # what a Deny credits depends on the pod itself, not only on its ports
                beyond = reach_ports(grant, pod, pod, known).minus(allowed(pod))
            else:
                if pod.ports not in granted:
                    granted[pod.ports] = grant_ports(grant, pod)
                beyond = granted[pod.ports].minus(allowed(pod))
            if beyond:
                holes.append(PodHole(pod, beyond, grant))
    return holes


def _peer_key(peer: Any, policy_namespace: str) -> tuple[str, ...]:
    """What grant_pods' answer depends on: the peer's content, and the policy's namespace unless the peer names
    its namespaces by a namespaceSelector."""
    import json

    content = json.dumps(peer, sort_keys=True, default=str)
    if isinstance(peer, dict) and "namespaceSelector" in peer:
        return (content,)
    return (content, policy_namespace)
