"""The audit: every rule of every hardening module over the executor workloads of any rendered output."""

from __future__ import annotations

from executor_dind.hardening import RULES
from executor_dind.hardening.common import Scope
from executor_dind.krm_io import Item
from executor_dind.podspec import REGISTRY_NAMES, is_executor_workload, pod_spec
from executor_dind.results import Result, about, sort_results


def in_scope(item: Item) -> bool:
    """Executor workloads (ours, upstream's, hand-made) and the registries that serve them."""
    if not item.is_mapping or pod_spec(item.obj) is None:
        return False
    return is_executor_workload(item.obj) or item.name in REGISTRY_NAMES


def audit(items: list[Item], targets: list[Item] | None = None) -> list[Result]:
    """Findings over the workloads of items (or only over targets, judged with everything in items around them)."""
    scope = Scope.of(items)
    findings = []
    workloads = [item for item in (items if targets is None else targets) if in_scope(item)]
    for item in workloads:
        executor = is_executor_workload(item.obj)
        for rule in RULES.values():
            if not executor and not rule.any_workload:
                continue
            for finding in rule.check(item, scope):
                findings.append(
                    about(finding.item, f"{finding.message} ({rule.slug})", rule.severity, finding.field_path, rule.id)
                )
    if not any(is_executor_workload(item.obj) for item in workloads):
        findings.append(Result("no executor workload (a pod with containers `executor` and `dind`) found", "info"))
    return sort_results(findings)
