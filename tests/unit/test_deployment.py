"""deployment: every property DESIGN §3 promises of an executor Deployment, whatever the hardening."""

from __future__ import annotations

import re

import pytest

from executor_dind import naming
from executor_dind.audit.scope import selector_matches
from executor_dind.podspec import containers, pod_labels

from .built import (
    PINNED,
    REQUIRED_EXECUTOR_CONTEXT,
    all_containers,
    build,
    checksum,
    daemon_json,
    workloads,
)
from .helpers import dind, env, executor, find, pod


def test_executor_and_dind_share_scratch():
    deployment = find(build(), "Deployment", "executor-all")
    for container in (executor(deployment), dind(deployment)):
        assert {"name": "executor-scratch", "mountPath": "/scratch"} in container["volumeMounts"]
    volume = next(v for v in pod(deployment)["volumes"] if v["name"] == "executor-scratch")
    assert volume == {"name": "executor-scratch", "emptyDir": {"sizeLimit": "20Gi"}}


def test_ephemeral_scratch_is_a_claim_of_the_given_size_and_class():
    deployment = find(
        build(storage={"type": "ephemeral", "size": "50Gi", "storageClassName": "fast"}), "Deployment", "executor-all"
    )
    volume = next(v for v in pod(deployment)["volumes"] if v["name"] == "executor-scratch")
    assert volume == {
        "name": "executor-scratch",
        "ephemeral": {
            "volumeClaimTemplate": {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "fast",
                    "resources": {"requests": {"storage": "50Gi"}},
                }
            }
        },
    }


def test_no_container_declares_the_docker_port():
    for profile in ("baseline", "strict"):
        for obj, container, path in all_containers(build(namespace="executors", hardening={"profile": profile})):
            ports = [p.get("containerPort") for p in container.get("ports", [])]
            assert 2375 not in ports, (obj["metadata"]["name"], path)


def test_dind_probes_run_inside_the_container():
    probe_keys = ("startupProbe", "livenessProbe", "readinessProbe")
    container = dind(find(build(), "Deployment", "executor-all"))
    for key in probe_keys:
        assert set(container[key]) - {"periodSeconds", "failureThreshold", "timeoutSeconds", "initialDelaySeconds"} == {
            "exec"
        }, key
        assert "http://127.0.0.1:2375/_ping" in container[key]["exec"]["command"]


