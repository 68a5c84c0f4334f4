"""The attack corpus, privilege half: mutations of clean renders of every profile that reopen what the baseline,
the node pool and gVisor close, read as the kubelet, the shell and dockerd read them. Each fails the audit with
exactly the expected error rules and names the field; what the audit cannot determine is an error "cannot
determine", never a pass. The clean renders they start from pass (test_attacks.py)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from checkers.test_attacks import (
    Objects,
    add,
    assert_attack_fails,
    container,
    deployment,
    edit,
    errors,
    items_of,
    pod,
    set_container,
    set_pod,
)
from checkers.tools import dump, find
from conftest import run
from executor_dind.audit import audit
from executor_dind.krm.read import read_stream

DIND_IMAGE = "docker.io/library/docker:27-dind@sha256:" + "a" * 64
DOCKER_CLI_IMAGE = "docker.io/library/docker:27@sha256:" + "c" * 64
BUSYBOX = "docker.io/library/busybox:1.36@sha256:" + "b" * 64
EXPOSED = "tcp://0.0.0.0:2375"
EXPOSED_JSON = json.dumps({"hosts": ["tcp://127.0.0.1:2375", EXPOSED]})


def config_map(name: str, data: dict[str, str] | None = None, binary: dict[str, str] | None = None) -> Callable:
    def make(namespace: str) -> dict[str, Any]:
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
        obj["metadata"]["namespace"] = namespace
        if data is not None:
            obj["data"] = data
        if binary is not None:
            obj["binaryData"] = {k: base64.b64encode(v.encode()).decode() for k, v in binary.items()}
        return obj

    return make


def secret(
    name: str, data: dict[str, str], type_: str = "Opaque", annotations: dict[str, str] | None = None
) -> Callable:
    def make(namespace: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": namespace}
        if annotations:
            meta["annotations"] = dict(annotations)
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": type_, "data": encoded}

    return make


def token_secret(namespace: str) -> dict[str, Any]:
    return secret("executor-token", {"token": "eyJ..."}, "kubernetes.io/service-account-token")(namespace)


def both(*mutations: Callable[[Objects], Objects]) -> Callable[[Objects], Objects]:
    def mutate(objects: Objects) -> Objects:
        for mutation in mutations:
            objects = mutation(objects)
        return objects

    return mutate


def dind_env(*env: dict[str, Any], **fields: Any) -> Callable[[Objects], Objects]:
    return edit(lambda o: container(o, "dind").update(env=[*container(o, "dind").get("env", []), *env], **fields))


def docker_config_volume(volume: dict[str, Any], mount: dict[str, Any] | None = None) -> Callable[[Objects], Objects]:
    """dind's daemon.json volume replaced (and its mount, when given)."""

    def change(objects: Objects) -> None:
        volumes = pod(objects)["volumes"]
        index = next(i for i, v in enumerate(volumes) if v["name"] == "docker-config")
        volumes[index] = {"name": "docker-config", **volume}
        if mount is not None:
            mounts = container(objects, "dind")["volumeMounts"]
            where = next(i for i, m in enumerate(mounts) if m["name"] == "docker-config")
            mounts[where] = {"name": "docker-config", **mount}

    return edit(change)


def executor_env(change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], **fields: Any) -> Callable:
    return edit(lambda o: container(o, "executor").update(env=change(container(o, "executor")["env"]), **fields))


def without(name: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda env: [var for var in env if var["name"] != name]


def add_container(where: str, entry: dict[str, Any]) -> Callable[[Objects], Objects]:
    return edit(lambda o: pod(o).setdefault(where, []).append(entry))


def executor_context(**fields: Any) -> Callable[[Objects], Objects]:
    return edit(lambda o: container(o, "executor")["securityContext"].update(fields))


def pod_context(**fields: Any) -> Callable[[Objects], Objects]:
    return edit(lambda o: pod(o).setdefault("securityContext", {}).update(fields))


def mount_volume(volume: dict[str, Any], into: str = "dind") -> Callable[[Objects], Objects]:
    def change(objects: Objects) -> None:
        pod(objects)["volumes"].append(volume)
        container(objects, into)["volumeMounts"].append({"name": volume["name"], "mountPath": "/mnt/data"})

    return edit(change)


def claim(name: str, volume_name: str | None = None) -> Callable[[str], dict[str, Any]]:
    def make(namespace: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        if volume_name:
            spec["volumeName"] = volume_name
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }

    return make


def persistent_volume(
    name: str, source: dict[str, Any], claim_ref: str | None = None
) -> Callable[[str], dict[str, Any]]:
    def make(namespace: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], **source}
        if claim_ref:
            spec["claimRef"] = {"namespace": namespace, "name": claim_ref}
        return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec}

    return make


