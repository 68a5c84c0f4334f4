"""The executor Deployment of one queue: the executor container, the dind sidecar, their volumes and probes.

Over 300 lines because it builds one object, the executor pod: two containers, their scripts, probes and volumes.
"""

from __future__ import annotations

import binascii
import json

from executor_dind import resources, values
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
    executor_pod_selector,
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
DOCKER_HOST = f"tcp://127.0.0.1:{DOCKER_PORT}"
# The pod's interface: the word after `dev` in its (first) default route, which is not always the fifth word
# (`default dev eth0 scope link` has no gateway).
DEFAULT_ROUTE_DEVICE = (
    "dev=$(ip route show default | awk '{for (i = 1; i < NF; i++) if ($i == \"dev\") {print $(i + 1); exit}}')"
)
# docker.mtu: auto: the job bridge takes the MTU of the pod's interface (the one with the default route).
MTU_LINES = (
    DEFAULT_ROUTE_DEVICE,
    'mtu=$(cat "/sys/class/net/${dev:-eth0}/mtu") || { echo "cannot read the MTU of ${dev:-eth0}" >&2; exit 1; }',
)
# dockerd's mtu covers only the default bridge; this driver option, as a default for every bridge network, covers
# the ones jobs create (`docker network create`, Compose): moby/moby#34981. Docker 24 added default-network-opts.
BRIDGE_MTU_OPTION = "com.docker.network.driver.mtu"
MTU_FLAGS = ('--mtu="$mtu"', f'--default-network-opt="bridge={BRIDGE_MTU_OPTION}=$mtu"')
PRUNE = "docker-prune"
# The prune sidecar runs the dind image's docker CLI as a user of its own, with nothing to write.
PRUNE_UID = 65532
PRUNE_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "32Mi", "ephemeral-storage": "16Mi"},
    "limits": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
}
DOCKER_VERSION = ("docker", "version", "--format", "{{.Server.Version}}")


def dockerd_script(spec: Spec, flags: tuple[str, ...] = (), before: tuple[str, ...] = ()) -> str | None:
    """The `sh -c` script that starts dockerd with these flags (and docker.mtu: auto), or None when plain
    `dockerd` does."""
    if spec.docker.mtu == "auto":
        before, flags = (*before, *MTU_LINES), (*flags, *MTU_FLAGS)
    if not before:
        return None
    return "\n".join(("set -eu", *before, " ".join(("exec dockerd", *flags)), ""))


def _unprivileged(uid: int, gid: int) -> dict[str, Any]:
    """The securityContext of a container that needs nothing: non-root, no capabilities, read-only root."""
    return {
        "runAsUser": uid,
        "runAsGroup": gid,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
        "readOnlyRootFilesystem": True,
    }


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
        *_recycle_env(queue),
        {"name": "EXECUTOR_USE_FIRECRACKER", "value": "false"},
        {"name": "EXECUTOR_USE_KUBERNETES", "value": "false"},
        # Jobs are bounded by the dind container's limits, not per job.
        {"name": "EXECUTOR_JOB_NUM_CPUS", "value": "0"},
        {"name": "EXECUTOR_JOB_MEMORY", "value": "0"},
        {"name": "DOCKER_HOST", "value": DOCKER_HOST},
        {"name": "TMPDIR", "value": SCRATCH},
        {"name": "SRC_LOG_LEVEL", "value": spec.log.level},
        {"name": "SRC_LOG_FORMAT", "value": spec.log.format},
    ]
    for name in sorted(queue.env):
        value = queue.env[name]
        env.append({"name": name, "value": value} if isinstance(value, str) else {"name": name, **thaw(value)})
    return env