def test_daemon_json_is_mounted_read_only_from_the_config_map():
    deployment = find(build(), "Deployment", "executor-all")
    mount = next(m for m in dind(deployment)["volumeMounts"] if m["mountPath"] == "/etc/docker/daemon.json")
    assert (mount["subPath"], mount["readOnly"]) == ("daemon.json", True)
    volume = next(v for v in pod(deployment)["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == naming.DOCKER_CONFIG


def test_native_sidecar_layout():
    spec_ = pod(find(build(), "Deployment", "executor-all"))
    assert [c["name"] for c in spec_["initContainers"]] == ["dind", "docker-prune"]
    assert spec_["initContainers"][0]["restartPolicy"] == "Always"
    assert [c["name"] for c in spec_["containers"]] == ["executor"]


def test_plain_container_layout_for_older_clusters():
    spec_ = pod(find(build(docker={"nativeSidecar": False}), "Deployment", "executor-all"))
    assert "initContainers" not in spec_
    assert [c["name"] for c in spec_["containers"]] == ["executor", "dind", "docker-prune"]
    assert "restartPolicy" not in spec_["containers"][1]


@pytest.mark.parametrize("native", [True, False])
def test_privileged_only_on_dind(native):
    privileged = [
        (obj["metadata"]["name"], container["name"])
        for obj, container, _ in all_containers(build(docker={"nativeSidecar": native}))
        if (container.get("securityContext") or {}).get("privileged")
    ]
    assert privileged == [("executor-all", "dind")]


def test_executor_runs_unprivileged_as_uid_100_gid_101():
    deployment = find(build(), "Deployment", "executor-all")
    context_ = executor(deployment)["securityContext"]
    assert {key: context_.get(key) for key in REQUIRED_EXECUTOR_CONTEXT} == REQUIRED_EXECUTOR_CONTEXT
    assert not context_.get("privileged")
    assert pod(deployment)["securityContext"]["fsGroup"] == 101


def test_executor_env():
    deployment = find(build(url="http://sourcegraph-frontend:30080"), "Deployment", "executor-all")
    assert env(deployment) == {
        "EXECUTOR_FRONTEND_URL": "http://sourcegraph-frontend:30080",
        "EXECUTOR_FRONTEND_PASSWORD": {"secretKeyRef": {"name": "executor-secret", "key": "password"}},
        "EXECUTOR_QUEUE_NAMES": "batches,codeintel",
        "EXECUTOR_MAXIMUM_NUM_JOBS": "4",
        "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB": "30m",
        "EXECUTOR_USE_FIRECRACKER": "false",
        "EXECUTOR_USE_KUBERNETES": "false",
        "EXECUTOR_JOB_NUM_CPUS": "0",
        "EXECUTOR_JOB_MEMORY": "0",
        "DOCKER_HOST": "tcp://127.0.0.1:2375",
        "TMPDIR": "/scratch",
        "SRC_LOG_LEVEL": "warn",
        "SRC_LOG_FORMAT": "json",
    }


def test_one_queue_name_uses_the_singular_variable():
    objects = build(queues=[{"name": "batches", "maximumNumJobs": 8}, {"name": "all", "queueNames": ["codeintel"]}])
    batches = env(find(objects, "Deployment", "executor-batches"))
    assert (batches["EXECUTOR_QUEUE_NAME"], batches["EXECUTOR_MAXIMUM_NUM_JOBS"]) == ("batches", "8")
    assert "EXECUTOR_QUEUE_NAMES" not in batches
    assert env(find(objects, "Deployment", "executor-all"))["EXECUTOR_QUEUE_NAME"] == "codeintel"


def test_user_env_follows_the_managed_variables():
    deployment = find(
        build(
            queues=[
                {
                    "name": "batches",
                    "env": {"ZED": "z", "ALPHA": {"valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}},
                }
            ],
            frontend={"passwordSecret": {"name": "sg", "key": "token"}},
            log={"level": "info", "format": "console"},
        ),
        "Deployment",
        "executor-batches",
    )
    variables = executor(deployment)["env"]
    assert variables[-2:] == [
        {"name": "ALPHA", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "ZED", "value": "z"},
    ]
    values = env(deployment)
    assert values["EXECUTOR_FRONTEND_PASSWORD"] == {"secretKeyRef": {"name": "sg", "key": "token"}}
    assert (values["SRC_LOG_LEVEL"], values["SRC_LOG_FORMAT"]) == ("info", "console")
    names = [v["name"] for v in variables]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [({}, 1860), ({"maximumRuntimePerJob": "2h"}, 7260), ({"terminationGracePeriodSeconds": 600}, 600)],
)
def test_grace_period_lets_a_running_job_finish(raw, seconds):
    assert pod(find(build(**raw), "Deployment", "executor-all"))["terminationGracePeriodSeconds"] == seconds


def test_executor_and_dind_images_are_pinned_by_digest():
    deployment = find(build(), "Deployment", "executor-all")
    assert PINNED in executor(deployment)["image"]
    assert PINNED in dind(deployment)["image"]


def test_images_come_from_the_spec():
    objects = build(images={"executor": "r/e@sha256:" + "a" * 64, "registry": "r/reg@sha256:" + "b" * 64})
    assert executor(find(objects, "Deployment", "executor-all"))["image"] == "r/e@sha256:" + "a" * 64
    registry = find(objects, "StatefulSet", naming.REGISTRY)
    assert pod(registry)["containers"][0]["image"] == "r/reg@sha256:" + "b" * 64


def test_checksum_is_stable_for_the_same_config():
    assert checksum(build()) == checksum(build())
    assert re.fullmatch(r"[0-9a-f]{8,}", checksum(build()))


@pytest.mark.parametrize(
    "raw",
    [
        {"docker": {"mtu": 1400}},
        {"docker": {"daemonConfig": {"debug": True}}},
        {"privateRegistry": {"enabled": False}},
        {"log": {"level": "info"}},
        {"maximumRuntimePerJob": "1h"},
        {"queues": [{"name": "all", "queueNames": ["batches", "codeintel"], "env": {"FOO": "bar"}}]},
        {"queues": [{"name": "all", "queueNames": ["batches", "codeintel"], "maximumNumJobs": 2}]},
    ],
    ids=["mtu", "daemon-config", "registry", "log-level", "runtime", "user-env", "num-jobs"],
)
def test_checksum_changes_when_daemon_json_or_env_change(raw):
    assert checksum(build(**raw)) != checksum(build())


def test_checksum_changes_with_the_frontend_url():
    assert checksum(build(url="http://a:1")) != checksum(build(url="http://b:1"))


def test_checksum_ignores_what_rolls_the_pods_anyway_or_not_at_all():
    assert checksum(build(queues=[{"name": "all", "queueNames": ["batches", "codeintel"], "replicas": 5}])) == checksum(
        build()
    )


def test_checksum_is_per_queue_env():
    objects = build(queues=[{"name": "batches"}, {"name": "codeintel"}])
    assert checksum(objects, "executor-batches") != checksum(objects, "executor-codeintel")


def test_deployment_selectors_match_their_own_pods_only():
    objects = build(queues=[{"name": "batches"}, {"name": "codeintel"}])
    for obj in workloads(objects):
        for other in workloads(objects):
            matches = selector_matches(obj["spec"]["selector"], pod_labels(other))
            assert matches is (obj is other), (obj["metadata"]["name"], other["metadata"]["name"])


# --- the job lifecycle: recycling, the image prune sidecar, the MTU ---------------------------------------------


def test_recycle_sets_the_executors_exit_variables_only_when_asked():
    deployment = find(
        build(queues=[{"name": "batches", "recycle": {"afterJobs": 20, "afterTime": "2h"}}]),
        "Deployment",
        "executor-batches",
    )
    assert (env(deployment)["EXECUTOR_NUM_TOTAL_JOBS"], env(deployment)["EXECUTOR_MAX_ACTIVE_TIME"]) == ("20", "2h")
    plain = env(find(build(), "Deployment", "executor-all"))
    assert "EXECUTOR_NUM_TOTAL_JOBS" not in plain and "EXECUTOR_MAX_ACTIVE_TIME" not in plain


def prune_container(deployment):
    return next(c for c, _ in containers(pod(deployment), "") if c["name"] == "docker-prune")


@pytest.mark.parametrize("native", [True, False])
def test_the_prune_sidecar_is_unprivileged_limited_and_read_only(native):
    deployment = find(build(docker={"nativeSidecar": native}), "Deployment", "executor-all")
    prune = prune_container(deployment)
    assert prune["image"] == dind(deployment)["image"]
    assert prune["securityContext"] == {
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
        "readOnlyRootFilesystem": True,
    }
    assert prune["resources"]["limits"] == {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "64Mi"}
    assert {v["name"]: v["value"] for v in prune["env"]} == {
        "DOCKER_HOST": "tcp://127.0.0.1:2375",
        "DOCKER_CONFIG": "/nonexistent",
    }
    assert "volumeMounts" not in prune  # nothing of the pod's: it reaches dockerd over loopback only
    assert ("restartPolicy" in prune) is native


def test_the_prune_schedule_and_filter_come_from_the_spec():
    deployment = find(build(docker={"prune": {"interval": "30m", "until": "72h"}}), "Deployment", "executor-all")
    command = prune_container(deployment)["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    # Every line that carries a spec value: the whole script runs in tests/runtime/test_prune.py.
    assert [line for line in command[2].splitlines() if "72h" in line or "259200" in line or "  sleep " in line] == [
        '  cutoff=$(date -u -d "@$(($(date +%s) - 259200))" +%Y-%m-%dT%H:%M:%SZ) || return 1',
        "  sleep 1800 & wait $!",
        "  docker container prune --force --filter until=72h || echo 'container prune failed' >&2",
        "  docker network prune --force --filter until=72h || echo 'network prune failed' >&2",
        "  docker image prune --all --force --filter until=72h || echo 'image prune failed' >&2",
    ]
    off = find(build(docker={"prune": {"enabled": False}}), "Deployment", "executor-all")
    assert [c["name"] for c, _ in containers(pod(off), "")] == ["dind", "executor"]


def test_mtu_auto_reads_the_pod_interface_at_start():
    objects = build(docker={"mtu": "auto"})
    assert dind(find(objects, "Deployment", "executor-all"))["command"] == [
        "/bin/sh",
        "-c",
        "set -eu\n"
        "dev=$(ip route show default | awk '{for (i = 1; i < NF; i++) if ($i == \"dev\") {print $(i + 1); exit}}')\n"
        'mtu=$(cat "/sys/class/net/${dev:-eth0}/mtu") || { echo "cannot read the MTU of ${dev:-eth0}" >&2; exit 1; }\n'
        'exec dockerd --mtu="$mtu" --default-network-opt="bridge=com.docker.network.driver.mtu=$mtu"\n',
    ]
    # dockerd refuses a setting given as a flag and in daemon.json
    assert "mtu" not in daemon_json(objects) and "default-network-opts" not in daemon_json(objects)


def test_mtu_auto_under_gvisor_keeps_the_nat_script():
    from executor_dind.hardening.gvisor import DOCKERD_FLAGS, START_SCRIPT

    script = dind(
        find(build(docker={"mtu": "auto"}, hardening={"gvisor": {"enabled": True}}), "Deployment", "executor-all")
    )["command"][2]
    assert script.startswith(START_SCRIPT.rsplit("exec dockerd", 1)[0])
    assert script.endswith(
        'mtu=$(cat "/sys/class/net/${dev:-eth0}/mtu") || { echo "cannot read the MTU of ${dev:-eth0}" >&2; exit 1; }\n'
        f'exec dockerd {" ".join(DOCKERD_FLAGS)} --mtu="$mtu" '
        '--default-network-opt="bridge=com.docker.network.driver.mtu=$mtu"\n'
    )
