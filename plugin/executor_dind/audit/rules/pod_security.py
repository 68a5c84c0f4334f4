"""The pod security control's audit rule: privileged executor pods in a namespace of their own."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind.audit.scope import Finding, Rule, Scope
from executor_dind.krm.item import Item
from executor_dind.podspec import is_executor_workload, is_registry_workload

CONTROL = "podSecurity"


def shared_namespace(item: Item, scope: Scope) -> Iterator[Finding]:
    others = [
        other.describe()
        for other in scope.workloads_in(item.namespace)
        if other is not item
        and other.label("deploy") == "sourcegraph"
        and other.label("app.kubernetes.io/part-of") != "executor-dind"
        and not is_executor_workload(other.obj)
        and not is_registry_workload(other.obj)
    ]
    if others:
        yield Finding(
            item,
            "metadata.namespace",
            f"privileged executor pods share namespace {item.namespace or '(none)'!r} with {len(others)} other "
            f"Sourcegraph workloads (e.g. {others[0]}): its Pod Security level must admit privileged pods for "
            "all of them; enable hardening.podSecurity with a namespace of their own",
        )


RULES = (
    Rule(
        "EXD401",
        "shared-namespace",
        "warning",
        "executors share a namespace with other Sourcegraph workloads",
        shared_namespace,
    ),
)
