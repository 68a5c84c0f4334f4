"""Where pod specs live in workload objects, and which workloads are executors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# kind -> path of its pod spec, and that path as a field path for results.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def pod_spec(obj: Any) -> tuple[dict[str, Any], str] | None:
    """The pod spec of a workload object and its field path, or None."""
    if not isinstance(obj, dict) or obj.get("kind") not in POD_SPEC_PATHS:
        return None
    node: Any = obj
    path = POD_SPEC_PATHS[obj["kind"]]
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return (node, ".".join(path)) if isinstance(node, dict) else None


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    if obj.get("kind") == "Pod":
        labels = (obj.get("metadata") or {}).get("labels")
    else:
        path = POD_SPEC_PATHS[obj["kind"]][:-1]
        node: Any = obj
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        labels = ((node or {}).get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def containers(spec: dict[str, Any], base: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every container and init container with its field path."""
    for key in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(key) or []):
            if isinstance(container, dict):
                yield container, f"{base}.{key}[{index}]"


def container(spec: dict[str, Any], name: str) -> dict[str, Any] | None:
    for key in ("initContainers", "containers"):
        for candidate in spec.get(key) or []:
            if isinstance(candidate, dict) and candidate.get("name") == name:
                return candidate
    return None


# The executors' pull-through registries: upstream's and ours.
REGISTRY_NAMES = frozenset({"private-docker-registry", "executor-dind-registry"})


def is_executor_workload(obj: Any) -> bool:
    """Any workload with an executor container and a dind container: ours, upstream's or hand-made."""
    located = pod_spec(obj)
    if located is None:
        return False
    spec = located[0]
    return container(spec, "executor") is not None and container(spec, "dind") is not None
