"""The executor Deployment of one queue: the executor container, the dind sidecar, their volumes and probes."""

from __future__ import annotations

import json
import zlib

from executor_dind import resources
from executor_dind.checkov import CHECKOV_SKIPS, PLAIN_CONTAINER_SKIPS, skip_annotations
from executor_dind.naming import (
    CHECKSUM_ANNOTATION,
    DOCKER_CONFIG,
    DOCKER_PORT,
    EXECUTOR_GID,
    EXECUTOR_POD_SELECTOR,
    EXECUTOR_TMP_SIZE,
    EXECUTOR_UID,
    METRICS_PORT,
    SCRATCH,
    SERVICE_ACCOUNT,
    deployment_name,
    object_metadata,
)
from executor_dind.records import thaw

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.discovery import Context
    from executor_dind.spec import Queue, Spec

DOCKER_PING = ("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{DOCKER_PORT}/_ping")
EXECUTOR_RUNNING = ("/usr/bin/pgrep", "-f", "/usr/local/bin/executor")


def _exec_probe(command: tuple[str, ...], **settings: int) -> dict[str, Any]:
    return {"exec": {"command": list(command)}, **settings}


def _env(spec: Spec, queue: Queue, context: Context) -> list[dict[str, Any]]:
    queue_names = list(queue.queue_names or (queue.name,))
    queue_var = ("EXECUTOR_QUEUE_NAME", queue_names[0]) if len(queue_names) == 1 else None
    secret = spec.frontend.password_secret
    env: list[dict[str, Any]] = [
        {"name": "EXECUTOR_FRONTEND_URL", "value": context.frontend_url},
        {
            "name": "EXECUTOR_FRONTEND_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": context.secret_name(spec), "key": secret.key}},
        },
        {"name": queue_var[0], "value": queue_var[1]}
        if queue_var
        else {"name": "EXECUTOR_QUEUE_NAMES", "value": ",".join(queue_names)},
        {"name": "EXECUTOR_MAXIMUM_NUM_JOBS", "value": str(queue.maximum_num_jobs)},
        {"name": "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB", "value": spec.maximum_runtime_per_job},
        {"name": "EXECUTOR_USE_FIRECRACKER", "value": "false"},
        {"name": "EXECUTOR_USE_KUBERNETES", "value": "false"},
        # Jobs are bounded by the dind container's limits, not per job.
        {"name": "EXECUTOR_JOB_NUM_CPUS", "value": "0"},
        {"name": "EXECUTOR_JOB_MEMORY", "value": "0"},
        {"name": "DOCKER_HOST", "value": f"tcp://127.0.0.1:{DOCKER_PORT}"},
        {"name": "TMPDIR", "value": SCRATCH},
        {"name": "SRC_LOG_LEVEL", "value": spec.log.level},
        {"name": "SRC_LOG_FORMAT", "value": spec.log.format},
    ]
    for name in sorted(queue.env):
        value = queue.env[name]
        env.append({"name": name, "value": value} if isinstance(value, str) else {"name": name, **thaw(value)})
    return env


def _executor_container(spec: Spec, queue: Queue, context: Context) -> dict[str, Any]:
    return {
        "name": "executor",
        "image": spec.images.executor,
        "imagePullPolicy": "Always",
        "env": _env(spec, queue, context),
        "ports": [{"name": "debug", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "livenessProbe": _exec_probe(EXECUTOR_RUNNING, initialDelaySeconds=15, timeoutSeconds=5),
        "readinessProbe": _exec_probe(EXECUTOR_RUNNING, periodSeconds=5, timeoutSeconds=5),
        "resources": resources.merged(resources.DEFAULT_EXECUTOR_RESOURCES, queue.resources),
        "securityContext": {
            "runAsUser": EXECUTOR_UID,
            "runAsGroup": EXECUTOR_GID,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
            # The executor writes job workspaces, scripts and docker auth under TMPDIR (/scratch) only;
            # /tmp is an emptyDir for tools that ignore TMPDIR.
            "readOnlyRootFilesystem": True,
        },
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "executor-scratch", "mountPath": SCRATCH},
            {"name": "executor-tmp", "mountPath": "/tmp"},
        ],
    }


