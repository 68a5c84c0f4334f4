"""The pods and namespaces reachability is resolved against: the output's workloads, plus witnesses for the pods
and namespaces the output does not show."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from executor_dind.audit.reach.selectors import NAME_LABEL, as_dict, as_list
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OTHER_NAMESPACE = "(any other namespace)"


class Pod(Record):
    """A pod a policy may select: a workload's pod template, or a witness for pods the output does not show."""

    namespace: str
    labels: Mapping[str, str]
    name: str  # for messages: "Deployment/sourcegraph/pgsql", "any other pod in namespace sourcegraph"
    ports: tuple[tuple[str, int, str], ...] = ()  # (name, number, protocol) of its containers' ports
    witness: bool = False


class World(Record):
    """The objects reachability is resolved against."""

    namespaces: Mapping[str, Mapping[str, str]]  # namespace -> its labels
    pods: tuple[Pod, ...]  # workload pods and witnesses
    by_namespace: Mapping[str, tuple[int, ...]]  # namespace -> the indexes in `pods` of its pods


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
