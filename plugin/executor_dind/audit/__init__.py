"""The audit: every rule of the registry (audit/rules/) over the executor workloads of any rendered output."""

from __future__ import annotations

from executor_dind.audit.allowances import DEFAULT, Allowances
from executor_dind.audit.rules import RULES
from executor_dind.audit.scope import Scope
from executor_dind.krm.item import Item
from executor_dind.podspec import has_pod_template, is_executor_workload, is_registry_workload, pod_spec
from executor_dind.results import Result, about, sort_results

NO_EXECUTOR = "EXD000"


def in_scope(item: Item) -> bool:
    """Executor workloads (ours, upstream's, hand-made) and the registries that serve them."""
    return _role(item) is not None


def _role(item: Item) -> bool | None:
    """True for an executor workload, False for a registry, None for anything else (out of scope)."""
    # Read from the node: an item without a pod template is never constructed (it may not even be
    # constructible, and building every object would cost the self-audit most of a run).
    if not has_pod_template(item) or pod_spec(item.obj) is None:
        return None
    if is_executor_workload(item.obj):
        return True
    return False if is_registry_workload(item.obj) else None


def _role_in(scope: Scope, item: Item) -> bool | None:
    """_role of an item of the scope, read from its executors and registries (found once per audit): an item
    that is not among its workloads has no pod template, so no role."""
    memo_key = ("roles", 0)
    if memo_key not in scope.memo:
        roles: dict[int, bool] = {id(registry): False for registry in scope.registries()}
        roles.update((id(executor), True) for executor in scope.executors())
        scope.memo[memo_key] = roles
    return scope.memo[memo_key].get(id(item))


def audit(
    items: list[Item],
    allow_none: bool = False,
    targets: list[Item] | None = None,
    errors_only: bool = False,
    allowances: Allowances = DEFAULT,
) -> list[Result]:
    """Findings over the workloads of items (or only over targets, judged with everything in items around them);
    no executor workload is an error (the function was dropped, or the input is not the render) unless
    `allow_none`, and no object at all always is. errors_only: run only the error rules (the self-audit).
    allowances: what the auditor allows beyond the defaults (never read from the items)."""
    scope = Scope.of(items, allowances)
    findings = [
        Result(f"out of the audit's scope by the auditor's config: {kind} ({reason})", "info")
        for kind, reason in allowances.out_of_scope
    ]
    if targets is None:
        roles = [(item, _role_in(scope, item)) for item in items]
    else:  # the self-audit's few targets: asking each is cheaper than finding every workload of the input
        roles = [(item, _role(item)) for item in targets]
    workloads = [(item, executor) for item, executor in roles if executor is not None]
    for item, executor in workloads:
        for rule in RULES.values():
            if (not executor and not rule.any_workload) or (errors_only and rule.severity != "error"):
                continue
            for finding in rule.check(item, scope):
                findings.append(
                    about(finding.item, f"{finding.message} ({rule.slug})", rule.severity, finding.field_path, rule.id)
                )
    if not items:
        findings.append(Result("the input holds no objects (no-executor-workload)", "error", rule=NO_EXECUTOR))
    elif not any(executor for _, executor in workloads):
        message = (
            "no executor workload (a pod running the executor, dockerd or a dind image) found: the function may "
            "have been dropped (kustomize without --enable-exec?)"
        )
        severity = "info" if allow_none else "error"
        findings.append(Result(f"{message} (no-executor-workload)", severity, rule="" if allow_none else NO_EXECUTOR))
    return sort_results(findings)