def _dind_container(spec: Spec) -> dict[str, Any]:
    dind: dict[str, Any] = {
        "name": "dind",
        "image": spec.images.dind,
        "imagePullPolicy": "Always",
        # The image's entrypoint adds its own --host flags, which conflict with `hosts` in daemon.json.
        "command": ["dockerd"],
    }
    if spec.docker.native_sidecar:
        dind["restartPolicy"] = "Always"
    dind.update(
        {
            # The kubelet cannot dial 127.0.0.1 inside the pod: probe from inside the container.
            "startupProbe": _exec_probe(DOCKER_PING, periodSeconds=2, failureThreshold=60),
            "livenessProbe": _exec_probe(DOCKER_PING, periodSeconds=10, failureThreshold=6),
            "readinessProbe": _exec_probe(DOCKER_PING, periodSeconds=5, failureThreshold=3),
            "resources": resources.dind_resources(spec),
            "securityContext": {"privileged": True},
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "volumeMounts": [
                {"name": "executor-scratch", "mountPath": SCRATCH},
                {"name": "docker-storage", "mountPath": "/var/lib/docker"},
                {
                    "name": "docker-config",
                    "mountPath": "/etc/docker/daemon.json",
                    "subPath": "daemon.json",
                    "readOnly": True,
                },
            ],
        }
    )
    return dind


def _scratch_volume(spec: Spec) -> dict[str, Any]:
    if spec.storage.type == "ephemeral":
        claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"]}
        if spec.storage.storage_class_name:
            claim["storageClassName"] = spec.storage.storage_class_name
        claim["resources"] = {"requests": {"storage": spec.storage.size}}
        return {"name": "executor-scratch", "ephemeral": {"volumeClaimTemplate": {"spec": claim}}}
    return {"name": "executor-scratch", "emptyDir": {"sizeLimit": spec.scratch_size}}


def executor_deployment(spec: Spec, queue: Queue, context: Context, daemon_json: str) -> dict[str, Any]:
    """daemon_json: the text of the daemon.json the pods mount; its checksum (and the env's) rolls them."""
    name = deployment_name(queue)
    pod_labels = {"app": name, "app.kubernetes.io/component": "executor", **EXECUTOR_POD_SELECTOR}
    executor = _executor_container(spec, queue, context)
    dind = _dind_container(spec)
    pod_spec: dict[str, Any] = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": spec.grace_period_seconds,
        "securityContext": {"fsGroup": EXECUTOR_GID, "fsGroupChangePolicy": "OnRootMismatch"},
    }
    if spec.docker.native_sidecar:
        pod_spec["initContainers"] = [dind]
        pod_spec["containers"] = [executor]
    else:
        pod_spec["containers"] = [executor, dind]
    pod_spec["volumes"] = [
        _scratch_volume(spec),
        {"name": "docker-storage", "emptyDir": {"sizeLimit": spec.docker.storage_size}},
        {"name": "docker-config", "configMap": {"name": DOCKER_CONFIG, "defaultMode": 0o444}},
        {"name": "executor-tmp", "emptyDir": {"sizeLimit": EXECUTOR_TMP_SIZE}},
    ]
    deployment_metadata = object_metadata(
        name,
        context,
        annotations={
            "description": "Sourcegraph executors with a dind sidecar for "
            + ", ".join(queue.queue_names or (queue.name,))
        },
    )
    skips = CHECKOV_SKIPS if spec.docker.native_sidecar else {**CHECKOV_SKIPS, **PLAIN_CONTAINER_SKIPS}
    deployment_metadata["annotations"].update(skip_annotations(skips))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": deployment_metadata,
        "spec": {
            "replicas": queue.replicas,
            "minReadySeconds": 10,
            "revisionHistoryLimit": 10,
            # With the name label, no queue name can make this selector match the registry's pods.
            "selector": {"matchLabels": {"app": name, **EXECUTOR_POD_SELECTOR}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {
                        "kubectl.kubernetes.io/default-container": "executor",
                        CHECKSUM_ANNOTATION: config_checksum(daemon_json, executor["env"]),
                    },
                },
                "spec": pod_spec,
            },
        },
    }


def config_checksum(daemon_json: str, env: list[dict[str, Any]]) -> str:
    """A change detector, not a security control: CRC-32 rolls the pods as surely as SHA-256 would, and
    zlib is already loaded where hashlib would cost the process ~3 ms of OpenSSL start-up."""
    text = json.dumps(env, sort_keys=True)
    return f"{zlib.crc32(text.encode(), zlib.crc32(daemon_json.encode())):08x}"
