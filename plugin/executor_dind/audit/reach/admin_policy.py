"""AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1), with their precedence.

How an engine decides a connection of a pod (KEP-2091): the AdminNetworkPolicies that select it, by `priority`
(0-1000, lower first) and within a policy in rule order, until one rule matches: Allow allows and Deny denies
whatever the NetworkPolicies say; Pass skips the remaining AdminNetworkPolicies. Then the NetworkPolicies: where
one selects the pod (for that direction), they decide. Where none does, the BaselineAdminNetworkPolicy
(`default`) in rule order (Allow, Deny); when nothing matches, the connection is allowed.

How the audit reads that, exact where the API is defined and at its worst where it is not:
- Allow rules are grants, whatever the NetworkPolicies say; an action the audit cannot read counts as Allow. A
  subject or peer that the output cannot resolve selects, as in NetworkPolicy allow rules.
- A Deny rule is credited (it takes away from the grants it precedes) only where the audit can fully resolve it:
  its subject surely selects the pod (namespaces by `{}`, by `kubernetes.io/metadata.name` or by labels of
  Namespace objects the output holds; pods by a selector the template meets without labels the controllers add),
  its ports are numbers or ranges (a named port is not credited), and of its peers those that resolve: networks
  with valid CIDRs, and pods it surely selects the same way (pods the output does not show are denied only by an
  empty pod selector, any other namespace only by an empty namespace selector). A `nodes` peer is never
  credited.
- A Deny takes away from an Allow rule only when it precedes it in every order the API allows: a lower priority
  number, or the same policy and an earlier rule. Two AdminNetworkPolicies at the same priority have no defined
  order: neither precedes the other. A Deny takes away from the NetworkPolicies' grants only when no Pass rule
  can precede it (what a Pass sends to the NetworkPolicies skips every later AdminNetworkPolicy).
- A Pass rule grants nothing: what it passes is judged by the NetworkPolicies.
- Where no NetworkPolicy selects the pod and a BaselineAdminNetworkPolicy with rules in that direction does, it
  governs (the direction counts as restricted, and its grants are judged): its Allow rules are
  grants, and "no rule matches" is a grant of everything, each less the credited Deny rules before it (and the
  AdminNetworkPolicies' credited Deny rules). Where a NetworkPolicy selects the pod, the baseline policy does not
  apply.
"""

from __future__ import annotations

from collections.abc import Mapping

