"""The audit's verdict table: the rule IDs it reports, per severity, on upstream's component, on a Helm-like
layout (what the sourcegraph-executor-dind chart renders, research/anchors-sourcegraph.md §2.3, written out
since no helm binary is at hand), and on our three profiles over the real upstream base. docs/audit.md's table of
verdicts is this test's expectation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run
from executor_dind.audit import audit
from executor_dind.krm.item import Item
from executor_dind.krm.read import read_stream

NS = "sourcegraph"


def helm_like(gvisor: bool) -> list[dict[str, Any]]:
    """The chart with `executor.queueName: batches`, `executor.frontendExistingSecret`, and dind.gVisor as given."""
    labels = {"app": "executor-batches", "deploy": "sourcegraph", "app.kubernetes.io/component": "executor"}
    daemon = {"tls": False, "mtu": 1200, "hosts": ["tcp://127.0.0.1:2375"]}
    daemon["registry-mirrors"] = ["http://private-docker-registry:5000"]
    if gvisor:
        daemon.update({"storage-driver": "vfs", "iptables": False, "ip6tables": False})
    dind: dict[str, Any] = {
        "name": "dind",
        "image": "index.docker.io/docker:29.5.3-dind",
        "command": ["dockerd"],
        "ports": [{"containerPort": 2375}],
        "securityContext": {"privileged": True},
        "volumeMounts": [
            {"name": "executor-scratch", "mountPath": "/scratch"},
            {"name": "docker-config", "mountPath": "/etc/docker/daemon.json", "subPath": "daemon.json"},
        ],
    }
    pod: dict[str, Any] = {"securityContext": {"fsGroup": 101}, "enableServiceLinks": False}
    if gvisor:
        pod["runtimeClassName"] = "gvisor"
        dind["securityContext"] = {"capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "CHOWN"]}}
        dind["command"] = ["/bin/sh", "-c", "ip link del docker0 || true\nexec dockerd"]
    executor = {
        "name": "executor",
        "image": "index.docker.io/sourcegraph/executor:7.6.0@sha256:" + "0" * 64,
        "ports": [{"name": "http-debug", "containerPort": 8080}],
        "env": [
            {"name": "EXECUTOR_FRONTEND_URL", "value": "http://sourcegraph-frontend:30080"},
            {
                "name": "EXECUTOR_FRONTEND_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "executor", "key": "EXECUTOR_FRONTEND_PASSWORD"}},
            },
            {"name": "EXECUTOR_QUEUE_NAME", "value": "batches"},
            {"name": "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB", "value": "30m"},
            {"name": "DOCKER_HOST", "value": "tcp://localhost:2375"},
        ],
        "volumeMounts": [{"name": "executor-scratch", "mountPath": "/scratch"}],
    }
    pod["containers"] = [executor, dind]
    pod["volumes"] = [
        {"name": "executor-scratch", "emptyDir": {}},
        {"name": "docker-config", "configMap": {"name": "docker-config"}},
    ]
    registry_pod = {
        "containers": [
            {
                "name": "private-docker-registry",
                "image": "index.docker.io/registry:3",
                "ports": [{"name": "http", "containerPort": 5000}],
            }
        ]
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "docker-config", "namespace": NS},
            "data": {"daemon.json": json.dumps(daemon, indent=2)},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "executor-batches", "namespace": NS, "labels": labels},
            "spec": {
                "selector": {"matchLabels": {"app": "executor-batches"}},
                "template": {"metadata": {"labels": labels}, "spec": pod},
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "private-docker-registry", "namespace": NS},
            "spec": {
                "selector": {"matchLabels": {"app": "private-docker-registry"}},
                "template": {"metadata": {"labels": {"app": "private-docker-registry"}}, "spec": registry_pod},
            },
        },
    ]


@pytest.fixture(scope="module")
def component_over_base(kustomize: str, upstream: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Upstream's components/executors/dind (+ private-docker-registry) over upstream's base, by kustomize."""
    where = tmp_path_factory.mktemp("component-over-base")
    dind = upstream / "components" / "executors" / "dind"
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NS,
        "resources": [os.path.relpath(upstream / "base" / "sourcegraph", where)],
        "components": [os.path.relpath(dind, where), os.path.relpath(dind / "private-docker-registry", where)],
        "secretGenerator": [{"name": "executor-secret", "literals": ["password=not-a-real-secret"]}],
    }
    (where / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    built = run([kustomize, "build", str(where)])
    assert built.returncode == 0, built.stderr
    return built.stdout


def verdict(items: list[Item]) -> tuple[list[str], list[str]]:
    results = audit(items)
    return (
        sorted({r.rule for r in results if r.severity == "error"}),
        sorted({r.rule for r in results if r.severity == "warning"}),
    )


# render -> (error rule IDs, warning rule IDs)
VERDICTS = {
    "upstream-component": (
        ["EXD001", "EXD002", "EXD004", "EXD007"],
        ["EXD005", "EXD006", "EXD008", "EXD101", "EXD201", "EXD301", "EXD304"],
    ),
    "upstream-component-over-base": (
        ["EXD001", "EXD002", "EXD004", "EXD007"],
        ["EXD005", "EXD006", "EXD008", "EXD101", "EXD201", "EXD301", "EXD304", "EXD401"],
    ),
    # These renders hold no password Secret (made beside them): EXD014 says its value is not checked.
    "helm-like": (
        ["EXD001", "EXD002", "EXD007"],
        ["EXD005", "EXD006", "EXD008", "EXD014", "EXD101", "EXD201", "EXD301", "EXD304"],
    ),
    "helm-like-gvisor": (
        ["EXD001", "EXD002", "EXD007"],
        ["EXD005", "EXD006", "EXD008", "EXD014", "EXD101", "EXD301", "EXD304"],
    ),
    "baseline": ([], ["EXD005", "EXD014", "EXD101", "EXD201", "EXD301", "EXD304", "EXD401"]),
    "recommended": ([], ["EXD005", "EXD014", "EXD201", "EXD401"]),
    "strict": ([], ["EXD005", "EXD014"]),
}


@pytest.mark.parametrize("render", VERDICTS)
def test_verdict_table(request, renders, upstream_component, render):
    if render == "upstream-component-over-base":
        items = read_stream(request.getfixturevalue("component_over_base"))
    elif render == "upstream-component":
        items = read_stream(upstream_component.read_text())
    elif render.startswith("helm-like"):
        items = [Item.new(obj) for obj in helm_like(gvisor=render.endswith("gvisor"))]
    else:
        items = read_stream(renders[render].path.read_text())
    assert verdict(items) == VERDICTS[render]
