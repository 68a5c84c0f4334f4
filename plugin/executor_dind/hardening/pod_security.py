"""Pod security: executors in a Namespace of their own, labelled for Pod Security Admission (our addition).

dind needs `privileged` (and gVisor's capability set exceeds the baseline standard too), so the executors'
Namespace enforces `privileged` while warning and auditing at `baseline`; Sourcegraph's own namespace is never
touched and can stay at baseline or restricted. Needs spec.namespace, different from Sourcegraph's.
"""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind.hardening.common import Applied, Control, Finding, Rule, Scope
from executor_dind.krm_io import Item
from executor_dind.naming import CLUSTER_OBJECT_LABELS
from executor_dind.podspec import is_executor_workload, is_registry_workload
from executor_dind.records import Field, Record
from executor_dind.results import Result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Annotated, Any

    from executor_dind.discovery import Context
    from executor_dind.spec import Spec
PSA_LABELS = {
    "pod-security.kubernetes.io/enforce": "privileged",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "baseline",
    "pod-security.kubernetes.io/warn-version": "latest",
    "pod-security.kubernetes.io/audit": "baseline",
    "pod-security.kubernetes.io/audit-version": "latest",
}


class PodSecurity(Record):
    enabled: Annotated[bool | None, Field(doc="unset: the profile decides; needs spec.namespace")] = None


def namespace_object(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**CLUSTER_OBJECT_LABELS, **PSA_LABELS}},
    }


def check(spec: Spec, context: Context) -> list[Result]:
    if spec.namespace and spec.namespace != context.sourcegraph_namespace:
        return []
    reason = "is not set" if not spec.namespace else f"is Sourcegraph's own namespace ({spec.namespace!r})"
    return [
        Result(
            f"hardening.podSecurity needs the executors in a namespace of their own, but spec.namespace "
            f"{reason}: set spec.namespace (e.g. sourcegraph-executors) or disable hardening.podSecurity",
            "error",
            context.config_ref,
            "spec.namespace",
        )
    ]


def apply(spec: Spec, context: Context, objects: tuple[dict[str, Any], ...]) -> Applied:
    return Applied(added=(namespace_object(spec.namespace),))


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


CONTROL = Control(
    id="podSecurity",
    profiles=("strict",),
    does="the executors' own Namespace labelled `pod-security.kubernetes.io/enforce: privileged`, "
    "`warn`/`audit: baseline`",
    guarantees="privileged pods are admitted only in the executors' namespace; Sourcegraph's keeps its own level",
    requires="Pod Security Admission (Kubernetes >= 1.25) and spec.namespace set to a namespace of their own",
    settings=PodSecurity,
    check=check,
    apply=apply,
    rules=(
        Rule(
            "EXD401",
            "shared-namespace",
            "warning",
            "executors share a namespace with other Sourcegraph workloads",
            shared_namespace,
        ),
    ),
)
