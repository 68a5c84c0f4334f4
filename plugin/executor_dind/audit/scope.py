"""The audit's vocabulary: the view of the audited items (Scope), what a rule finds (Finding), a rule (Rule)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from executor_dind.krm_io import Item
from executor_dind.podspec import pod_spec
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.results import Severity

SCALER_KINDS = frozenset({"ScaledObject", "HorizontalPodAutoscaler"})


class Finding(Record):
    item: Item
    field_path: str
    message: str


class Scope:
    """The audit's view: every item, and the kinds that decide what an executor pod may do."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.network_policies: list[Item] = []
        self.namespaces: dict[str, Item] = {}
        self.service_accounts: dict[tuple[str, str], Item] = {}
        self.config_maps: dict[tuple[str, str], Item] = {}
        self.secrets: dict[tuple[str, str], Item] = {}
        self.runtime_classes: dict[str, Item] = {}
        # KEDA ScaledObjects and HorizontalPodAutoscalers: what changes a workload's replica count.
        self.scalers: list[Item] = []
        # What a rule computes once per workload for its siblings (the network rules' reachability).
        self.memo: dict[tuple[str, int], Any] = {}

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
            elif item.kind == "Secret":
                scope.secrets[(item.namespace, item.name)] = item
            elif item.kind == "RuntimeClass":
                scope.runtime_classes[item.name] = item
            elif item.kind in SCALER_KINDS:
                scope.scalers.append(item)
        return scope

    def scalers_of(self, item: Item) -> list[Item]:
        """The ScaledObjects and HorizontalPodAutoscalers whose scaleTargetRef is this workload."""
        found = []
        for scaler in self.scalers:
            spec = scaler.obj.get("spec") if isinstance(scaler.obj, dict) else None
            target = spec.get("scaleTargetRef") if isinstance(spec, dict) else None
            if not isinstance(target, dict) or scaler.namespace != item.namespace:
                continue
            # KEDA's ScaledObject defaults the kind to Deployment; the HPA requires it.
            if target.get("name") == item.name and target.get("kind", "Deployment") == item.kind:
                found.append(scaler)
        return found


class Rule(Record):
    """An audit rule: a stable ID, a slug for people, a severity, the one-line summary README's table shows, and
    a check over one workload. Rules check executor workloads; `any_workload` rules also check their registries."""

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
    """Kubernetes label selector semantics (matchLabels and matchExpressions); an empty selector matches all,
    a malformed one nothing."""
    from executor_dind.audit.reach import selector_matches as matches

    return matches(selector, labels)


def config_map_data(scope: Scope, namespace: str, name: Any) -> dict[str, Any]:
    config_map = scope.config_maps.get((namespace, str(name)))
    data = config_map.obj.get("data") if config_map is not None else None
    return data if isinstance(data, dict) else {}
