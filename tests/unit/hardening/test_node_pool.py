"""node_pool: the pool's selector, toleration and spread on every executor Deployment, not the registry."""

from __future__ import annotations

from executor_dind import naming
from executor_dind.hardening import node_pool

from ..helpers import find, pod
from .support import apply


def test_node_pool_default_selects_the_tainted_nodes_and_spreads():
    objects, results = apply(node_pool.CONTROL, {})
    assert results == []
    deployment = find(objects, "Deployment", "executor-all")
    spec_ = pod(deployment)
    assert spec_["nodeSelector"] == {"executor-dind.dev/untrusted": "true"}
    assert spec_["tolerations"] == [
        {"key": "executor-dind.dev/untrusted", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    [spread] = spec_["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"  # never blocks scheduling or a drain
    assert spread["labelSelector"] == deployment["spec"]["selector"]


def test_node_pool_leaves_the_registry_off_the_pool():
    objects, _ = apply(node_pool.CONTROL, {})
    registry = pod(find(objects, "StatefulSet", naming.REGISTRY))
    assert not {"nodeSelector", "tolerations", "affinity", "topologySpreadConstraints"} & set(registry)


def test_node_pool_custom_selector_taint_and_no_spread():
    objects, _ = apply(
        node_pool.CONTROL,
        {
            "hardening": {
                "nodePool": {
                    "nodeSelector": {"pool": "executors"},
                    "spread": False,
                    "taint": {"key": "dedicated", "value": "executors", "effect": "NoExecute"},
                }
            }
        },
    )
    spec_ = pod(find(objects, "Deployment", "executor-all"))
    assert spec_["nodeSelector"] == {"pool": "executors"}
    assert spec_["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "executors", "effect": "NoExecute"}
    ]
    assert "topologySpreadConstraints" not in spec_


def test_node_pool_applies_to_every_queue():
    objects, _ = apply(node_pool.CONTROL, {"queues": [{"name": "batches"}, {"name": "codeintel"}]})
    for name in ("executor-batches", "executor-codeintel"):
        assert "tolerations" in pod(find(objects, "Deployment", name))
