"""The node pool control's audit rule: executor pods confined to nodes of their own."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod
from executor_dind.krm_io import Item

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONTROL = "nodePool"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def shared_nodes(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    affinity = _mapping(_mapping(spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not spec.get("nodeSelector") and not affinity:
        yield Finding(
            item,
            f"{base}.nodeSelector",
            "executor pods can be scheduled on any node, beside Sourcegraph's services: "
            "enable hardening.nodePool (a tainted, dedicated pool)",
        )
    elif not spec.get("tolerations"):
        yield Finding(
            item,
            f"{base}.tolerations",
            "executor pods select nodes but tolerate no taint: other workloads can land on those nodes too",
        )


RULES = (
    Rule(
        "EXD101",
        "shared-nodes",
        "warning",
        "executor pods may run on nodes shared with other workloads",
        shared_nodes,
    ),
)
