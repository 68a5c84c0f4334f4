"""pod_security: the executors' own labelled Namespace, and its check."""

from __future__ import annotations

import pytest

from executor_dind.hardening import gvisor, pod_security

from ..helpers import find, problems, spec
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


def test_pod_security_refuses_sourcegraphs_own_namespace_given_by_the_input():
    objects, results = apply(pod_security.CONTROL, {"namespace": "sourcegraph"})
    assert [(r.severity, r.field_path) for r in results] == [("error", "spec.namespace")]
    assert results[0].message.startswith(
        "hardening.podSecurity needs the executors in a namespace of their own, but spec.namespace is Sourcegraph's "
        "own namespace ('sourcegraph')"
    )
    assert not [o for o in objects if o["kind"] == "Namespace"]


@pytest.mark.parametrize(
    ("namespace", "reason"),
    [
        ("", "is not set"),
        *(
            (name, f"is {name!r}, which every cluster shares (its label would admit privileged pods for all)")
            for name in ("default", "kube-system", "kube-public", "kube-node-lease")
        ),
    ],
)
def test_pod_security_refuses_no_namespace_and_the_shared_system_ones_at_the_field(namespace, reason):
    raw = {"namespace": namespace, "hardening": {"podSecurity": {"enabled": True}}}
    assert problems(raw) == [
        (
            "spec.namespace",
            f"hardening.podSecurity labels the executors' namespace privileged, but spec.namespace {reason}: set it "
            "to a namespace of their own (e.g. sourcegraph-executors) or disable hardening.podSecurity",
        )
    ]
    # the positive control: the same namespace is fine when nothing labels it
    assert spec(namespace=namespace).namespace == namespace
    assert spec(namespace="sourcegraph-executors", hardening={"profile": "strict"}).namespace


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