def _recycle_env(queue: Queue) -> list[dict[str, str]]:
    """The executor exits after that many jobs or that long (finishing its running jobs); its container restarts."""
    env = []
    if queue.recycle.after_jobs:
        env.append({"name": "EXECUTOR_NUM_TOTAL_JOBS", "value": str(queue.recycle.after_jobs)})
    if queue.recycle.after_time:
        env.append({"name": "EXECUTOR_MAX_ACTIVE_TIME", "value": queue.recycle.after_time})
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
        # The executor writes job workspaces, scripts and docker auth under TMPDIR (/scratch) only; /tmp is an
        # emptyDir for tools that ignore TMPDIR: so its root filesystem can be read-only.
        "securityContext": _unprivileged(EXECUTOR_UID, EXECUTOR_GID),
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
    script = dockerd_script(spec)
    if script is not None:
        dind["command"] = ["/bin/sh", "-c", script]
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


def prune_script(spec: Spec) -> str:
    """Each pass removes what jobs left and no container uses, created before `until`: stopped containers first,
    so that their networks, volumes and images are unused when those are pruned in the same pass. `docker volume
    prune` has no until filter (and skips named volumes on API >= 1.42 without --all): the script lists the
    unused volumes and removes those whose CreatedAt is before the cutoff, comparing UTC timestamps as text; a
    volume whose time is not in UTC is kept and said."""
    prune = spec.docker.prune
    until, cutoff_seconds = prune.until, values.duration_seconds(prune.until)
    return "\n".join(
        (
            "set -u",
            "# Unused volumes created before the cutoff: RFC 3339 times in UTC compare as text; others are kept, said.",
            "old_volumes() {",
            f'  cutoff=$(date -u -d "@$(($(date +%s) - {cutoff_seconds}))" +%Y-%m-%dT%H:%M:%SZ) || return 1',
            "  unused=$(docker volume ls --quiet --filter dangling=true) || return 1",
            '  [ -n "$unused" ] || return 0',
            "  docker volume inspect --format '{{.CreatedAt}} {{.Name}}' $unused | awk -v cutoff=\"$cutoff\" '",
            '    $1 !~ /Z$/ {print "volume " $2 " kept: CreatedAt " $1 " is not UTC" > "/dev/stderr"; next}',
            "    $1 < cutoff {print $2}'",
            "}",
            "# The container's PID 1: without a trap it would ignore the kubelet's SIGTERM and hold the pod until the",
            "# grace period ends; a background sleep, as a trap runs only once the foreground command has ended.",
            "trap 'exit 0' TERM",
            "# dockerd removes nothing a container uses: a running job's containers, networks, volumes, images stay.",
            "while :; do",
            f"  sleep {values.duration_seconds(prune.interval)} & wait $!",
            f"  docker container prune --force --filter until={until} || echo 'container prune failed' >&2",
            f"  docker network prune --force --filter until={until} || echo 'network prune failed' >&2",
            "  volumes=$(old_volumes) || { echo 'volume prune failed' >&2; volumes=''; }",
            '  if [ -n "$volumes" ]; then',
            "    echo 'Deleted Volumes:'",
            "    docker volume rm $volumes || echo 'volume prune failed' >&2",
            "  fi",
            f"  docker image prune --all --force --filter until={until} || echo 'image prune failed' >&2",
            "done",
            "",
        )
    )


def _prune_container(spec: Spec) -> dict[str, Any]:
    """An unprivileged sidecar that prunes what jobs left in dind (prune_script) through the loopback API."""
    prune: dict[str, Any] = {"name": PRUNE, "image": spec.images.dind, "imagePullPolicy": "Always"}
    if spec.docker.native_sidecar:
        prune["restartPolicy"] = "Always"
    prune.update(
        {
            "command": ["/bin/sh", "-c", prune_script(spec)],
            # DOCKER_CONFIG: a directory that does not exist, so the CLI reads no config and writes nothing.
            "env": [{"name": "DOCKER_HOST", "value": DOCKER_HOST}, {"name": "DOCKER_CONFIG", "value": "/nonexistent"}],
            "livenessProbe": _exec_probe(DOCKER_VERSION, periodSeconds=60, timeoutSeconds=10, failureThreshold=5),
            "readinessProbe": _exec_probe(DOCKER_VERSION, periodSeconds=30, timeoutSeconds=10),
            "resources": resources.merged(PRUNE_RESOURCES, {}),
            "securityContext": _unprivileged(PRUNE_UID, PRUNE_UID),
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }
    )
    return prune


