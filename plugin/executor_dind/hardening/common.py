"""What every hardening module shares: the audit rule and finding shapes, and the audit's view of the input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from executor_dind.krm_io import Item
from executor_dind.podspec import pod_spec
from executor_dind.results import Severity


@dataclass(frozen=True)
class Finding:
    item: Item
    field_path: str
    message: str


@dataclass
class Scope:
    """The audit's view: every item, and the kinds that decide what an executor pod may do."""

    items: list[Item]
    network_policies: list[Item] = field(default_factory=list)
    namespaces: dict[str, Item] = field(default_factory=dict)
    service_accounts: dict[tuple[str, str], Item] = field(default_factory=dict)
    config_maps: dict[tuple[str, str], Item] = field(default_factory=dict)

    @classmethod
    def of(cls, items: list[Item]) -> Scope:
        scope = cls(items)
        for item in items:
            if item.kind == "NetworkPolicy":
                scope.network_policies.append(item)
            elif item.kind == "Namespace":
                scope.namespaces[item.name] = item
            elif item.kind == "ServiceAccount":
                scope.service_accounts[(item.namespace, item.name)] = item
            elif item.kind == "ConfigMap":
                scope.config_maps[(item.namespace, item.name)] = item
        return scope


@dataclass(frozen=True)
class Rule:
    """An audit rule: a stable ID, a slug for people, a severity, and a check over one workload.

    Rules check executor workloads; `any_workload` rules also check the registries that serve them.
    """

    id: str
    slug: str
    severity: Severity
    summary: str
    check: Callable[[Item, Scope], Iterator[Finding]]
    any_workload: bool = False


def executor_pod(item: Item) -> tuple[dict[str, Any], str]:
    """The pod spec of an executor workload (the caller has established that it is one)."""
    located = pod_spec(item.obj)
    assert located is not None
    return located


def selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    """Kubernetes label selector semantics (matchLabels and matchExpressions); an empty selector matches all."""
    if not isinstance(selector, dict):
        return selector is None
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and (not present or labels[key] not in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True
