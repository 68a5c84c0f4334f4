"""baseline: its check of the input (frontend URL, the password Secret, upstream objects); its objects are
model's (test_model.py) and its rules the audit's (test_audit.py)."""

from __future__ import annotations

import pytest

from executor_dind.plan import plan
from executor_dind.results import ResourceRef

from ..helpers import frontend_service, items, secret, spec


def where(*objs, **raw):
    """(namespace, frontend URL) and the plan's results: discovery's and the checks'."""
    planned = plan(spec(**raw), items(*objs))
    return (planned.context.namespace, planned.context.frontend_url), planned


@pytest.mark.parametrize("service", [None, frontend_service(None)], ids=["no-service", "service-without-namespace"])
def test_another_namespace_without_sourcegraphs_namespace_is_an_error_asking_for_the_url(service):
    placed, found = where(*([service] if service else []), namespace="executors")
    assert placed == ("executors", "")
    assert [(r.severity, r.field_path) for r in found.results] == [("error", "spec.frontend.url")]
    assert found.results[0].message.startswith(
        "cannot derive the frontend URL: the executors go to namespace 'executors' but Sourcegraph's namespace is "
        "unknown"
    )
    assert "set spec.frontend.url" in found.results[0].message


def test_secret_only_in_another_namespace_is_a_warning_on_that_secret():
    _, found = where(frontend_service("sourcegraph"), secret(namespace="sourcegraph"), namespace="executors")
    assert [(r.severity, r.resource, r.field_path) for r in found.results] == [
        ("warning", ResourceRef("v1", "Secret", "executor-secret", "sourcegraph"), "")
    ]
    message = found.results[0].message
    assert message.startswith(
        "the executors' password Secret 'executor-secret' is in namespace sourcegraph, not in 'executors'"
    )
    assert "kubectl -n executors create secret generic executor-secret" in message


@pytest.mark.parametrize(
    ("objs", "namespace"),
    [([], ""), ([], "executors"), ([frontend_service("sourcegraph")], "executors"), ([frontend_service(None)], "x")],
)
def test_an_explicit_url_always_wins(objs, namespace):
    placed, found = where(*objs, namespace=namespace, frontend={"url": "https://sg.example.com:443"})
    assert placed == (
        namespace or (objs[0]["metadata"].get("namespace", "") if objs else ""),
        "https://sg.example.com:443",
    )
    assert [r for r in found.results if r.severity == "error"] == []


def test_only_a_core_v1_service_counts_as_the_frontend():
    other = frontend_service("sourcegraph")
    other["apiVersion"] = "serving.knative.dev/v1"
    placed, found = where(other, namespace="executors")
    assert placed == ("executors", "")  # not Sourcegraph's frontend: its namespace tells nothing
    assert [(r.severity, r.field_path) for r in found.results] == [("error", "spec.frontend.url")]


# --- the password Secret ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secrets",
    [
        [],
        [secret(namespace="executors")],
        [secret(namespace="sourcegraph"), secret(namespace="executors")],
        [secret(name="other", namespace="sourcegraph")],
    ],
    ids=["none", "beside-executors", "both", "another-secret"],
)
def test_no_secret_warning_when_it_is_beside_the_executors_or_absent(secrets):
    _, found = where(frontend_service("sourcegraph"), *secrets, namespace="executors")
    assert found.results == ()


def test_the_secret_name_comes_from_the_spec():
    _, found = where(
        frontend_service("sourcegraph"),
        secret(name="sg-exec", namespace="sourcegraph"),
        namespace="executors",
        frontend={"passwordSecret": {"name": "sg-exec", "key": "pw"}},
    )
    assert [r.resource.name for r in found.results] == ["sg-exec"]


def test_secret_beside_sourcegraph_is_fine_when_executors_are_there_too():
    _, found = where(frontend_service("sourcegraph"), secret(namespace="sourcegraph"))
    assert found.results == ()
