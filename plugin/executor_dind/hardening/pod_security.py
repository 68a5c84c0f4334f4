"""Pod security: executors in a Namespace of their own, labelled for Pod Security Admission (our addition).

dind needs `privileged` (and gVisor's capability set exceeds the baseline standard too), so the executors'
Namespace enforces `privileged` while warning and auditing at `baseline`; Sourcegraph's own namespace is never
touched and can stay at baseline or restricted. Needs spec.namespace, different from Sourcegraph's.
"""

from __future__ import annotations

from executor_dind.hardening.common import Applied, Control
from executor_dind.naming import CLUSTER_OBJECT_LABELS
from executor_dind.results import Result
from executor_dind.settings import PodSecurity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
)
