"""The node pool control's audit rule: executor pods confined to nodes of their own."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod
from executor_dind.krm.item import Item

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONTROL = "nodePool"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# Labels every node carries: a selector on them (or one that only excludes) pins no pool.
EVERY_NODE_LABELS = frozenset(
    {"kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/arch"}
)
_SELECTING_OPERATORS = ("In", "Exists", "Gt", "Lt")


def _term_pins(term: Any) -> bool:
    """A nodeSelectorTerm narrows the nodes to a pool: it requires a label that not every node carries."""
    expressions = _mapping(term).get("matchExpressions")
    return any(
        isinstance(e, dict) and e.get("key") not in EVERY_NODE_LABELS and e.get("operator") in _SELECTING_OPERATORS
        for e in (expressions if isinstance(expressions, list) else [])
    )


def pins_pool(spec: dict[str, Any]) -> bool:
    """The pod selects a subset of the nodes: a nodeSelector or a required node affinity (every term ORed) on a
    label not every node carries."""
    selector = spec.get("nodeSelector")
    if isinstance(selector, dict) and any(key not in EVERY_NODE_LABELS for key in selector):
        return True
    required = _mapping(_mapping(spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    terms = _mapping(required).get("nodeSelectorTerms")
    return isinstance(terms, list) and bool(terms) and all(_term_pins(term) for term in terms)


def tolerates_every_taint(tolerations: Any) -> bool:
    """`operator: Exists` with no key tolerates every taint (of its effect, or all effects when it names none)."""
    return any(
        isinstance(t, dict)
        and not t.get("key")
        and t.get("operator") == "Exists"
        and t.get("effect") in (None, "", "NoSchedule")
        for t in (tolerations if isinstance(tolerations, list) else [])
    )


def shared_nodes(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    if tolerates_every_taint(spec.get("tolerations")) and not pins_pool(spec):
        yield Finding(
            item,
            f"{base}.tolerations",
            "executor pods tolerate every taint and select nodes any node satisfies: they can be scheduled on "
            "every node, the control plane included; tolerate only the pool's taint and select its nodes",
        )
    elif not pins_pool(spec):
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
        "executor pods may run on nodes shared with other workloads (no selector that pins a pool, or every taint "
        "tolerated with a selector any node satisfies)",
        shared_nodes,
    ),
)
