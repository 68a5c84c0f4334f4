"""Pod security: executors in a Namespace of their own, labelled for Pod Security Admission (our addition).

dind needs `privileged` (and gVisor's capability set exceeds the baseline standard too), so the executors'
Namespace enforces `privileged` while warning and auditing at `baseline`; Sourcegraph's own namespace is never
touched and can stay at baseline or restricted. Needs spec.namespace, different from Sourcegraph's.

Rules:
  EXD401 shared-namespace  warning  executor pods share a namespace with other Sourcegraph workloads
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from executor_dind.config import Spec
from executor_dind.discovery import Context
from executor_dind.hardening.common import Finding, Rule, Scope
from executor_dind.krm_io import Item
from executor_dind.model import CLUSTER_OBJECT_LABELS
from executor_dind.podspec import is_executor_workload, is_registry_workload, pod_spec
from executor_dind.results import Result

ID = "podSecurity"
PROFILES = ("strict",)
GUARANTEES = "privileged pods are admitted only in the executors' namespace; Sourcegraph's keeps its own level"
REQUIRES = "Pod Security Admission (Kubernetes >= 1.25) and spec.namespace set to a namespace of their own"
PSA_LABELS = {
    "pod-security.kubernetes.io/enforce": "privileged",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "baseline",
    "pod-security.kubernetes.io/warn-version": "latest",
    "pod-security.kubernetes.io/audit": "baseline",
    "pod-security.kubernetes.io/audit-version": "latest",
}


def config(spec: Spec) -> Any:
    return spec.hardening.pod_security


def namespace_object(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**CLUSTER_OBJECT_LABELS, **PSA_LABELS}},
    }


def apply(spec: Spec, context: Context, objects: list[dict[str, Any]]) -> list[Result]:
    if not spec.namespace or spec.namespace == context.sourcegraph_namespace:
        reason = "is not set" if not spec.namespace else f"is Sourcegraph's own namespace ({spec.namespace!r})"
        return [
            Result(
                f"hardening.podSecurity needs the executors in a namespace of their own, but spec.namespace "
                f"{reason}: set spec.namespace (e.g. sourcegraph-executors) or disable hardening.podSecurity",
                field_path="spec.namespace",
            )
        ]
    objects.append(namespace_object(spec.namespace))
    return []


def shared_namespace(item: Item, scope: Scope) -> Iterator[Finding]:
    others = [
        other.describe()
        for other in scope.items
        if other is not item
        and other.namespace == item.namespace
        and pod_spec(other.obj) is not None
        and not is_executor_workload(other.obj)
        and not is_registry_workload(other.obj)
        and other.label("deploy") == "sourcegraph"
        and other.label("app.kubernetes.io/part-of") != "executor-dind"
    ]
    if others:
        yield Finding(
            item,
            "metadata.namespace",
            f"privileged executor pods share namespace {item.namespace or '(none)'!r} with {len(others)} other "
            f"Sourcegraph workloads (e.g. {others[0]}): its Pod Security level must admit privileged pods for "
            "all of them; enable hardening.podSecurity with a namespace of their own",
        )


RULES = (Rule("EXD401", "shared-namespace", "warning", "executors share Sourcegraph's namespace", shared_namespace),)