from executor_dind import cidr
from executor_dind.audit.reach.cluster import Pod, World, namespace_selected
from executor_dind.audit.reach.grants import Grant
from executor_dind.audit.reach.problems import shown
from executor_dind.audit.reach.selectors import as_dict, as_list, selector_matches, selector_terms, surely_matches
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ADMIN_ACTIONS = ("Allow", "Deny", "Pass")
ADMIN_KIND, BASELINE_KIND = "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"
EVERY_ADDRESS_PEERS = ({"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}})


class AdminRule(Record):
    """One rule of an admin policy in one direction, as the audit weighs it."""

    policy: str  # "AdminNetworkPolicy x", "BaselineAdminNetworkPolicy default"
    priority: int | None  # an AdminNetworkPolicy's spec.priority; None: unreadable (no defined order), or baseline
    index: int
    action: str  # Allow, Deny or Pass (an action the audit cannot read: Allow)
    grants: tuple[Grant, ...]  # every peer with the rule's ports, as allow grants
    denies: tuple[Grant, ...]  # the peers a Deny is credited with (none when its ports cannot be resolved)


def precedes(first: AdminRule, then: AdminRule) -> bool:
    """Whether `first` is evaluated before `then` in every order the API allows."""
    if first.policy == then.policy:
        return first.index < then.index
    return first.priority is not None and then.priority is not None and first.priority < then.priority


def _admin_selector(peer: Mapping[str, Any]) -> dict[str, Any] | None:
    """An admin peer or subject as a NetworkPolicy peer (namespaces, or pods in namespaces); None: unknown."""
    if "namespaces" in peer:
        return {"namespaceSelector": peer["namespaces"] if isinstance(peer["namespaces"], dict) else {}}
    if "pods" in peer:
        pods = as_dict(peer["pods"])
        return {"namespaceSelector": pods.get("namespaceSelector", {}), "podSelector": pods.get("podSelector", {})}
    return None


def admin_selects(policy: Mapping[str, Any], known: World, pod: Pod, surely: bool = False) -> bool:
    """Whether the policy's subject selects the pod: at worst (a subject or label the audit cannot resolve
    selects), or, `surely`, only where the output resolves it (what a Deny is credited on)."""
    subject = _admin_selector(as_dict(as_dict(policy.get("spec")).get("subject")))
    if subject is None:
        return not surely
    matched, assumed = namespace_selected(subject.get("namespaceSelector") or {}, pod.namespace, known)
    pods = subject.get("podSelector") or {}
    if surely:
        return matched and not assumed and surely_matches(pods, pod.labels)
    return matched and selector_matches(pods, pod.labels, worst=True)


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


def _denied_peers(peer: Any) -> list[dict[str, Any]]:
    """The peers of a Deny the audit credits: readable selectors, valid CIDRs; never nodes or the unknown."""
    peer = as_dict(peer)
    selector = _admin_selector(peer)
    if selector is not None:
        readable = all(selector_terms(selector.get(key) or {}) is not None for key in selector)
        return [selector] if readable else []
    out = []
    for text in as_list(peer.get("networks")):
        try:
            cidr.network(text)
        except cidr.CidrError:
            continue
        out.append({"ipBlock": {"cidr": text}})
    return out


def _admin_ports(ports: Any) -> tuple[list[dict[str, Any]] | None, bool]:
    """The rule's ports as NetworkPolicy port entries (None: every port), and whether a Deny may be credited with
    them (every entry a number or a range)."""
    if not isinstance(ports, list) or not ports:
        return None, True
    out, numeric = [], True
    for entry in (as_dict(p) for p in ports):
        number, named, span = as_dict(entry.get("portNumber")), entry.get("namedPort"), as_dict(entry.get("portRange"))
        if number:
            out.append({"protocol": number.get("protocol", "TCP"), "port": number.get("port")})
        elif named is not None:
            out.append({"port": named})
            numeric = False
        elif span:
            out.append({"protocol": span.get("protocol", "TCP"), "port": span.get("start"), "endPort": span.get("end")})
        else:
            return None, False  # a port the audit cannot read: every port, and no Deny credited
    return out, numeric


def _priority(policy: Mapping[str, Any]) -> int | None:
    value = as_dict(policy.get("spec")).get("priority")
    if (
        policy.get("kind") == ADMIN_KIND
        and isinstance(value, int)
        and not isinstance(value, bool)
        and 0 <= value <= 1000
    ):
        return value
    return None


def admin_rules(policy: Mapping[str, Any], direction: str) -> list[AdminRule]:
    """An admin policy's rules in one direction, in order."""
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    kind = BASELINE_KIND if policy.get("kind") == BASELINE_KIND else ADMIN_KIND
    name = f"{kind} {as_dict(policy.get('metadata')).get('name') or '(no name)'}"
    priority = _priority(policy)  # unreadable: the API server refuses the policy, so none of its Denies holds
    out = []
    for index, rule in enumerate(as_list(as_dict(policy.get("spec")).get(key))):
        rule = as_dict(rule)
        action = rule.get("action") if rule.get("action") in _actions(policy) else "Allow"
        ports, numeric = _admin_ports(rule.get("ports"))
        peers = as_list(rule.get(peers_key))
        grants = [Grant(name, f"{key}[{index}]", p, ports) for peer in peers for p in _admin_peers(peer)]
        denies = [Grant(name, f"{key}[{index}]", p, ports) for peer in peers for p in _denied_peers(peer)]
        out.append(
            AdminRule(
                name,
                priority,
                index,
                action,
                tuple(grants or [Grant(name, f"{key}[{index}]", None, ports)]),
                tuple(denies)
                if action == "Deny" and numeric and (kind == BASELINE_KIND or priority is not None)
                else (),
            )
        )
    return out


def _actions(policy: Mapping[str, Any]) -> tuple[str, ...]:
    """The actions the policy's kind has: a BaselineAdminNetworkPolicy has no Pass."""
    return ("Allow", "Deny") if policy.get("kind") == BASELINE_KIND else ADMIN_ACTIONS


def admin_grants(policy: Mapping[str, Any], direction: str) -> list[Grant]:
    """The grants of an admin policy's Allow rules in one direction, nothing credited against them."""
    return [grant for rule in admin_rules(policy, direction) if rule.action == "Allow" for grant in rule.grants]


def weigh(
    admin: list[tuple[Mapping[str, Any], bool]],
    baseline: list[tuple[Mapping[str, Any], bool]],
    network_grants: list[Grant],
    isolated: bool,
    direction: str,
) -> tuple[list[Grant], bool]:
    """Every grant of one direction of a pod with the Deny rules credited against it, and whether anything
    restricts that direction. admin, baseline: (policy, whether its subject surely selects the pod) for the
    policies whose subject selects it at worst; network_grants: the NetworkPolicies' grants; isolated: whether a
    NetworkPolicy selects the pod for the direction."""
    rules = [(rule, sure) for policy, sure in admin for rule in admin_rules(policy, direction)]
    denies = [rule for rule, sure in rules if sure and rule.denies]
    passes = [rule for rule, _ in rules if rule.action == "Pass"]
    out = []
    for rule, _ in rules:
        if rule.action == "Allow":
            credited = tuple(d for deny in denies if precedes(deny, rule) for d in deny.denies)
            out.extend(grant._replace(denied=credited) for grant in rule.grants)
    # What reaches the NetworkPolicies (or the baseline) past the AdminNetworkPolicies.
    below = tuple(d for deny in denies if all(precedes(deny, p) for p in passes) for d in deny.denies)
    if isolated:
        return [*out, *(grant._replace(denied=below) for grant in network_grants)], True
    baseline_rules = [(rule, sure) for policy, sure in baseline for rule in admin_rules(policy, direction)]
    if not baseline_rules:  # no baseline policy with rules in this direction: nothing restricts it
        return out, False
    credited: list[Grant] = list(below)
    for rule, sure in baseline_rules:
        if rule.action == "Allow":
            out.extend(grant._replace(denied=tuple(credited)) for grant in rule.grants)
        elif rule.action == "Deny" and sure:
            credited.extend(rule.denies)
    name = baseline_rules[0][0].policy
    out.append(Grant(name, "no rule matches: allowed by default", None, None, tuple(credited)))
    return out, True


def admin_policy_problems(policy: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field path, what is wrong) for the fields of an admin policy the audit cannot read alike."""
    found = []
    spec = as_dict(policy.get("spec"))
    if policy.get("kind") == ADMIN_KIND and _priority(policy) is None:
        found.append(("spec.priority", f"{shown(spec.get('priority'))} is not a priority from 0 to 1000"))
    for key in ("egress", "ingress"):
        for index, rule in enumerate(as_list(spec.get(key))):
            rule = as_dict(rule)
            if rule.get("action") not in _actions(policy):
                *others, last = _actions(policy)
                action = shown(rule.get("action"))
                found.append((f"spec.{key}[{index}].action", f"{action} is not {', '.join(others)} or {last}"))
            for number, peer in enumerate(as_list(rule.get("to"))):
                for position, text in enumerate(as_list(as_dict(peer).get("networks"))):
                    try:
                        cidr.network(text)
                    except cidr.CidrError as error:
                        where = f"spec.{key}[{index}].to[{number}].networks[{position}]"
                        found.append((where, f"{shown(text)} {error}"))
    return found
