"""podspec: where each workload kind keeps its pod spec, its containers, and what makes a workload an executor's
(what its containers run, not their names)."""

from __future__ import annotations

import pytest

from executor_dind.podspec import POD_SPEC_PATHS, container, containers, is_executor_workload, pod_labels, pod_spec

EXECUTOR = {"name": "x", "image": "index.docker.io/sourcegraph/executor:6.2.1106"}
DIND = {"name": "y", "image": "index.docker.io/sourcegraph/dind:6.2.1106", "command": ["dockerd"]}
POD = {"containers": [EXECUTOR], "initContainers": [DIND]}


def wrap(kind: str, pod: dict) -> dict:
    obj: dict = {"kind": kind, "metadata": {"labels": {"a": "pod"} if kind == "Pod" else {}}}
    node = obj
    path = POD_SPEC_PATHS[kind]
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = pod
    if kind != "Pod":
        node["metadata"] = {"labels": {"a": "template"}}
    return obj


@pytest.mark.parametrize("kind", sorted(POD_SPEC_PATHS))
def test_every_workload_kind(kind):
    obj = wrap(kind, POD)
    assert pod_spec(obj) == (POD, ".".join(POD_SPEC_PATHS[kind]))
    assert pod_labels(obj) == ({"a": "pod"} if kind == "Pod" else {"a": "template"})
    assert is_executor_workload(obj)


def test_containers_come_with_their_paths_init_containers_first():
    assert list(containers(POD, "spec")) == [(DIND, "spec.initContainers[0]"), (EXECUTOR, "spec.containers[0]")]
    assert container(POD, "y") == DIND
    assert container(POD, "registry") is None


def test_not_workloads():
    assert pod_spec({"kind": "Service"}) is None
    assert pod_spec({"kind": "Deployment", "spec": "x"}) is None
    assert pod_spec("text") is None
    # either one makes it an executor workload (fail closed); names alone do not
    assert is_executor_workload(wrap("Deployment", {"containers": [EXECUTOR]}))
    assert is_executor_workload(wrap("Deployment", {"containers": [{"name": "z", "command": ["sh", "-c", "dockerd"]}]}))
    assert not is_executor_workload(wrap("Deployment", {"containers": [{"name": "executor"}, {"name": "dind"}]}))
