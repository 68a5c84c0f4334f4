"""The audit's vocabulary: the view of the audited items and the auditor's allowances (Scope), what a rule finds
(Finding), a rule (Rule)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from executor_dind.audit.allowances import DEFAULT, Allowances
from executor_dind.krm.item import Item
from executor_dind.podspec import has_pod_template, is_executor_workload, is_registry_workload, pod_spec
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


NETWORK_POLICY_API = "networking.k8s.io/v1"
ADMIN_POLICY_API = "policy.networking.k8s.io/v1alpha1"
ADMIN_POLICY_KINDS = ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy")
# Policy kinds that allow or deny traffic without containing "NetworkPolicy" in their names.
OTHER_POLICY_KINDS = frozenset({"EgressFirewall"})


def is_other_policy(item: Item) -> bool:
    """A policy API that is neither networking.k8s.io/v1 NetworkPolicy nor the admin policies the audit models:
    Cilium, Calico (also its own `kind: NetworkPolicy`), Antrea, OVN, ... and our own policy relabelled."""
    kind = item.kind
    if kind == "NetworkPolicy":
        return item.api_version != NETWORK_POLICY_API
    if kind in ADMIN_POLICY_KINDS:
        return item.api_version != ADMIN_POLICY_API
    return "NetworkPolic" in kind or kind in OTHER_POLICY_KINDS


class Scope:
    """The audit's view: every item, the kinds that decide what an executor pod may do, and what the auditor
    allows (never what the items say about themselves)."""

    def __init__(self, items: list[Item], allowances: Allowances = DEFAULT) -> None:
        self.items = items
        self.allowances = allowances
        self.network_policies: list[Item] = []
        self.admin_policies: list[Item] = []  # AdminNetworkPolicy, BaselineAdminNetworkPolicy
        self.other_policies: list[Item] = []
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
    def of(cls, items: list[Item], allowances: Allowances = DEFAULT) -> Scope:
        scope = cls(items, allowances)
        for item in items:
            kind = item.kind
            if is_other_policy(item):
                scope.other_policies.append(item)
            elif kind == "NetworkPolicy":
                scope.network_policies.append(item)
            elif kind in ADMIN_POLICY_KINDS:
                scope.admin_policies.append(item)
            elif kind == "Namespace":
                scope.namespaces[item.name] = item
            elif kind == "ServiceAccount":
                scope.service_accounts[(item.namespace, item.name)] = item
            elif kind == "ConfigMap":
                scope.config_maps[(item.namespace, item.name)] = item
            elif kind == "Secret":
                scope.secrets[(item.namespace, item.name)] = item
            elif kind == "RuntimeClass":
                scope.runtime_classes[item.name] = item
            elif kind in SCALER_KINDS:
                scope.scalers.append(item)
        return scope

    def workloads(self) -> list[Item]:
        """The items with a pod template (computed once per audit: the network rules read it per workload)."""
        memo_key = ("workloads", 0)
        if memo_key not in self.memo:
            self.memo[memo_key] = [
                item for item in self.items if has_pod_template(item) and pod_spec(item.obj) is not None
            ]
        return self.memo[memo_key]

    def workloads_in(self, namespace: str) -> list[Item]:
        """The items with a pod template in this namespace (grouped once per audit)."""
        memo_key = ("workloads-by-namespace", 0)
        if memo_key not in self.memo:
            grouped: dict[str, list[Item]] = {}
            for item in self.workloads():
                grouped.setdefault(item.namespace, []).append(item)
            self.memo[memo_key] = grouped
        return self.memo[memo_key].get(namespace, [])

    def registries(self) -> list[Item]:
        """The registry workloads (computed once per audit)."""
        memo_key = ("registries", 0)
        if memo_key not in self.memo:
            self.memo[memo_key] = [item for item in self.workloads() if is_registry_workload(item.obj)]
        return self.memo[memo_key]

    def executors(self) -> list[Item]:
        """The executor workloads (computed once per audit)."""
        memo_key = ("executors", 0)
        if memo_key not in self.memo:
            self.memo[memo_key] = [item for item in self.workloads() if is_executor_workload(item.obj)]
        return self.memo[memo_key]

    def scalers_of(self, item: Item) -> list[Item]:
        """The ScaledObjects and HorizontalPodAutoscalers whose scaleTargetRef is this workload; a KEDA ScaledJob
        scales itself (it creates the Jobs its pod template runs)."""
        found = [item] if item.kind == "ScaledJob" else []
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
    """An audit rule: a stable ID, a slug for people, a severity, the one-line summary docs/reference/rules.md
    shows, and a check over one workload. Rules check executor workloads; `any_workload` rules also check their
    registries."""

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
