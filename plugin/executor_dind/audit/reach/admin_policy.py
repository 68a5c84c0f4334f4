"""AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1)."""

from __future__ import annotations

from collections.abc import Mapping

from executor_dind import cidr
from executor_dind.audit.reach.grants import Grant
from executor_dind.audit.reach.problems import shown
from executor_dind.audit.reach.selectors import NAME_LABEL, as_dict, as_list, selector_matches
from executor_dind.audit.reach.world import Pod, World

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
                action = shown(rule.get("action"))
                found.append((f"spec.{key}[{index}].action", f"{action} is not Allow, Deny or Pass"))
            for number, peer in enumerate(as_list(rule.get("to"))):
                for position, text in enumerate(as_list(as_dict(peer).get("networks"))):
                    try:
                        cidr.network(text)
                    except cidr.CidrError as error:
                        where = f"spec.{key}[{index}].to[{number}].networks[{position}]"
                        found.append((where, f"{shown(text)} {error}"))
    return found
