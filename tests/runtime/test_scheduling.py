"""Scheduling and rollout of the recommended render: kube-scheduler, kube-controller-manager and kwok fake nodes.

Nodes: three pool nodes (tainted and labelled), two general nodes, one taint-only and one label-only node.
Executors select the pool label and tolerate the pool taint; nothing else tolerates it.
"""

from __future__ import annotations

import collections
import json
import time

import pytest
import yaml

from runtime.controlplane import ControlPlane
from runtime.harness import find, render, wait_for

KEY, VALUE = "executor-dind.dev/untrusted", "true"
NODES = {
    "pool-1": (True, True),
    "pool-2": (True, True),
    "pool-3": (True, True),
    "general-1": (False, False),
    "general-2": (False, False),
    "taint-only": (True, False),
    "label-only": (False, True),
}  # name: (tainted, labelled)
TAINTED = {name for name, (taint, _) in NODES.items() if taint}
EXECUTOR_ELIGIBLE = {name for name, (taint, label) in NODES.items() if label}  # the label-only node too
SPEC = {"hardening": {"profile": "recommended"}, "queues": [{"name": "all", "queueNames": ["batches", "codeintel"]}]}


KWOK_ROLLOUT = pytest.mark.xfail(
    strict=False,
    reason="open: on 2 shared cores the new ReplicaSet's pods stay Pending and old ones Terminating under kwok "
    "v0.8.0 (availableReplicas fell to 1 in one run); not yet told apart from a kwok stage problem",
)


def node(name: str, tainted: bool, labelled: bool) -> dict:
    labels = {"kubernetes.io/hostname": name, "type": "kwok"} | ({KEY: VALUE} if labelled else {})
    spec = {"taints": [{"key": KEY, "value": VALUE, "effect": "NoSchedule"}]} if tainted else {}
    capacity = {"cpu": "64", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels,
            "annotations": {"kwok.x-k8s.io/node": "fake"}}, "spec": spec,
            "status": {"capacity": capacity, "allocatable": capacity}}  # fmt: skip


def sourcegraph_like(name: str, replicas: int) -> dict:
    """A Sourcegraph service as upstream schedules it: no toleration, no selector."""
    labels = {"app": name, "deploy": "sourcegraph"}
    container = {"name": name, "image": "sourcegraph/" + name, "resources": {"requests": {"cpu": "1"}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default",
            "labels": labels}, "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}  # fmt: skip


@pytest.fixture(scope="module")
def cluster(janitor, tmp_path_factory) -> ControlPlane:
    directory = tmp_path_factory.mktemp("sched-plane")
    plane = ControlPlane(janitor, directory).start(with_nodes=True)
    nodes = [node(name, *flags) for name, flags in NODES.items()]
    assert plane.apply(yaml.safe_dump_all(nodes)).returncode == 0

    def ready() -> bool:
        items = plane.get_json("nodes")["items"]
        conditions = [{c["type"]: c["status"] for c in n["status"].get("conditions", [])} for n in items]
        return len(items) == len(NODES) and all(c.get("Ready") == "True" for c in conditions)

    wait_for("kwok nodes Ready", ready, timeout=60)
    yield plane
    plane.stop()


def placement(cluster: ControlPlane, selector: str) -> dict[str, str]:
    pods = cluster.get_json("pods", "-A", "-l", selector)["items"]
    return {
        p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in pods if not p["metadata"].get("deletionTimestamp")
    }


def settled(cluster: ControlPlane, selector: str, count: int) -> dict[str, str]:
    def done() -> bool:
        where = placement(cluster, selector)
        return len(where) == count and all(where.values())

    wait_for(f"{count} pods of {selector} scheduled", done, timeout=120, interval=0.5)
    return placement(cluster, selector)


def apply_render(cluster: ControlPlane, executor_dind, directory, spec: dict, name: str) -> list[dict]:
    objects = render(executor_dind, spec, directory, name)
    result = cluster.apply(yaml.safe_dump_all(objects))
    assert result.returncode == 0, result.stderr
    return objects


@pytest.fixture(scope="module")
def placed(cluster, executor_dind, tmp_path_factory) -> dict:
    directory = tmp_path_factory.mktemp("sched")
    spec = {**SPEC, "queues": [{**SPEC["queues"][0], "replicas": 4}]}
    objects = apply_render(cluster, executor_dind, directory, spec, "four")
    claim = find(objects, "StatefulSet")["spec"]["volumeClaimTemplates"][0]["spec"]
    volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "registry-cache"},
              "spec": {"capacity": claim["resources"]["requests"], "accessModes": ["ReadWriteOnce"],
                       "hostPath": {"path": str(directory / "cache")}}}  # fmt: skip
    sourcegraph = [sourcegraph_like("frontend", 3), sourcegraph_like("gitserver", 2), sourcegraph_like("worker", 2)]
    assert cluster.apply(yaml.safe_dump_all([volume, *sourcegraph])).returncode == 0
    return {"directory": directory, "spec": spec}


