"""How the baseline rules read an executor pod: its executor containers' variables as the kubelet resolves them."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind.audit.container_env import ContainerEnv, EnvVar
from executor_dind.audit.scope import Scope, executor_pod
from executor_dind.krm.item import Item
from executor_dind.podspec import role_containers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def executor_vars(item: Item, scope: Scope, name: str) -> Iterator[EnvVar]:
    """The variable as each executor container gets it (unset ones skipped)."""
    spec, base = executor_pod(item)
    for entry, path in role_containers(spec, base, "executor"):
        var = ContainerEnv(item, scope, entry, path).get(name)
        if var is not None:
            yield var


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
