"""model: every property DESIGN §3 promises of the injected objects, whatever the hardening."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from executor_dind import model
from executor_dind.discovery import UPSTREAM_OBJECTS
from executor_dind.function import build_objects
from executor_dind.hardening.common import selector_matches
from executor_dind.podspec import containers, pod_labels, pod_spec

from .helpers import DEFAULT_OBJECTS, context, dind, env, executor, find, frontend_service, pod, render, spec

PINNED = "@sha256:"
REQUIRED_EXECUTOR_CONTEXT = {
    "runAsUser": 100,
    "runAsGroup": 101,
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def build(ns: str = "sourcegraph", url: str = "", **raw: Any) -> list[dict[str, Any]]:
    """The objects for this spec, Sourcegraph in namespace sourcegraph, the executors in spec.namespace or `ns`."""
    objects, results, _ = build_objects(spec(**raw), context(raw.get("namespace") or ns, "sourcegraph", url))
    assert [r for r in results if r.severity == "error"] == []
    return objects


def deployments(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == "Deployment"]


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if pod_spec(o) is not None]


def all_containers(objects: list[dict[str, Any]]):
    for obj in workloads(objects):
        located = pod_spec(obj)
        yield from ((obj, c, path) for c, path in containers(*located))


def daemon_json(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return json.loads(find(objects, "ConfigMap", model.DOCKER_CONFIG)["data"]["daemon.json"])


def checksum(objects: list[dict[str, Any]], name: str = "executor-all") -> str:
    return find(objects, "Deployment", name)["spec"]["template"]["metadata"]["annotations"][model.CHECKSUM_ANNOTATION]


# --- what is injected -------------------------------------------------------------------------------------------


def test_default_objects():
    assert [(o["kind"], o["metadata"]["name"]) for o in build()] == DEFAULT_OBJECTS


def test_one_deployment_per_queue():
    objects = build(
        queues=[{"name": "batches", "replicas": 3}, {"name": "codeintel"}, {"name": "gpu", "queueNames": ["codeintel"]}]
    )
    assert [(d["metadata"]["name"], d["spec"]["replicas"]) for d in deployments(objects)] == [
        ("executor-batches", 3),
        ("executor-codeintel", 1),
        ("executor-gpu", 1),
    ]


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


# --- dockerd: loopback only -------------------------------------------------------------------------------------


def test_dockerd_listens_on_loopback_only():
    objects = build()
    config = daemon_json(objects)
    assert config["hosts"] == ["tcp://127.0.0.1:2375"]
    deployment = find(objects, "Deployment", "executor-all")
    # The dind image's entrypoint would add its own --host: dockerd is the command, with no host flags.
    assert dind(deployment)["command"] == ["dockerd"]
    assert "args" not in dind(deployment)
    assert env(deployment)["DOCKER_HOST"] == "tcp://127.0.0.1:2375"


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


def test_daemon_json_is_real_json_with_the_mtu_and_user_settings():
    config = daemon_json(build(docker={"mtu": 1400, "daemonConfig": {"debug": True, "log-level": "warn"}}))
    assert config["mtu"] == 1400
    assert config["tls"] is False
    assert (config["debug"], config["log-level"]) == (True, "warn")
    assert config["hosts"] == ["tcp://127.0.0.1:2375"]


def test_daemon_json_is_mounted_read_only_from_the_config_map():
    deployment = find(build(), "Deployment", "executor-all")
    mount = next(m for m in dind(deployment)["volumeMounts"] if m["mountPath"] == "/etc/docker/daemon.json")
    assert (mount["subPath"], mount["readOnly"]) == ("daemon.json", True)
    volume = next(v for v in pod(deployment)["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == model.DOCKER_CONFIG


# --- layout: native sidecar or plain containers -----------------------------------------------------------------


def test_native_sidecar_layout():
    spec_ = pod(find(build(), "Deployment", "executor-all"))
    assert [c["name"] for c in spec_["initContainers"]] == ["dind"]
    assert spec_["initContainers"][0]["restartPolicy"] == "Always"
    assert [c["name"] for c in spec_["containers"]] == ["executor"]


def test_plain_container_layout_for_older_clusters():
    spec_ = pod(find(build(docker={"nativeSidecar": False}), "Deployment", "executor-all"))
    assert "initContainers" not in spec_
    assert [c["name"] for c in spec_["containers"]] == ["executor", "dind"]
    assert "restartPolicy" not in spec_["containers"][1]


# --- privileges -------------------------------------------------------------------------------------------------


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


def test_no_service_account_token_anywhere():
    objects = build()
    account = find(objects, "ServiceAccount", "executor-dind")
    assert account["automountServiceAccountToken"] is False
    for obj in workloads(objects):
        located = pod_spec(obj)
        assert located[0]["automountServiceAccountToken"] is False, obj["metadata"]["name"]
        assert located[0]["serviceAccountName"] == "executor-dind"
        assert located[0]["enableServiceLinks"] is False


# --- env --------------------------------------------------------------------------------------------------------


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
            frontend={"passwordSecret": {"name": "sg", "key": "pw"}},
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
    assert values["EXECUTOR_FRONTEND_PASSWORD"] == {"secretKeyRef": {"name": "sg", "key": "pw"}}
    assert (values["SRC_LOG_LEVEL"], values["SRC_LOG_FORMAT"]) == ("info", "console")
    names = [v["name"] for v in variables]
    assert len(names) == len(set(names))


# --- resources, termination, images -----------------------------------------------------------------------------


def test_every_container_has_requests_and_limits_including_ephemeral_storage():
    for obj, container, path in all_containers(build()):
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) >= {"cpu", "memory", "ephemeral-storage"}, (obj["kind"], path)


def test_resources_merge_over_the_defaults():
    objects = build(
        queues=[{"name": "batches", "resources": {"limits": {"memory": "4Gi"}}}],
        docker={"resources": {"requests": {"cpu": "2"}}},
    )
    deployment = find(objects, "Deployment", "executor-batches")
    assert executor(deployment)["resources"]["limits"] == {
        **model.DEFAULT_EXECUTOR_RESOURCES["limits"],
        "memory": "4Gi",
    }
    assert executor(deployment)["resources"]["requests"] == model.DEFAULT_EXECUTOR_RESOURCES["requests"]
    assert dind(deployment)["resources"]["requests"] == {**model.DEFAULT_DIND_RESOURCES["requests"], "cpu": "2"}


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
    registry = find(objects, "StatefulSet", model.REGISTRY)
    assert pod(registry)["containers"][0]["image"] == "r/reg@sha256:" + "b" * 64


# --- checksum ---------------------------------------------------------------------------------------------------


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


# --- private registry -------------------------------------------------------------------------------------------


def test_registry_on_daemon_json_points_at_its_service():
    objects = build()
    config = daemon_json(objects)
    service = find(objects, "Service", model.REGISTRY)
    port = service["spec"]["ports"][0]["port"]
    assert config["registry-mirrors"] == [f"http://{model.REGISTRY}:{port}"]
    assert config["insecure-registries"] == [f"{model.REGISTRY}:{port}"]
    statefulset = find(objects, "StatefulSet", model.REGISTRY)
    assert selector_matches({"matchLabels": service["spec"]["selector"]}, pod_labels(statefulset))
    assert statefulset["spec"]["serviceName"] == model.REGISTRY
    claim = statefulset["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "100Gi"
    registry = pod(statefulset)["containers"][0]
    assert {"name": "REGISTRY_PROXY_REMOTEURL", "value": "https://registry-1.docker.io"} in registry["env"]
    assert registry["ports"][0]["name"] == service["spec"]["ports"][0]["targetPort"]


def test_registry_off_means_no_registry_objects_and_no_mirrors():
    objects = build(privateRegistry={"enabled": False})
    assert [o for o in objects if o["metadata"]["name"] == model.REGISTRY] == []
    config = daemon_json(objects)
    assert "registry-mirrors" not in config
    assert "insecure-registries" not in config


def test_registry_storage_class_and_size():
    objects = build(privateRegistry={"storage": "10Gi", "storageClassName": "standard"})
    claim = find(objects, "StatefulSet", model.REGISTRY)["spec"]["volumeClaimTemplates"][0]["spec"]
    assert (claim["storageClassName"], claim["resources"]["requests"]["storage"]) == ("standard", "10Gi")


def test_no_hard_coded_namespace():
    for obj in build(ns=""):
        assert "namespace" not in obj["metadata"], (obj["kind"], obj["metadata"]["name"])
    for obj in build(namespace="executors"):
        assert obj["metadata"]["namespace"] == "executors", (obj["kind"], obj["metadata"]["name"])


# --- names, labels, selectors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "queues", [None, [{"name": "batches"}, {"name": "codeintel"}], [{"name": "config", "queueNames": ["batches"]}]]
)
def test_names_never_collide_with_the_upstream_components(queues):
    objects = build(**({"queues": queues} if queues else {}))
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} & UPSTREAM_OBJECTS == set()


def test_object_labels_and_no_deploy_label_on_pod_templates():
    objects = build(namespace="executors", hardening={"profile": "strict"})
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["deploy"] == "sourcegraph", obj["kind"]
        # Cluster-scoped objects need a cluster admin to apply, as deploy-sourcegraph-k8s labels them.
        needs = "cluster-admin" if obj["kind"] in ("Namespace", "RuntimeClass") else "no-cluster-admin"
        assert labels["sourcegraph-resource-requires"] == needs, obj["kind"]
        assert labels["app.kubernetes.io/component"] == "executor", obj["kind"]
    for obj in workloads(objects):
        assert "deploy" not in pod_labels(obj), obj["metadata"]["name"]


def test_deployment_selectors_match_their_own_pods_only():
    objects = build(queues=[{"name": "batches"}, {"name": "codeintel"}])
    for obj in workloads(objects):
        for other in workloads(objects):
            matches = selector_matches(obj["spec"]["selector"], pod_labels(other))
            assert matches is (obj is other), (obj["metadata"]["name"], other["metadata"]["name"])


def test_metrics_service_selects_every_executor_pod_on_a_port_that_exists():
    objects = build(queues=[{"name": "batches"}, {"name": "codeintel"}])
    service = find(objects, "Service", model.METRICS_SERVICE)
    selector = {"matchLabels": service["spec"]["selector"]}
    target = service["spec"]["ports"][0]["targetPort"]
    for obj in workloads(objects):
        is_executor = obj["kind"] == "Deployment"
        assert selector_matches(selector, pod_labels(obj)) is is_executor, obj["metadata"]["name"]
        if is_executor:
            assert target in [p["name"] for p in executor(obj)["ports"]]


def test_a_queue_name_cannot_make_selectors_overlap():
    objects = build(queues=[{"name": "dind-registry", "queueNames": ["batches"]}])
    deployment = find(objects, "Deployment", "executor-dind-registry")
    registry = find(objects, "StatefulSet", model.REGISTRY)
    assert not selector_matches(deployment["spec"]["selector"], pod_labels(registry))


# --- checkov skip reasons: each claim true for the render it sits on ----------------------------------------------


def _security(container: dict[str, Any]) -> dict[str, Any]:
    return container.get("securityContext") or {}


def _daemon_hosts(objects: list[Any]) -> list[str]:
    import json

    return json.loads(find(objects, "ConfigMap", model.DOCKER_CONFIG)["data"]["daemon.json"])["hosts"]


# A claim a skip reason makes about its render, and how to check it on that render (deployment, all objects).
SKIP_CLAIMS = {
    "privileged is set on the dind container only": lambda d, o: (
        _security(dind(d)).get("privileged") is True and not _security(executor(d)).get("privileged")
    ),
    "a privileged container": lambda d, o: _security(dind(d)).get("privileged") is True,
    "dockerd bound to 127.0.0.1": lambda d, o: (
        _daemon_hosts(o) == ["tcp://127.0.0.1:2375"] and not any("host" in str(a) for a in dind(d).get("command", []))
    ),
    "no service-account token": lambda d, o: pod(d)["automountServiceAccountToken"] is False,
    "executor container unprivileged": lambda d, o: (
        not _security(executor(d)).get("privileged") and _security(executor(d))["allowPrivilegeEscalation"] is False
    ),
    "the executor sets allowPrivilegeEscalation false": lambda d, o: (
        _security(executor(d))["allowPrivilegeEscalation"] is False
    ),
    "the executor root filesystem is read-only": lambda d, o: _security(executor(d))["readOnlyRootFilesystem"],
    "the executor drops ALL": lambda d, o: _security(executor(d))["capabilities"] == {"drop": ["ALL"]},
    "the executor sets runAsNonRoot": lambda d, o: _security(executor(d))["runAsNonRoot"] is True,
    "the executor sets seccompProfile RuntimeDefault": lambda d, o: (
        _security(executor(d))["seccompProfile"] == {"type": "RuntimeDefault"}
    ),
    "the executor runs as uid 100": lambda d, o: _security(executor(d))["runAsUser"] == 100,
    "no capabilities, no privilege escalation": lambda d, o: (
        _security(executor(d))["capabilities"] == {"drop": ["ALL"]}
        and _security(executor(d))["allowPrivilegeEscalation"] is False
    ),
    "it comes from a Secret by secretKeyRef": lambda d, o: (
        "secretKeyRef" in str(next(v for v in executor(d)["env"] if v["name"] == "EXECUTOR_FRONTEND_PASSWORD"))
    ),
    "dind runs dockerd as root": lambda d, o: "runAsNonRoot" not in _security(dind(d)),
    "the pod runs in the gVisor sandbox": lambda d, o: pod(d).get("runtimeClassName") == "gvisor",
    "under gVisor": lambda d, o: pod(d).get("runtimeClassName") == "gvisor",
    "gVisor implements them": lambda d, o: pod(d).get("runtimeClassName") == "gvisor",
    "it is a capability of the sandbox's user-space kernel": lambda d, o: pod(d).get("runtimeClassName") == "gvisor",
    "gVisor's user-space kernel serves them": lambda d, o: pod(d).get("runtimeClassName") == "gvisor",
    "dockerd needs this explicit set": lambda d, o: "add" in _security(dind(d)).get("capabilities", {}),
}
# Words that claim a mitigation; each must sit inside a checked claim.
MITIGATION_WORDS = (
    "nodePool",
    "node pool",
    "networkPolicy",
    "NetworkPolicy",
    "metadata",
    "private",
    "gVisor",
    "gvisor",
    "sandbox",
    "isolat",
    "block",
)
SKIP_PROFILES = {
    "baseline": {},
    "recommended": {"hardening": {"profile": "recommended"}},
    "recommended-plain": {"hardening": {"profile": "recommended"}, "docker": {"nativeSidecar": False}},
    "strict": {"namespace": "executors", "hardening": {"profile": "strict"}},
    "strict-plain": {"namespace": "executors", "hardening": {"profile": "strict"}, "docker": {"nativeSidecar": False}},
}


@pytest.mark.parametrize("profile", SKIP_PROFILES)
def test_checkov_skip_reasons_claim_only_what_their_render_has(profile):
    objects = render(frontend_service(), **SKIP_PROFILES[profile])
    deployment = find(objects, "Deployment", "executor-all")
    reasons = {
        key: value.split("=", 1)[1]
        for key, value in deployment["metadata"]["annotations"].items()
        if key.startswith("checkov.io/skip")
    }
    assert reasons, "the executor Deployment carries checkov skips"
    checked = 0
    for key, reason in reasons.items():
        rest = reason
        for claim, holds in SKIP_CLAIMS.items():
            if claim in reason:
                assert holds(deployment, objects), (profile, key, claim)
                rest = rest.replace(claim, "")
                checked += 1
        assert not [word for word in MITIGATION_WORDS if word in rest], (profile, key, rest)
        for ref in re.findall(r"CKV_K8S_(\d+)", reason):
            assert f"checkov.io/skip{ref}" in reasons, (profile, key, f"refers to CKV_K8S_{ref}, not skipped here")
    assert checked >= len(reasons), (profile, checked)
