"""plan: the one pipeline — checks before anything is built, controls applied in order, no shared nodes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from executor_dind import hardening
from executor_dind.hardening.common import Applied, Patch, op
from executor_dind.plan import plan, plan_for, prerequisites_first, with_applied
from executor_dind.spec import Spec

from .helpers import context, frontend_service, items, spec

# Specs that reach every branch of the model and of every control.
SPECS = {
    "default": {},
    "recommended": {"hardening": {"profile": "recommended"}},
    "strict": {"namespace": "executors", "hardening": {"profile": "strict", "gvisor": {"createRuntimeClass": True}}},
    "everything": {
        "namespace": "executors",
        "queues": [
            {"name": "batches", "env": {"A": "1", "B": {"valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}}},
            {"name": "codeintel", "resources": {"limits": {"cpu": "2"}}},
        ],
        "docker": {
            "nativeSidecar": False,
            "daemonConfig": {"features": {"buildkit": True}, "dns": ["1.1.1.1"]},
            "resources": {"requests": {"memory": "3Gi"}},
        },
        "storage": {"type": "ephemeral", "size": "30Gi", "storageClassName": "fast"},
        "hardening": {
            "profile": "strict",
            "nodePool": {"nodeSelector": {"pool": "executors"}},
            "networkPolicy": {"allowedCIDRs": ["10.1.0.0/16"], "dns": {"podLabels": {"k8s-app": "coredns"}}},
        },
    },
}


def nodes(value: Any, path: str = ""):
    """Every dict and list in a value, with where it is."""
    if isinstance(value, dict):
        yield value, path
        for key, item in value.items():
            yield from nodes(item, f"{path}.{key}")
    elif isinstance(value, list):
        yield value, path
        for index, item in enumerate(value):
            yield from nodes(item, f"{path}[{index}]")


def spec_nodes(value: Any):
    """Every container node of a parsed spec (records, maps, tuples), by identity."""
    if isinstance(value, tuple | list):
        yield value
        for item in value:
            yield from spec_nodes(item)
    elif hasattr(value, "items") and callable(value.items):
        yield value
        for item in value.values():
            yield from spec_nodes(item)


@pytest.mark.parametrize("name", SPECS)
def test_no_node_is_shared_between_emitted_objects_nor_with_the_spec(name):
    parsed = spec(**SPECS[name])
    planned = plan(parsed, items(frontend_service("sourcegraph")))
    assert not planned.failed, planned.results
    seen: dict[int, str] = {}
    for obj in planned.objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        for node, path in nodes(obj):
            assert id(node) not in seen, f"{where}{path} is the same object as {seen[id(node)]}"
            seen[id(node)] = where + path
    shared = [seen[id(node)] for node in spec_nodes(parsed) if id(node) in seen]
    assert shared == []


def test_a_spec_with_nested_values_is_frozen_all_the_way_down():
    parsed = spec(**SPECS["everything"])
    env = parsed.queues[0].env
    with pytest.raises(TypeError):
        env["A"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        env["B"]["valueFrom"]["fieldRef"]["fieldPath"] = "x"  # type: ignore[index]
    assert parsed.docker.daemon_config["dns"] == ("1.1.1.1",)


def test_checks_run_before_anything_is_built():
    planned = plan_for(spec(namespace="sourcegraph", hardening={"podSecurity": {"enabled": True}}), context())
    assert [(r.severity, r.field_path) for r in planned.results] == [("error", "spec.namespace")]
    assert planned.objects == ()
    assert planned.steps == ()


def test_every_enabled_control_is_a_step_in_table_order():
    planned = plan_for(spec(namespace="executors", hardening={"profile": "strict"}), context("executors"))
    assert [step.control.id for step in planned.steps] == [control.id for control in hardening.CONTROLS]
    assert [c.id for c in planned.controls] == ["baseline", "nodePool", "gvisor", "networkPolicy", "podSecurity"]


def test_the_objects_are_what_the_steps_return_in_order():
    planned = plan_for(spec(namespace="executors", hardening={"profile": "strict"}), context("executors"))
    objects: tuple[dict[str, Any], ...] = ()
    for step in planned.steps:
        objects = with_applied(objects, step.applied)
    assert prerequisites_first(objects) == planned.objects


def test_cluster_scoped_prerequisites_come_first():
    raw = {"namespace": "executors", "hardening": {"profile": "strict", "gvisor": {"createRuntimeClass": True}}}
    planned = plan_for(spec(**raw), context("executors"))
    kinds = [obj["kind"] for obj in planned.objects]
    assert kinds[:2] == ["RuntimeClass", "Namespace"]
    assert "Namespace" not in kinds[2:] and "RuntimeClass" not in kinds[2:]
    assert kinds[2:5] == ["ServiceAccount", "ConfigMap", "Service"]  # the rest keeps its order


def test_with_applied_never_mutates_its_input():
    objects = ({"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": 1}},)
    before = copy.deepcopy(objects)
    added = {"kind": "Service", "metadata": {"name": "b"}}
    applied = Applied(
        added=(added,), patches=(Patch("Deployment", "a", (op("replace", "/spec/replicas", 2), op("add", "/x", 1))),)
    )
    out = with_applied(objects, applied)
    assert objects == before
    assert out == ({"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": 2}, "x": 1}, added)


def test_a_patch_for_an_object_that_was_never_built_is_a_programming_error():
    with pytest.raises(AssertionError, match="patches for objects that do not exist"):
        with_applied((), Applied(patches=(Patch("Deployment", "nope", (op("add", "/x", 1),)),)))


def test_upstream_objects_fail_the_plan_like_render(upstream_component):
    from executor_dind.krm.read import read_stream

    planned = plan(Spec(), [*items(frontend_service("sourcegraph")), *read_stream(upstream_component)])
    assert planned.failed
    assert planned.objects == ()
    [error] = [r for r in planned.results if r.severity == "error"]
    assert error.message.startswith("the input already has the upstream components/executors/dind objects")