def test_executors_land_on_labelled_nodes_and_spread(cluster, placed) -> None:
    where = settled(cluster, "app=executor-all", 4)
    print("executors:", json.dumps(sorted(where.values())))
    assert set(where.values()) <= EXECUTOR_ELIGIBLE
    # ScheduleAnyway spread over the four labelled nodes: one each (the label-only node is one of them).
    assert collections.Counter(where.values()) == {name: 1 for name in EXECUTOR_ELIGIBLE}


def test_sourcegraph_never_lands_on_the_pool(cluster, placed) -> None:
    where = settled(cluster, "deploy=sourcegraph", 7)
    print("sourcegraph:", json.dumps(collections.Counter(where.values())))
    assert not set(where.values()) & TAINTED


def test_registry_stays_off_the_pool(cluster, placed) -> None:
    where = settled(cluster, "app=executor-dind-registry", 1)
    print("registry:", where)
    assert not set(where.values()) & TAINTED


@KWOK_ROLLOUT
def test_mtu_change_rolls_without_losing_capacity(cluster, placed, executor_dind) -> None:
    settled(cluster, "app=executor-all", 4)
    wait_for("4 available", lambda: status(cluster).get("availableReplicas") == 4, timeout=60)
    before = cluster.get_json("deployment", "executor-all")["spec"]["template"]["metadata"]["annotations"]
    spec = {**placed["spec"], "docker": {"mtu": 1400}}
    apply_render(cluster, executor_dind, placed["directory"], spec, "mtu")
    after = cluster.get_json("deployment", "executor-all")["spec"]["template"]["metadata"]["annotations"]
    assert before != after  # the daemon.json checksum moved
    lowest, deadline = 4, time.monotonic() + 120
    while time.monotonic() < deadline:
        current = status(cluster)
        lowest = min(lowest, current.get("availableReplicas", 0))
        if (
            current.get("updatedReplicas") == 4
            and current.get("availableReplicas") == 4
            and not current.get("unavailableReplicas")
            and current.get("replicas") == 4
        ):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"rollout did not finish: {status(cluster)}")
    assert lowest >= 4


def status(cluster: ControlPlane) -> dict:
    deployment = cluster.get_json("deployment", "executor-all")
    state = deployment["status"]
    if state.get("observedGeneration", 0) < deployment["metadata"]["generation"]:
        return {}
    return state


@KWOK_ROLLOUT
def test_scaling_spreads_the_new_pods(cluster, placed, executor_dind) -> None:
    spec = {**placed["spec"], "docker": {"mtu": 1400}, "queues": [{**SPEC["queues"][0], "replicas": 8}]}
    apply_render(cluster, executor_dind, placed["directory"], spec, "eight")
    where = settled(cluster, "app=executor-all", 8)
    print("executors after scaling to 8:", json.dumps(collections.Counter(where.values())))
    assert collections.Counter(where.values()) == {name: 2 for name in EXECUTOR_ELIGIBLE}
