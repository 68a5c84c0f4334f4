"""The executors' pull-through registry: a StatefulSet with its cache volume, and its Service."""

from __future__ import annotations

from executor_dind import resources
from executor_dind.naming import (
    PART_OF,
    REGISTRY,
    REGISTRY_POD_SELECTOR,
    REGISTRY_PORT,
    REGISTRY_UID,
    SERVICE_ACCOUNT,
    object_metadata,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.discovery import Context
    from executor_dind.spec import Spec


def _http_probe() -> dict[str, Any]:
    return {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 5}


def registry_objects(spec: Spec, context: Context) -> list[dict[str, Any]]:
    registry = spec.private_registry
    pod_labels = {"app": REGISTRY, "app.kubernetes.io/component": "executor", **REGISTRY_POD_SELECTOR}
    claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"]}
    if registry.storage_class_name:
        claim["storageClassName"] = registry.storage_class_name
    claim["resources"] = {"requests": {"storage": registry.storage}}
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_metadata(
            REGISTRY, context, annotations={"description": "Pull-through cache for the executors' dockerd"}
        ),
        "spec": {
            "replicas": 1,
            "serviceName": REGISTRY,
            "selector": {"matchLabels": {"app": REGISTRY, "app.kubernetes.io/part-of": PART_OF}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": REGISTRY_UID,
                        "runAsGroup": REGISTRY_UID,
                        "fsGroup": REGISTRY_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "registry",
                            "image": spec.images.registry,
                            "imagePullPolicy": "Always",
                            "env": [
                                {"name": "REGISTRY_HTTP_ADDR", "value": f":{REGISTRY_PORT}"},
                                {"name": "REGISTRY_PROXY_REMOTEURL", "value": registry.remote_url},
                                # distribution pings the remote at start and panics when it is down (a crash
                                # loop that also hides the cache); with an exec credential helper it defers
                                # that to the first pull. The helper fails, so pulls stay anonymous.
                                {"name": "REGISTRY_PROXY_EXEC_COMMAND", "value": "/bin/false"},
                            ],
                            "ports": [{"name": "http", "containerPort": REGISTRY_PORT, "protocol": "TCP"}],
                            "livenessProbe": {**_http_probe(), "initialDelaySeconds": 5},
                            "readinessProbe": _http_probe(),
                            "resources": resources.merged(resources.REGISTRY_RESOURCES, {}),
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                                "readOnlyRootFilesystem": True,
                            },
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            "volumeMounts": [{"name": "cache", "mountPath": "/var/lib/registry"}],
                        }
                    ],
                },
            },
            "volumeClaimTemplates": [{"metadata": {"name": "cache"}, "spec": claim}],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_metadata(REGISTRY, context),
        "spec": {
            # Headless: the StatefulSet's serviceName governs its pods' DNS names, which only a headless Service
            # gives; dockerd's mirror URL resolves to the pod address itself (port 5000 on both).
            "clusterIP": "None",
            "selector": dict(REGISTRY_POD_SELECTOR),
            "ports": [{"name": "http", "port": REGISTRY_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    return [statefulset, service]
