"""Container resources: the defaults, the user's overrides merged over them, and dind's storage arithmetic."""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.spec import Spec

DEFAULT_EXECUTOR_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "1Gi"},
    "limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "2Gi"},
}
DEFAULT_DIND_RESOURCES = {
    "requests": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "10Gi"},
    # ephemeral-storage: the emptyDirs dind fills are added to this (see _dind_resources).
    "limits": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "4Gi"},
}
_QUANTITY_UNITS = {
    **{suffix: 1000**power for power, suffix in enumerate(("", "k", "M", "G", "T", "P", "E"))},
    **{suffix: 1024**power for power, suffix in enumerate(("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")) if suffix},
    "m": 0.001,
}
REGISTRY_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "256Mi"},
    "limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"},
}


def merged(defaults: dict[str, dict[str, str]], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = {key: dict(values) for key, values in defaults.items()}
    for key, values in override.items():
        merged[key] = {**merged.get(key, {}), **(values or {})}
    return merged


def quantity_bytes(quantity: str) -> float:
    number = quantity.rstrip("KMGTPEikm")
    return float(number) * _QUANTITY_UNITS[quantity[len(number) :]]


def dind_resources(spec: Spec) -> dict[str, Any]:
    """dind's defaults, with an ephemeral-storage limit that covers the emptyDirs it fills.

    The kubelet evicts a pod whose ephemeral storage (emptyDirs included) exceeds the sum of its containers'
    limits, long before an emptyDir reaches its own sizeLimit: so the sizes of /var/lib/docker and of an
    emptyDir /scratch go into dind's limit, on top of its own writable layer and logs.
    """
    volumes = quantity_bytes(spec.docker.storage_size)
    if spec.storage.type == "emptyDir":
        volumes += quantity_bytes(spec.scratch_size)
    layer = quantity_bytes(DEFAULT_DIND_RESOURCES["limits"]["ephemeral-storage"])
    defaults = {key: dict(values) for key, values in DEFAULT_DIND_RESOURCES.items()}
    mebibytes = -(-int(volumes + layer) // 1024**2)
    defaults["limits"]["ephemeral-storage"] = f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 else f"{mebibytes}Mi"
    return merged(defaults, spec.docker.resources)


_STANDARD = ("cpu", "memory", "ephemeral-storage", "storage")


def _native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def requirement_problems(requirements: Mapping[str, Any], where: str, defaults: Mapping[str, Any]) -> list[Any]:
    """(field path, message) for what the API server rejects in a container's resources, defaults merged in
    (apimachinery's ValidateResourceRequirements): a request above its limit; an unprefixed name that is not a
    standard resource; a resource that cannot be overcommitted (extended, hugepages) whose request is not its
    limit."""
    problems = []
    requests, limits = requirements.get("requests") or {}, requirements.get("limits") or {}
    for kind, amounts in (("requests", requests), ("limits", limits)):
        for name in amounts:
            if _native(name) and name not in _STANDARD and not name.startswith("hugepages-"):
                problems.append(
                    (
                        f"{where}.{kind}.{name}",
                        f"{name!r} is not a standard resource (cpu, memory, ephemeral-storage, hugepages-<size>): "
                        "an extended resource needs its vendor's prefix, e.g. nvidia.com/gpu",
                    )
                )
    for name, request in requests.items():
        limit = limits.get(name)
        overcommit = _native(name) and not name.startswith("hugepages-")
        default_limit = limit is not None and limit == (defaults.get("limits") or {}).get(name)
        default_request = request == (defaults.get("requests") or {}).get(name)
        if limit is None:
            if not overcommit:
                problems.append(
                    (
                        f"{where}.limits.{name}",
                        f"must be set, equal to the request ({request}): {name} cannot be overcommitted",
                    )
                )
        elif not overcommit and quantity_bytes(str(request)) != quantity_bytes(str(limit)):
            problems.append(
                (
                    f"{where}.requests.{name}",
                    f"{request} must equal the limit {limit}: {name} cannot be overcommitted (the API server "
                    "rejects it)",
                )
            )
        elif quantity_bytes(str(request)) > quantity_bytes(str(limit)) and default_request and not default_limit:
            problems.append(
                (
                    f"{where}.limits.{name}",
                    f"{limit} is less than the default request {request}: the API server rejects it; lower "
                    f"requests.{name} too",
                )
            )
        elif quantity_bytes(str(request)) > quantity_bytes(str(limit)):
            default = " (the default limit)" if default_limit else ""
            problems.append(
                (
                    f"{where}.requests.{name}",
                    f"{request} is more than the limit {limit}{default}: the API server rejects it; raise "
                    f"limits.{name} too",
                )
            )
    return problems
