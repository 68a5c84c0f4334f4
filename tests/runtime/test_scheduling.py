"""Scheduling and rollout of the recommended render: kube-scheduler, kube-controller-manager and kwok fake nodes.

Nodes: three pool nodes (tainted and labelled), two general nodes, one taint-only and one label-only node.
Executors select the pool label and tolerate the pool taint; nothing else tolerates it.
"""

from __future__ import annotations

import collections
import json
import selectors
import subprocess
import time

import pytest
import yaml

from runtime.controlplane import ControlPlane
from runtime.harness import find, in_netns, render, wait_for

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
        taints = {n["metadata"]["name"]: {t["key"] for t in n["spec"].get("taints", [])} for n in items}
        expected = {name: ({KEY} if tainted else set()) for name, (tainted, _) in NODES.items()}
        return all(c.get("Ready") == "True" for c in conditions) and taints == expected

    # Ready, and only our taint left: the lifecycle controller has lifted node.kubernetes.io/not-ready.
    wait_for("kwok nodes Ready and schedulable", ready, timeout=90)
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


def test_a_label_without_the_taint_mixes_executors_and_sourcegraph(cluster, placed) -> None:
    """Why the node pool must be labelled *and* tainted: the label alone draws executors (nodeSelector), and
    without the taint nothing keeps Sourcegraph's pods away, so untrusted jobs share that node's kernel."""
    executors = settled(cluster, "app=executor-all", 4)
    sourcegraph = settled(cluster, "deploy=sourcegraph", 7)
    registry = settled(cluster, "app=executor-dind-registry", 1)
    table = collections.defaultdict(list)
    for pods in (executors, sourcegraph, registry):
        for pod, where in pods.items():
            table[where].append(pod.rsplit("-", 2)[0] if pod.count("-") >= 2 else pod)
    print("placement:", json.dumps({name: sorted(table.get(name, [])) for name in NODES}))
    assert "label-only" in executors.values()
    assert "label-only" in sourcegraph.values()
    assert not table.get("taint-only")  # tolerated by executors, but not selected: nothing lands there


def test_registry_stays_off_the_pool(cluster, placed) -> None:
    where = settled(cluster, "app=executor-dind-registry", 1)
    print("registry:", where)
    assert not set(where.values()) & TAINTED


# "|"-separated: a status field that is absent (0) prints as nothing, which spaces would collapse.
WATCH = (
    "jsonpath={.metadata.generation}|{.status.observedGeneration}|{.status.replicas}|{.status.updatedReplicas}|"
    '{.status.availableReplicas}|{.status.unavailableReplicas}{"\\n"}'
)


def test_mtu_change_rolls_without_losing_capacity(cluster, placed, executor_dind) -> None:
    """Every status the Deployment passes through, from a watch (no poll can miss a dip): available never
    below the 4 desired, with maxSurge 1 / maxUnavailable 0."""
    settled(cluster, "app=executor-all", 4)
    wait_for("4 available", lambda: status(cluster).get("availableReplicas") == 4, timeout=90)
    before = cluster.get_json("deployment", "executor-all")["spec"]["template"]["metadata"]["annotations"]
    watch = subprocess.Popen(
        in_netns(cluster.netns, ["kubectl", f"--kubeconfig={cluster.kubeconfig}", "get", "deployment",
                 "executor-all", "--watch", "-o", WATCH]),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        spec = {**placed["spec"], "docker": {"mtu": 1400}}
        apply_render(cluster, executor_dind, placed["directory"], spec, "mtu")
        deployment = cluster.get_json("deployment", "executor-all")
        after = deployment["spec"]["template"]["metadata"]["annotations"]
        assert before != after  # the daemon.json checksum moved
        target = deployment["metadata"]["generation"]
        seen = []
        selector = selectors.DefaultSelector()
        selector.register(watch.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and selector.select(timeout=max(0.0, deadline - time.monotonic())):
            fields = watch.stdout.readline().strip().split("|")
            assert len(fields) == 6, fields
            generation, observed, replicas, updated, available, unavailable = (int(f or 0) for f in fields)
            seen.append((observed, replicas, updated, available, unavailable))
            if observed == generation == target and (replicas, updated, available, unavailable) == (4, 4, 4, 0):
                break
        else:
            pytest.fail(f"rollout did not finish in 300 s: {seen[-3:]}")
    finally:
        watch.kill()
        watch.wait(timeout=10)
    print(f"rollout: {len(seen)} statuses, replicas {sorted({s[1] for s in seen})}, "
          f"available {sorted({s[3] for s in seen})}")  # fmt: skip
    assert min(s[3] for s in seen) == 4, seen
    assert max(s[1] for s in seen) == 5  # one surge pod at a time


def status(cluster: ControlPlane) -> dict:
    deployment = cluster.get_json("deployment", "executor-all")
    state = deployment["status"]
    if state.get("observedGeneration", 0) < deployment["metadata"]["generation"]:
        return {}
    return state


def test_scaling_spreads_the_new_pods(cluster, placed, executor_dind) -> None:
    spec = {**placed["spec"], "docker": {"mtu": 1400}, "queues": [{**SPEC["queues"][0], "replicas": 8}]}
    apply_render(cluster, executor_dind, placed["directory"], spec, "eight")
    where = settled(cluster, "app=executor-all", 8)
    print("executors after scaling to 8:", json.dumps(collections.Counter(where.values())))
    assert collections.Counter(where.values()) == {name: 2 for name in EXECUTOR_ELIGIBLE}
