"""naming: names that never collide with upstream's, labels, no hard-coded namespace, selectors apart."""

from __future__ import annotations

import pytest

from executor_dind import naming
from executor_dind.audit.scope import selector_matches
from executor_dind.discovery import UPSTREAM_OBJECTS
from executor_dind.podspec import pod_labels

from .built import (
    build,
    workloads,
)
from .helpers import find


def test_no_hard_coded_namespace():
    for obj in build(ns=""):
        assert "namespace" not in obj["metadata"], (obj["kind"], obj["metadata"]["name"])
    for obj in build(namespace="executors"):
        assert obj["metadata"]["namespace"] == "executors", (obj["kind"], obj["metadata"]["name"])


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


def test_a_queue_name_cannot_make_selectors_overlap():
    objects = build(queues=[{"name": "dind-registry", "queueNames": ["batches"]}])
    deployment = find(objects, "Deployment", "executor-dind-registry")
    registry = find(objects, "StatefulSet", naming.REGISTRY)
    assert not selector_matches(deployment["spec"]["selector"], pod_labels(registry))
