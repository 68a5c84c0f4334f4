"""Names, labels, ports and the metadata every injected object shares.

Names never collide with the upstream component's (`executor`, `executor-config`, `docker-config`,
`private-docker-registry`). Pod templates carry no `deploy: sourcegraph` label, so Sourcegraph's broad
NetworkPolicies never select executor pods.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.discovery import Context
    from executor_dind.spec import Queue

PART_OF = "executor-dind"
SERVICE_ACCOUNT = "executor-dind"
DOCKER_CONFIG = "executor-dind-docker"
METRICS_SERVICE = "executor-dind-metrics"
REGISTRY = "executor-dind-registry"
REGISTRY_PORT = 5000
METRICS_PORT = 6060
DOCKER_PORT = 2375
SCRATCH = "/scratch"
# What `init` writes into the password file; the function refuses a Secret that still holds it.
PASSWORD_PLACEHOLDER = "REPLACE-ME-with-executors.accessToken"
# The example literal of deploy-sourcegraph-k8s's template (its commented `executor-secret` generator): public.
UPSTREAM_EXAMPLE_PASSWORD = "our-shared-secret"
# Values a password Secret must not hold: what the function and the audit refuse, and what init replaces.
NOT_PASSWORDS = {
    PASSWORD_PLACEHOLDER: "still holds the placeholder `executor-dind init` wrote (in executor-password.txt)",
    UPSTREAM_EXAMPLE_PASSWORD: "is the example of deploy-sourcegraph-k8s's template (public)",
}
CHECKSUM_ANNOTATION = "executor-dind.dev/config-checksum"
# The cluster DNS pods and Prometheus as deploy-sourcegraph-k8s and kube-dns/CoreDNS label them.
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}
PROMETHEUS_POD_LABELS = {"app": "prometheus"}
OBJECT_LABELS = {
    "deploy": "sourcegraph",
    "sourcegraph-resource-requires": "no-cluster-admin",
    "app.kubernetes.io/component": "executor",
    "app.kubernetes.io/part-of": PART_OF,
}
# Cluster-scoped objects (the executors' Namespace, a RuntimeClass) need a cluster admin to apply, and say so
# as deploy-sourcegraph-k8s labels its RBAC objects.
CLUSTER_OBJECT_LABELS = {**OBJECT_LABELS, "sourcegraph-resource-requires": "cluster-admin"}
# Every executor pod, whatever its queue: the metrics Service and the NetworkPolicy select these.
EXECUTOR_POD_SELECTOR = {"app.kubernetes.io/name": "executor", "app.kubernetes.io/part-of": PART_OF}
REGISTRY_POD_SELECTOR = {"app.kubernetes.io/name": REGISTRY, "app.kubernetes.io/part-of": PART_OF}
EXECUTOR_UID, EXECUTOR_GID = 100, 101
# >= 10000 (checkov CKV_K8S_40): no collision with host users; the registry image runs as any uid.
REGISTRY_UID = 65532
EXECUTOR_TMP_SIZE = "1Gi"


# The kinds that run a queue's executors: a Deployment (isolation: shared) or a KEDA ScaledJob (isolation: job).
EXECUTOR_KINDS = ("Deployment", "ScaledJob")


def deployment_name(queue: Queue) -> str:
    """The name of a queue's executor workload (its Deployment or ScaledJob) and of its pods' `app` label."""
    return f"executor-{queue.name}"


def executor_pod_selector(name: str) -> dict[str, str]:
    """The labels that select the pods of the executor workload of this name, and no registry pod."""
    return {"app": name, **EXECUTOR_POD_SELECTOR}


def object_metadata(name: str, context: Context, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if context.namespace:
        meta["namespace"] = context.namespace
    meta["labels"] = dict(OBJECT_LABELS)
    meta.update(extra)
    return meta
