"""pod_security: the executors' own labelled Namespace, and its check."""

from __future__ import annotations

import pytest

from executor_dind.hardening import gvisor, pod_security

from ..helpers import find
from .support import apply


def test_pod_security_adds_a_labelled_namespace_for_the_executors():
    objects, results = apply(pod_security.CONTROL, {"namespace": "executors"}, namespace="executors")
    assert results == []
    namespace = find(objects, "Namespace", "executors")
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "baseline"
    assert labels["pod-security.kubernetes.io/audit"] == "baseline"
    assert "namespace" not in namespace["metadata"]
    assert [o for o in objects if o["kind"] == "Namespace"] == [namespace]  # Sourcegraph's is never touched


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({}, "is not set"),
        ({"namespace": "sourcegraph"}, "is Sourcegraph's own namespace ('sourcegraph')"),
    ],
)
def test_pod_security_needs_a_namespace_of_their_own(raw, reason):
    objects, results = apply(pod_security.CONTROL, raw)
    assert [(r.severity, r.field_path) for r in results] == [("error", "spec.namespace")]
    assert results[0].message.startswith(
        f"hardening.podSecurity needs the executors in a namespace of their own, but spec.namespace {reason}"
    )
    assert not [o for o in objects if o["kind"] == "Namespace"]


def test_cluster_scoped_objects_say_they_need_a_cluster_admin():
    """Like deploy-sourcegraph-k8s's RBAC objects: a Namespace or RuntimeClass cannot be applied without one."""
    objects, _ = apply(gvisor.CONTROL, {"hardening": {"gvisor": {"createRuntimeClass": True}}})
    runtime_class = find(objects, "RuntimeClass", "gvisor")
    namespace = pod_security.namespace_object("sourcegraph-executors")
    for obj in (runtime_class, namespace):
        assert obj["metadata"]["labels"]["sourcegraph-resource-requires"] == "cluster-admin"
        assert obj["metadata"]["labels"]["deploy"] == "sourcegraph"
    namespaced = [o for o in objects if o["kind"] not in ("RuntimeClass", "Namespace")]
    assert {o["metadata"]["labels"]["sourcegraph-resource-requires"] for o in namespaced} == {"no-cluster-admin"}