def _scratch_volume(spec: Spec) -> dict[str, Any]:
    if spec.storage.type == "ephemeral":
        claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"]}
        if spec.storage.storage_class_name:
            claim["storageClassName"] = spec.storage.storage_class_name
        claim["resources"] = {"requests": {"storage": spec.storage.size}}
        return {"name": "executor-scratch", "ephemeral": {"volumeClaimTemplate": {"spec": claim}}}
    return {"name": "executor-scratch", "emptyDir": {"sizeLimit": spec.scratch_size}}


def executor_pod_template(
    spec: Spec, queue: Queue, context: Context, daemon_json: str, prune: bool = True
) -> dict[str, Any]:
    """The pod template of a queue's executors (a Deployment's or a ScaledJob's); prune: with the prune sidecar
    when docker.prune is on. daemon_json: the text the pods mount; its checksum (and the env's) rolls them."""
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
    sidecars = [dind, _prune_container(spec)] if prune and spec.docker.prune.enabled else [dind]
    if spec.docker.native_sidecar:
        pod_spec["initContainers"] = sidecars
        pod_spec["containers"] = [executor]
    else:
        pod_spec["containers"] = [executor, *sidecars]
    pod_spec["volumes"] = [
        _scratch_volume(spec),
        {"name": "docker-storage", "emptyDir": {"sizeLimit": spec.docker.storage_size}},
        {"name": "docker-config", "configMap": {"name": DOCKER_CONFIG, "defaultMode": 0o444}},
        {"name": "executor-tmp", "emptyDir": {"sizeLimit": EXECUTOR_TMP_SIZE}},
    ]
    return {
        "metadata": {
            "labels": pod_labels,
            "annotations": {
                "kubectl.kubernetes.io/default-container": "executor",
                CHECKSUM_ANNOTATION: config_checksum(daemon_json, executor["env"]),
            },
        },
        "spec": pod_spec,
    }


def executor_metadata(spec: Spec, queue: Queue, context: Context) -> dict[str, Any]:
    """The metadata of a queue's executor workload, with the checkov skips its pod template needs."""
    metadata = object_metadata(
        deployment_name(queue),
        context,
        annotations={
            "description": "Sourcegraph executors with a dind sidecar for "
            + ", ".join(queue.queue_names or (queue.name,))
        },
    )
    skips = CHECKOV_SKIPS if spec.docker.native_sidecar else {**CHECKOV_SKIPS, **PLAIN_CONTAINER_SKIPS}
    metadata["annotations"].update(skip_annotations(skips))
    return metadata


def executor_deployment(spec: Spec, queue: Queue, context: Context, daemon_json: str) -> dict[str, Any]:
    name = deployment_name(queue)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": executor_metadata(spec, queue, context),
        "spec": {
            # Autoscaled: no replicas here, so a re-apply never resets the count KEDA set.
            **({} if queue.autoscaling is not None else {"replicas": queue.replicas}),
            "minReadySeconds": 10,
            "revisionHistoryLimit": 10,
            # With the name label, no queue name can make this selector match the registry's pods.
            "selector": {"matchLabels": executor_pod_selector(name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": executor_pod_template(spec, queue, context, daemon_json),
        },
    }


def config_checksum(daemon_json: str, env: list[dict[str, Any]]) -> str:
    """A change detector, not a security control: CRC-32 rolls the pods as surely as SHA-256 would, and
    binascii (zlib's CRC-32) is already loaded by PyYAML where hashlib would cost ~3 ms of OpenSSL start-up."""
    text = json.dumps(env, sort_keys=True)
    return f"{binascii.crc32(text.encode(), binascii.crc32(daemon_json.encode())):08x}"