def exposed_dind_pod() -> dict[str, Any]:
    """A hand-made dind pod with host access: dockerd on every address and the node's runtime socket."""
    return {
        "automountServiceAccountToken": False,
        "containers": [
            {
                "name": "docker",
                "image": DIND_IMAGE,
                "command": ["dockerd", "-H", EXPOSED],
                "securityContext": {"privileged": True},
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                "volumeMounts": [{"name": "sock", "mountPath": "/var/run/docker.sock"}],
            }
        ],
        "volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}],
    }


def workload(api_version: str, kind: str, *path: str) -> Callable[[str], dict[str, Any]]:
    """An object of a kind the audit has no table entry for, carrying the dind pod at path."""

    def make(namespace: str) -> dict[str, Any]:
        template: dict[str, Any] = {"metadata": {"labels": {"app": "builder"}}, "spec": exposed_dind_pod()}
        for key in reversed(path):
            template = {key: template}
        return {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": "builder", "namespace": namespace},
            **template,
        }

    return make


CannotDetermine = "cannot determine"
Case = tuple[str, Callable[[Objects], Objects], set[str], str]

# class -> name -> (profile, mutation, the exact set of error rules, a text some error finding must contain)
CORPUS: dict[str, dict[str, Case]] = {
    "dockerd-exposure": {
        "kubelet-expands-a-flag-in-command": (
            "recommended",
            dind_env({"name": "LISTEN", "value": f"--host={EXPOSED}"}, command=["dockerd", "$(LISTEN)"]),
            {"EXD001"},
            "spec.template.spec.initContainers[0].command: dockerd of Deployment/sourcegraph/executor-all listens "
            f"on {EXPOSED}",
        ),
        "kubelet-expands-an-address-in-args": (
            "strict-plain-containers",
            dind_env({"name": "ADDR", "value": "0.0.0.0"}, command=["dockerd"], args=["-H", "tcp://$(ADDR):2375"]),
            {"EXD001"},
            f"listens on {EXPOSED}",
        ),
        "dockerd-named-by-a-variable-in-another-image": (
            "strict",
            add_container(
                "containers",
                {
                    "name": "daemon",
                    "image": DOCKER_CLI_IMAGE,
                    "command": ["$(DAEMON)", f"--host={EXPOSED}"],
                    "env": [{"name": "DAEMON", "value": "/usr/local/bin/dockerd"}],
                },
            ),
            {"EXD001"},
            "spec.template.spec.containers[1].command: dockerd of Deployment/sourcegraph-executors/executor-all "
            f"listens on {EXPOSED}",
        ),
        "official-dind-tag-with-its-entrypoint": (
            "recommended",
            add_container("containers", {"name": "docker", "image": DIND_IMAGE, "args": ["--tls=false"]}),
            {"EXD001"},
            "spec.template.spec.containers[1].command: dockerd of Deployment/sourcegraph/executor-all listens on "
            "tcp://0.0.0.0:2376",
        ),
        "shell-splits-an-env-value-into-flags": (
            "baseline",
            dind_env(
                {"name": "DOCKERD_FLAGS", "value": f"--tls=false -H {EXPOSED}"},
                command=["/bin/sh", "-c", "exec dockerd $DOCKERD_FLAGS"],
            ),
            {"EXD001"},
            f"listens on {EXPOSED}",
        ),
        "shell-env-from-a-config-map": (
            "recommended",
            both(
                add(config_map("dockerd-flags", {"flags": f"-H {EXPOSED}"})),
                dind_env(
                    {"name": "FLAGS", "valueFrom": {"configMapKeyRef": {"name": "dockerd-flags", "key": "flags"}}},
                    command=["sh", "-c", 'exec dockerd ${FLAGS} "$@"', "dockerd"],
                ),
            ),
            {"EXD001"},
            f"listens on {EXPOSED}",
        ),
        "shell-env-from-outside-the-render": (
            "strict",
            dind_env(
                {"name": "FLAGS", "valueFrom": {"secretKeyRef": {"name": "elsewhere", "key": "flags"}}},
                command=["/bin/sh", "-c", "exec dockerd $FLAGS"],
            ),
            {"EXD001"},
            f"{CannotDetermine} the addresses dockerd of Deployment/sourcegraph-executors/executor-all listens on: "
            "the shell splits '$FLAGS' into arguments the render does not settle",
        ),
        "shell-positional-parameters": (
            "recommended-plain-containers",
            dind_env(command=["/bin/sh", "-c", 'exec dockerd "$@"', "sh", "--tls=false", f"--host={EXPOSED}"]),
            {"EXD001"},
            f"listens on {EXPOSED}",
        ),
        "script-computes-the-address": (
            "baseline",
            dind_env(command=["/bin/sh", "-c", 'addr=$(cat /etc/addr); exec dockerd -H "$addr"']),
            {"EXD001"},
            f"{CannotDetermine} the addresses dockerd of Deployment/sourcegraph/executor-all listens on: the shell "
            "computes '$addr' when it runs",
        ),
        "daemon-json-from-a-secret": (
            "recommended",
            both(
                add(secret("dockerd-config", {"daemon.json": EXPOSED_JSON})),
                docker_config_volume({"secret": {"secretName": "dockerd-config"}}),
            ),
            {"EXD001"},
            f"data.daemon.json: dockerd of Deployment/sourcegraph/executor-all listens on {EXPOSED}",
        ),
        "daemon-json-in-binary-data": (
            "strict",
            both(
                add(config_map("docker-binary", binary={"daemon.json": EXPOSED_JSON})),
                docker_config_volume({"configMap": {"name": "docker-binary"}}),
            ),
            {"EXD001"},
            f"binaryData.daemon.json: dockerd of Deployment/sourcegraph-executors/executor-all listens on {EXPOSED}",
        ),
        "daemon-json-through-a-projected-volume": (
            "recommended",
            both(
                add(config_map("docker-extra", {"exposed": EXPOSED_JSON})),
                docker_config_volume(
                    {
                        "projected": {
                            "sources": [
                                {
                                    "configMap": {
                                        "name": "docker-extra",
                                        "items": [{"key": "exposed", "path": "daemon.json"}],
                                    }
                                }
                            ]
                        }
                    },
                    {"mountPath": "/etc/docker"},
                ),
            ),
            {"EXD001"},
            f"data.exposed: dockerd of Deployment/sourcegraph/executor-all listens on {EXPOSED}",
        ),
        "daemon-json-by-sub-path-expr": (
            "baseline",
            both(
                edit(
                    lambda o: find(o, "ConfigMap", "executor-dind-docker")["data"].update({"open.json": EXPOSED_JSON})
                ),
                dind_env({"name": "CONFIG_KEY", "value": "open.json"}),
                docker_config_volume(
                    {"configMap": {"name": "executor-dind-docker"}},
                    {"mountPath": "/etc/docker/daemon.json", "subPathExpr": "$(CONFIG_KEY)"},
                ),
            ),
            {"EXD001"},
            f"data.open.json: dockerd of Deployment/sourcegraph/executor-all listens on {EXPOSED}",
        ),
        "daemon-json-with-a-byte-order-mark": (
            "recommended",
            edit(
                lambda o: find(o, "ConfigMap", "executor-dind-docker")["data"].update(
                    {"daemon.json": "\ufeff" + EXPOSED_JSON}
                )
            ),
            {"EXD001"},
            f"data.daemon.json: dockerd of Deployment/sourcegraph/executor-all listens on {EXPOSED}",
        ),
        "daemon-json-key-in-another-case": (
            "strict-runtimeclass",
            edit(
                lambda o: find(o, "ConfigMap", "executor-dind-docker")["data"].update(
                    {"daemon.json": json.dumps({"Hosts": [EXPOSED]})}
                )
            ),
            {"EXD001"},
            f"listens on {EXPOSED}",
        ),
        "script-writes-the-config-file": (
            "recommended",
            dind_env(
                command=[
                    "/bin/sh",
                    "-c",
                    f"echo '{EXPOSED_JSON}' > /tmp/d.json\nexec dockerd --config-file=/tmp/d.json",
                ]
            ),
            {"EXD001"},
            f"{CannotDetermine} the addresses dockerd of Deployment/sourcegraph/executor-all listens on: dockerd reads "
            "/tmp/d.json, but no ConfigMap or Secret in the render provides it",
        ),
        "daemon-json-on-an-empty-dir": (
            "strict",
            docker_config_volume({"emptyDir": {}}, {"mountPath": "/etc/docker"}),
            {"EXD001"},
            "dockerd reads /etc/docker/daemon.json, but volume 'docker-config' mounted at /etc/docker is a emptyDir "
            "volume: something running writes what it holds",
        ),
        "daemon-json-from-a-config-map-elsewhere": (
            "baseline",
            docker_config_volume({"configMap": {"name": "kept-elsewhere"}}),
            {"EXD001"},
            "shows ConfigMap 'kept-elsewhere', which the render does not hold",
        ),
    },
    "privilege": {
        "privileged-init-container": (
            "strict",
            add_container(
                "initContainers",
                {"name": "setup", "image": BUSYBOX, "command": ["true"], "securityContext": {"privileged": True}},
            ),
            {"EXD016"},
            "container 'setup' of Deployment/sourcegraph-executors/executor-all is privileged but runs no dockerd",
        ),
        "capability-adding-sidecar": (
            "recommended",
            add_container(
                "containers",
                {"name": "helper", "image": BUSYBOX, "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}},
            ),
            {"EXD016"},
            "spec.template.spec.containers[1].securityContext: container 'helper' of "
            "Deployment/sourcegraph/executor-all adds SYS_ADMIN",
        ),
        "privileged-ephemeral-container": (
            "baseline",
            add_container(
                "ephemeralContainers", {"name": "debug", "image": BUSYBOX, "securityContext": {"privileged": True}}
            ),
            {"EXD016"},
            "spec.template.spec.ephemeralContainers[0].securityContext",
        ),
        "privileged-dind-image-running-a-shell": (
            "strict-runtimeclass",
            add_container(
                "containers",
                {
                    "name": "shell",
                    "image": DIND_IMAGE,
                    "command": ["sh", "-c", "sleep 1d"],
                    "securityContext": {"privileged": True},
                },
            ),
            {"EXD016"},
            "container 'shell' of Deployment/sourcegraph-executors/executor-all is privileged but runs no dockerd",
        ),
        "executor-proc-mount-unmasked": (
            "strict",
            executor_context(procMount="Unmasked"),
            {"EXD007"},
            "the executor container needs no privileges but has: procMount Unmasked",
        ),
        "executor-selinux-spc-t": (
            "recommended",
            executor_context(seLinuxOptions={"type": "spc_t"}),
            {"EXD007"},
            "SELinux type spc_t",
        ),
        "pod-selinux-spc-t": (
            "baseline",
            pod_context(seLinuxOptions={"type": "spc_t"}),
            {"EXD007"},
            "SELinux type spc_t",
        ),
        "executor-apparmor-unconfined": (
            "strict",
            executor_context(appArmorProfile={"type": "Unconfined"}),
            {"EXD007"},
            "AppArmor Unconfined",
        ),
        "pod-apparmor-unconfined": (
            "recommended",
            pod_context(appArmorProfile={"type": "Unconfined"}),
            {"EXD007"},
            "AppArmor Unconfined",
        ),
        "apparmor-annotation-unconfined": (
            "recommended-plain-containers",
            edit(
                lambda o: (
                    deployment(o)["spec"]["template"]["metadata"]
                    .setdefault("annotations", {})
                    .update({"container.apparmor.security.beta.kubernetes.io/executor": "unconfined"})
                )
            ),
            {"EXD007"},
            "AppArmor Unconfined",
        ),
        "executor-run-as-group-0": ("strict", executor_context(runAsGroup=0), {"EXD007"}, "runAsGroup 0"),
        "pod-supplemental-group-0": (
            "recommended",
            pod_context(supplementalGroups=[0]),
            {"EXD007"},
            "group 0 (fsGroup or supplementalGroups)",
        ),
        "pod-fs-group-0": ("baseline", pod_context(fsGroup=0), {"EXD007"}, "group 0 (fsGroup or supplementalGroups)"),
        "share-process-namespace": (
            "strict",
            set_pod(shareProcessNamespace=True),
            {"EXD017"},
            "spec.template.spec.shareProcessNamespace: shareProcessNamespace: true lets every container",
        ),
        "share-process-namespace-beside-plain-dind": (
            "recommended-plain-containers",
            set_pod(shareProcessNamespace=True),
            {"EXD017"},
            "every container of the pod see and signal dockerd",
        ),
        "token-secret-through-secret-key-ref": (
            "recommended",
            both(
                add(token_secret),
                executor_env(
                    lambda env: [
                        *env,
                        {
                            "name": "KUBE_TOKEN",
                            "valueFrom": {"secretKeyRef": {"name": "executor-token", "key": "token"}},
                        },
                    ]
                ),
            ),
            {"EXD002"},
            "env 'KUBE_TOKEN' of 'executor' reads the service-account token Secret 'executor-token'",
        ),
        "token-secret-through-env-from": (
            "strict",
            both(add(token_secret), set_container("docker-prune", envFrom=[{"secretRef": {"name": "executor-token"}}])),
            {"EXD002"},
            "envFrom of 'docker-prune' reads the service-account token Secret 'executor-token'",
        ),
        "token-secret-through-a-projected-secret": (
            "recommended",
            both(
                add(token_secret),
                mount_volume(
                    {"name": "creds", "projected": {"sources": [{"secret": {"name": "executor-token"}}]}}, "executor"
                ),
            ),
            {"EXD002"},
            "volume 'creds' mounts the service-account token Secret 'executor-token'",
        ),
        "token-secret-by-annotation-as-a-volume": (
            "baseline",
            both(
                add(
                    secret(
                        "legacy-token",
                        {"token": "x"},
                        annotations={"kubernetes.io/service-account.name": "executor-dind"},
                    )
                ),
                mount_volume({"name": "legacy", "secret": {"secretName": "legacy-token"}}),
            ),
            {"EXD002"},
            "the service-account token Secret 'legacy-token'",
        ),
        "host-path-through-a-bound-volume": (
            "strict",
            both(
                add(claim("cache", "node-cache"), persistent_volume("node-cache", {"hostPath": {"path": "/var/run"}})),
                mount_volume({"name": "cache", "persistentVolumeClaim": {"claimName": "cache"}}),
            ),
            {"EXD010"},
            "volume 'cache' mounts the node's container runtime socket (/var/run/docker.sock) through claim 'cache' "
            "bound to PersistentVolume/node-cache (hostPath)",
        ),
        "local-volume-bound-by-claim-ref": (
            "recommended",
            both(
                add(
                    claim("scratch"), persistent_volume("node-disk", {"local": {"path": "/mnt/disks/ssd0"}}, "scratch")
                ),
                mount_volume({"name": "scratch", "persistentVolumeClaim": {"claimName": "scratch"}}, "executor"),
            ),
            {"EXD010"},
            "the node's /mnt/disks/ssd0 through claim 'scratch' bound to PersistentVolume/node-disk (local)",
        ),
        "nfs-volume": (
            "strict",
            mount_volume({"name": "share", "nfs": {"server": "10.0.0.5", "path": "/exports"}}),
            {"EXD018"},
            "volume 'share' is nfs storage the node mounts",
        ),
        "iscsi-through-a-bound-volume": (
            "baseline",
            both(
                add(
                    claim("block", "san-lun"),
                    persistent_volume(
                        "san-lun", {"iscsi": {"targetPortal": "10.0.0.9:3260", "iqn": "iqn.x:y", "lun": 0}}
                    ),
                ),
                mount_volume({"name": "block", "persistentVolumeClaim": {"claimName": "block"}}),
            ),
            {"EXD018"},
            "volume 'block' is iscsi storage the node mounts through claim 'block' bound to PersistentVolume/san-lun",
        ),
        "claim-outside-the-render": (
            "recommended",
            mount_volume({"name": "data", "persistentVolumeClaim": {"claimName": "made-elsewhere"}}),
            {"EXD018"},
            f"{CannotDetermine} what volume 'data' mounts: claim 'made-elsewhere' is not in the render",
        ),
    },
    "executor-env": {
        "duplicate-password-entry-last-wins": (
            "strict",
            executor_env(lambda env: [*env, {"name": "EXECUTOR_FRONTEND_PASSWORD", "value": "hunter2"}]),
            {"EXD003"},
            "spec.template.spec.containers[0].env[13]: the password of Deployment/sourcegraph-executors/executor-all "
            "is a literal value",
        ),
        "duplicate-url-entry-last-wins": (
            "recommended",
            executor_env(lambda env: [*env, {"name": "EXECUTOR_FRONTEND_URL", "value": "http://sourcegraph-frontend"}]),
            {"EXD004"},
            "EXECUTOR_FRONTEND_URL 'http://sourcegraph-frontend' of Deployment/sourcegraph/executor-all has no port",
        ),
        "password-from-a-config-map": (
            "baseline",
            both(
                add(config_map("executor-settings", {"password": "hunter2"})),
                executor_env(
                    lambda env: [
                        {
                            "name": v["name"],
                            "valueFrom": {"configMapKeyRef": {"name": "executor-settings", "key": "password"}},
                        }
                        if v["name"] == "EXECUTOR_FRONTEND_PASSWORD"
                        else v
                        for v in env
                    ]
                ),
            ),
            {"EXD003"},
            "comes from ConfigMap/sourcegraph/executor-settings, a literal by another name",
        ),
        "password-through-env-from-with-a-prefix": (
            "strict",
            both(
                add(config_map("frontend-settings", {"PASSWORD": "hunter2"})),
                executor_env(
                    without("EXECUTOR_FRONTEND_PASSWORD"),
                    envFrom=[{"prefix": "EXECUTOR_FRONTEND_", "configMapRef": {"name": "frontend-settings"}}],
                ),
            ),
            {"EXD003"},
            "data.PASSWORD: the password of Deployment/sourcegraph-executors/executor-all comes from "
            "ConfigMap/sourcegraph-executors/frontend-settings",
        ),
        "url-through-env-from-with-a-prefix": (
            "recommended",
            both(
                add(config_map("frontend-settings", {"URL": "http://sourcegraph-frontend.sourcegraph.svc"})),
                executor_env(
                    without("EXECUTOR_FRONTEND_URL"),
                    envFrom=[{"prefix": "EXECUTOR_FRONTEND_", "configMapRef": {"name": "frontend-settings"}}],
                ),
            ),
            {"EXD004"},
            "data.URL: EXECUTOR_FRONTEND_URL 'http://sourcegraph-frontend.sourcegraph.svc' of "
            "Deployment/sourcegraph/executor-all has no port",
        ),
        "url-expanded-by-the-kubelet": (
            "strict",
            executor_env(
                lambda env: [
                    {"name": "FRONTEND", "value": "sourcegraph-frontend.sourcegraph.svc"},
                    *[
                        {"name": v["name"], "value": "http://$(FRONTEND)"}
                        if v["name"] == "EXECUTOR_FRONTEND_URL"
                        else v
                        for v in env
                    ],
                ]
            ),
            {"EXD004"},
            "EXECUTOR_FRONTEND_URL 'http://sourcegraph-frontend.sourcegraph.svc' of "
            "Deployment/sourcegraph-executors/executor-all has no port",
        ),
        "url-from-outside-the-render": (
            "baseline",
            executor_env(
                lambda env: [
                    {"name": v["name"], "valueFrom": {"secretKeyRef": {"name": "frontend-url", "key": "url"}}}
                    if v["name"] == "EXECUTOR_FRONTEND_URL"
                    else v
                    for v in env
                ]
            ),
            {"EXD004"},
            f"{CannotDetermine} EXECUTOR_FRONTEND_URL of Deployment/sourcegraph/executor-all: Secret 'frontend-url' "
            "key 'url', which the render does not hold",
        ),
        "url-with-a-port-of-thousands-of-digits": (
            "recommended",
            executor_env(
                lambda env: [
                    {"name": v["name"], "value": "http://sourcegraph-frontend:" + "9" * 5000}
                    if v["name"] == "EXECUTOR_FRONTEND_URL"
                    else v
                    for v in env
                ]
            ),
            {"EXD004"},
            "spec.template.spec.containers[0].env[0]: EXECUTOR_FRONTEND_URL 'http://sourcegraph-frontend:9999",
        ),
    },
    "workloads": {
        "argo-rollout": (
            "recommended",
            add(workload("argoproj.io/v1alpha1", "Rollout", "spec", "template")),
            {"EXD001", "EXD010"},
            "Rollout/sourcegraph/builder listens on tcp://0.0.0.0:2375",
        ),
        "keda-scaled-job": (
            "strict",
            add(workload("keda.sh/v1alpha1", "ScaledJob", "spec", "jobTargetRef", "template")),
            {"EXD001", "EXD010"},
            "spec.jobTargetRef.template.spec.volumes[0].hostPath: volume 'sock' mounts the node's container "
            "runtime socket",
        ),
        "openkruise-clone-set": (
            "baseline",
            add(workload("apps.kruise.io/v1alpha1", "CloneSet", "spec", "template")),
            {"EXD001", "EXD010"},
            "CloneSet/sourcegraph/builder listens on tcp://0.0.0.0:2375",
        ),
        "any-kind-with-a-job-template": (
            "recommended-plain-containers",
            add(workload("batch.example.com/v1", "NightlyBuild", "spec", "jobTemplate", "spec", "template")),
            {"EXD001", "EXD010"},
            "spec.jobTemplate.spec.template.spec.containers[0].command: dockerd of NightlyBuild/sourcegraph/builder",
        ),
    },
}


CASES = {f"{group}/{name}": case for group, cases in CORPUS.items() for name, case in cases.items()}


@pytest.mark.parametrize("case", CASES)
def test_attack_fails_the_audit(renders, case):
    assert_attack_fails(renders, CASES[case])


def test_every_class_has_several_mutations_over_several_profiles():
    sizes = {group: len(cases) for group, cases in CORPUS.items()}
    assert sizes == {"dockerd-exposure": 18, "privilege": 24, "executor-env": 8, "workloads": 4}
    for cases in CORPUS.values():
        assert len({profile for profile, *_ in cases.values()}) >= 3


# --- what must still pass: the positive controls of the readings above ---------------------------------------------

CLEAN: dict[str, tuple[str, Callable[[Objects], Objects]]] = {
    "loopback-through-kubelet-expansion": (
        "strict-plain-containers",
        dind_env({"name": "LISTEN", "value": "tcp://127.0.0.1:2375"}, command=["dockerd", "-H", "$(LISTEN)"]),
    ),
    "loopback-through-the-shell": (
        "recommended",
        dind_env(
            {"name": "FLAGS", "value": "-H tcp://127.0.0.1:2375"}, command=["/bin/sh", "-c", "exec dockerd $FLAGS"]
        ),
    ),
    # A flag whose value the script computes, quoted, names no address.
    "computed-quoted-flag-value": (
        "baseline",
        dind_env(command=["/bin/sh", "-c", 'mtu=$(cat /sys/class/net/eth0/mtu)\nexec dockerd --mtu="$mtu"']),
    ),
    "loopback-daemon-json-from-a-secret": (
        "recommended",
        both(
            add(secret("dockerd-config", {"daemon.json": json.dumps({"hosts": ["tcp://127.0.0.1:2375"]})})),
            docker_config_volume({"secret": {"secretName": "dockerd-config"}}),
        ),
    ),
    "byte-order-mark-on-a-loopback-daemon-json": (
        "strict",
        edit(
            lambda o: find(o, "ConfigMap", "executor-dind-docker")["data"].update(
                {"daemon.json": "\ufeff" + find(o, "ConfigMap", "executor-dind-docker")["data"]["daemon.json"]}
            )
        ),
    ),
    "unprivileged-init-container": (
        "strict",
        add_container("initContainers", {"name": "setup", "image": BUSYBOX, "securityContext": {"privileged": False}}),
    ),
    "runtime-default-capability-on-a-sidecar": (
        "recommended",
        add_container(
            "containers", {"name": "helper", "image": BUSYBOX, "securityContext": {"capabilities": {"add": ["CHOWN"]}}}
        ),
    ),
    "ordinary-secret-through-env-from": (
        "recommended",
        both(
            add(secret("plain", {"x": "y"})), set_container("docker-prune", envFrom=[{"secretRef": {"name": "plain"}}])
        ),
    ),
    "claim-bound-to-a-dynamic-volume": (
        "recommended",
        both(add(claim("cache")), mount_volume({"name": "cache", "persistentVolumeClaim": {"claimName": "cache"}})),
    ),
    "duplicate-password-entry-from-a-secret-last": (
        "strict",
        executor_env(
            lambda env: [
                {"name": "EXECUTOR_FRONTEND_PASSWORD", "value": "hunter2"},
                *env,
            ]
        ),
    ),
    "password-through-env-from-a-secret-elsewhere": (
        "recommended",
        executor_env(
            without("EXECUTOR_FRONTEND_PASSWORD"),
            envFrom=[{"prefix": "EXECUTOR_FRONTEND_", "secretRef": {"name": "kept-elsewhere"}}],
        ),
    ),
    "unknown-kind-with-a-clean-pod": (
        "recommended",
        add(
            lambda ns: {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {"template": {"spec": {"containers": [{"name": "web", "image": BUSYBOX}]}}},
            }
        ),
    ),
}


@pytest.mark.parametrize("case", CLEAN)
def test_the_same_readings_pass_what_is_safe(renders, case):
    profile, mutate = CLEAN[case]
    assert errors(items_of(mutate(copy.deepcopy(renders[profile].objects)))) == (set(), [])


# --- scheduling: EXD101 is a warning, so it is asserted on its own ------------------------------------------------

TOLERATE_ALL = [{"operator": "Exists"}]
ANY_NODE_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "NotIn", "values": ["x"]}]}]
        }
    }
}
SCHEDULING: dict[str, tuple[str, Callable[[Objects], Objects], list[tuple[str, str]]]] = {
    "tolerate-everything-with-the-os-label": (
        "recommended",
        set_pod(tolerations=TOLERATE_ALL, nodeSelector={"kubernetes.io/os": "linux"}),
        [("EXD101", "spec.template.spec.tolerations")],
    ),
    "tolerate-everything-with-an-excluding-affinity": (
        "strict",
        edit(
            lambda o: (pod(o).pop("nodeSelector"), pod(o).update(tolerations=TOLERATE_ALL, affinity=ANY_NODE_AFFINITY))
        ),
        [("EXD101", "spec.template.spec.tolerations")],
    ),
    "tolerate-every-no-schedule-taint-with-the-arch-label": (
        "strict-runtimeclass",
        set_pod(
            tolerations=[{"operator": "Exists", "effect": "NoSchedule"}], nodeSelector={"kubernetes.io/arch": "amd64"}
        ),
        [("EXD101", "spec.template.spec.tolerations")],
    ),
    "the-os-label-alone-pins-no-pool": (
        "recommended-plain-containers",
        set_pod(nodeSelector={"kubernetes.io/os": "linux"}),
        [("EXD101", "spec.template.spec.nodeSelector")],
    ),
    # Positive control: tolerating everything on the pool's own nodes keeps other workloads off them.
    "tolerate-everything-on-the-pool": ("recommended", set_pod(tolerations=TOLERATE_ALL), []),
}


