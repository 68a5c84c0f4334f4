"""The pods and namespaces reachability is resolved against: the output's workloads, plus witnesses for the pods
and namespaces the output does not show.

What the audit cannot resolve is read at its worst (for allow rules: it matches), and the match says why:
- A namespace's labels are known only where the output defines the namespace (a Namespace object): there a
  namespaceSelector is resolved exactly. A namespace the output only names (a workload's or a policy's namespace,
  the DNS namespace) and "any other namespace" carry labels the audit cannot see: a selector term on any key is
  read as met, and the match names the term ("namespaceSelector team=x: no namespace in the input carries it;
  read as matching any namespace whose labels the input does not define").
- `kubernetes.io/metadata.name` is set by the API server to the namespace's name: it is always resolved. A
  namespace the output names without showing its pods (an object's namespace, a name a policy's
  `kubernetes.io/metadata.name` term lists) holds pods the output does not show; any other name is "any other
  namespace".
- A podSelector that no pod the output shows in a selected namespace matches (and that a label-less pod does not
  meet) selects pods outside the render: it is read as matching a pod the input does not show, carrying the
  labels the selector asks for, and the match names the term.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from executor_dind.audit.reach.selectors import (
    NAME_LABEL,
    as_dict,
    as_list,
    selector_matches,
    selector_terms,
)
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OTHER_NAMESPACE = "(any other namespace)"
Term = tuple[str, str, tuple[str, ...]]  # (key, operator, values) of a selector


class Pod(Record):
    """A pod a policy may select: a workload's pod template, or a witness for pods the output does not show."""

    namespace: str
    labels: Mapping[str, str]
    name: str  # for messages: "Deployment/sourcegraph/pgsql", "any other pod in namespace sourcegraph"
    ports: tuple[tuple[str, int, str], ...] = ()  # (name, number, protocol) of its containers' ports
    witness: bool = False
    note: str = ""  # how a selector the output cannot resolve was read to match it (world's docstring)


class World(Record):
    """The objects reachability is resolved against."""

    namespaces: Mapping[str, Mapping[str, str]]  # namespace -> its labels
    pods: tuple[Pod, ...]  # workload pods and witnesses
    by_namespace: Mapping[str, tuple[int, ...]]  # namespace -> the indexes in `pods` of its pods
    defined: frozenset[str] = frozenset()  # the namespaces whose labels the output defines (Namespace objects)


def world(
    namespace_objects: Mapping[str, Mapping[str, str]],
    pods: Iterable[Pod],
    extra_pods: Iterable[Pod] = (),
    named: Iterable[str] = (),
) -> World:
    """Known namespaces (with objects, named by a pod, or in `named`: named by another object or by a policy's
    `kubernetes.io/metadata.name` term), their labels, and the pods with their witnesses."""
    pods = [*pods, *extra_pods]
    namespaces: dict[str, dict[str, str]] = {}
    for name in {*namespace_objects, *(pod.namespace for pod in pods), *named}:
        namespaces[name] = {**dict(as_dict(namespace_objects.get(name))), NAME_LABEL: name}
    namespaces[OTHER_NAMESPACE] = {NAME_LABEL: OTHER_NAMESPACE}
    witnesses = [Pod(name, {}, _witness_name(name), witness=True) for name in sorted(namespaces)]
    everyone = (*pods, *witnesses)
    by_namespace: dict[str, list[int]] = {}
    for index, pod in enumerate(everyone):
        by_namespace.setdefault(pod.namespace, []).append(index)
    indexes = {name: tuple(found) for name, found in by_namespace.items()}
    return World(namespaces, everyone, indexes, frozenset(namespace_objects))


def names_in(selector: Any) -> list[str]:
    """The namespace names a namespaceSelector's `kubernetes.io/metadata.name` terms list."""
    return [value for key, _, values in selector_terms(selector) or [] if key == NAME_LABEL for value in values]


def namespace_selected(selector: Any, name: str, known: World) -> tuple[bool, tuple[Term, ...]]:
    """Whether a namespaceSelector selects the namespace, and the terms read as met because the output does not
    define its labels (empty when resolved)."""
    if name in known.defined:
        return selector_matches(selector, known.namespaces[name]), ()
    terms = selector_terms(selector)
    if terms is None:
        return False, ()
    assumed = []
    for key, operator, values in terms:
        if key != NAME_LABEL:
            assumed.append((key, operator, values))
        elif not _name_met(name, operator, values, known):
            return False, ()
    return True, tuple(assumed)


def carried(term: Term, known: World) -> bool:
    """Whether a namespace the output defines meets the term."""
    key, operator, values = term
    expression = {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}
    return any(selector_matches(expression, known.namespaces[name]) for name in known.defined)


def _name_met(name: str, operator: str, values: tuple[str, ...], known: World) -> bool:
    """A term on `kubernetes.io/metadata.name`; "any other namespace" has some name the output does not know."""
    if name != OTHER_NAMESPACE:
        return selector_matches(
            {"matchExpressions": [{"key": NAME_LABEL, "operator": operator, "values": list(values)}]},
            {NAME_LABEL: name},
        )
    if operator == "In":
        return any(value not in known.namespaces for value in values)
    return operator != "DoesNotExist"


def _witness_name(namespace: str) -> str:
    if namespace == OTHER_NAMESPACE:
        return "any pod in any other namespace"
    return f"any other pod in namespace {namespace or '(none)'}"


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


def named_ports(pods: Iterable[Pod]) -> dict[tuple[str, str], tuple[int, ...]]:
    """(protocol, name) -> the numbers pods in the output give that name: where a named port toward an address
    can land (the name is resolved on whichever pod owns the address)."""
    out: dict[tuple[str, str], set[int]] = {}
    for pod in pods:
        for name, number, protocol in pod.ports:
            if name:
                out.setdefault((protocol, name), set()).add(number)
    return {key: tuple(sorted(numbers)) for key, numbers in out.items()}