@pytest.mark.parametrize("case", SCHEDULING)
def test_scheduling_anywhere_is_exd101(renders, case):
    profile, mutate, expected = SCHEDULING[case]
    clean = renders[profile].objects
    assert [r for r in audit(items_of(clean)) if r.rule == "EXD101"] == []
    findings = audit(items_of(mutate(copy.deepcopy(clean))))
    assert [(r.rule, r.field_path) for r in findings if r.rule == "EXD101"] == expected
    assert {r.severity for r in findings if r.rule == "EXD101"} <= {"warning"}


def test_a_port_of_thousands_of_digits_is_a_located_error_on_the_command_line(executor_dind, renders, tmp_path):
    """issue 20 item 4: no traceback, no internal error; the finding names the object and the field."""
    path = tmp_path / "render.yaml"
    mutate = CORPUS["executor-env"]["url-with-a-port-of-thousands-of-digits"][1]
    path.write_text(dump(mutate(copy.deepcopy(renders["recommended"].objects))))
    result = run([executor_dind, "audit", str(path)])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout and "internal error" not in result.stderr + result.stdout
    located = [line for line in result.stdout.splitlines() if line.startswith("error EXD004 ")]
    assert len(located) == 1, result.stdout
    assert located[0].startswith(
        "error EXD004 Deployment/sourcegraph/executor-all spec.template.spec.containers[0].env[0]: "
        "EXECUTOR_FRONTEND_URL 'http://sourcegraph-frontend:99999"
    )
    assert located[0].endswith(
        "...' of Deployment/sourcegraph/executor-all has a port outside 1-65535: the executor "
        "cannot connect; use the frontend Service's port (30080) (frontend-url-no-port)"
    )


def test_a_runtime_of_thousands_of_digits_is_a_located_warning(renders):
    """The same class of input as the port: a finding on the field, never an OverflowError."""
    long_runtime = "9" * 5000 + "h"
    mutate = executor_env(
        lambda env: [
            {**v, "value": long_runtime} if v["name"] == "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB" else v for v in env
        ]
    )
    findings = audit(items_of(mutate(copy.deepcopy(renders["strict"].objects))))
    assert [(r.rule, r.field_path, r.message) for r in findings if r.rule == "EXD008"] == [
        (
            "EXD008",
            "spec.template.spec.containers[0].env[4]",
            "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB of Deployment/sourcegraph-executors/executor-all: "
            f"{long_runtime[:40]!r}... (5001 characters) is beyond Go's time.Duration range (at most "
            "2562047h47m16.854775807s): the executor and dockerd cannot read it (short-grace-period)",
        )
    ]


WORKLOAD_KINDS = {
    "argo-rollout": "Rollout",
    "keda-scaled-job": "ScaledJob",
    "openkruise-clone-set": "CloneSet",
    "any-kind-with-a-job-template": "NightlyBuild",
}


@pytest.mark.parametrize("build", [False, True], ids=["nodes", "built"])
@pytest.mark.parametrize("case", WORKLOAD_KINDS)
def test_workloads_of_other_kinds_are_found_in_parsed_text_too(renders, case, build):
    """Read from text: a pod template is found in the parsed nodes before any object is built, and in the objects
    built as the text is read (the command line's way)."""
    profile, mutate, expected, _ = CORPUS["workloads"][case]
    text = dump(mutate(copy.deepcopy(renders[profile].objects)))
    items = read_stream(text, build=build)
    assert [item.node is None for item in items if item.name == "builder"] == [build]
    results = [r for r in audit(items) if r.severity == "error"]
    assert {r.rule for r in results} == expected
    assert {r.resource.describe() for r in results} == {f"{WORKLOAD_KINDS[case]}/{renders[profile].namespace}/builder"}
