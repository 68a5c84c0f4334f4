"""baseline: its check of the input (frontend URL, the password Secret, upstream objects); its objects are
model's (test_model.py) and its rules the audit's (test_audit.py)."""

from __future__ import annotations

import pytest

from executor_dind.naming import PASSWORD_PLACEHOLDER
from executor_dind.plan import plan
from executor_dind.results import ResourceRef

from ..helpers import executor, frontend_service, items, secret, spec


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
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "executors"}}
    _, found = where(frontend_service("sourcegraph"), namespace, secret(namespace="sourcegraph"), namespace="executors")
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


def executors_namespace(name: str = "executors") -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def findings(found) -> list[tuple[str, str, str]]:
    return [(r.severity, r.resource.kind if r.resource else "", r.field_path) for r in found.results]


@pytest.mark.parametrize(
    "secrets",
    [
        [secret(namespace="executors")],
        [secret(namespace="sourcegraph"), secret(namespace="executors")],
    ],
    ids=["beside-executors", "both"],
)
def test_no_secret_warning_when_it_is_beside_the_executors(secrets):
    _, found = where(frontend_service("sourcegraph"), executors_namespace(), *secrets, namespace="executors")
    assert found.results == ()


def test_no_secret_anywhere_is_a_warning_that_says_how_to_create_it():
    _, found = where(frontend_service("sourcegraph"), secret(name="other"))
    assert findings(found) == [("warning", "", "spec.frontend.passwordSecret")]
    assert found.results[0].message.startswith("no Secret 'executor-secret' in the input: create it beside")
    assert found.results[0].message.endswith(
        "(a secretGenerator in the overlay, or kubectl -n sourcegraph create secret generic executor-secret "
        "--from-file=password=TOKEN_FILE, a file outside git holding the token)"
    )


def test_the_secret_name_comes_from_the_spec():
    _, found = where(
        frontend_service("sourcegraph"),
        executors_namespace(),
        secret(name="sg-exec", namespace="sourcegraph"),
        namespace="executors",
        frontend={
            "url": "http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080",
            "passwordSecret": {"name": "sg-exec", "key": "pw"},
        },
    )
    assert [r.resource.name for r in found.results] == ["sg-exec"]


def test_secret_beside_sourcegraph_is_fine_when_executors_are_there_too():
    _, found = where(frontend_service("sourcegraph"), secret(namespace="sourcegraph"))
    assert found.results == ()


def test_kustomizes_hashed_secret_name_is_what_the_executors_reference():
    hashed = secret(name="executor-secret-6f2g8tk5b9")
    _, found = where(frontend_service("sourcegraph"), hashed)
    assert found.results == ()
    deployment = next(o for o in found.objects if o["kind"] == "Deployment")
    ref = next(v for v in executor(deployment)["env"] if v["name"] == "EXECUTOR_FRONTEND_PASSWORD")
    assert ref["valueFrom"] == {"secretKeyRef": {"name": "executor-secret-6f2g8tk5b9", "key": "password"}}


def test_the_exact_name_wins_over_a_hashed_one():
    _, found = where(frontend_service("sourcegraph"), secret(name="executor-secret-6f2g8tk5b9"), secret())
    deployment = next(o for o in found.objects if o["kind"] == "Deployment")
    ref = next(v for v in executor(deployment)["env"] if v["name"] == "EXECUTOR_FRONTEND_PASSWORD")
    assert ref["valueFrom"]["secretKeyRef"]["name"] == "executor-secret"


@pytest.mark.parametrize(
    ("password", "what"),
    [("", "is empty"), ("  \n", "is empty"), (PASSWORD_PLACEHOLDER + "\n", "still holds the placeholder")],
)
def test_an_empty_or_placeholder_password_is_an_error_on_the_secret(password, what):
    _, found = where(frontend_service("sourcegraph"), secret(password=password))
    assert findings(found) == [("error", "Secret", "data.password")]
    assert found.results[0].message.startswith(f"the executors' password (key 'password') {what}")
    assert found.objects == ()


NOT_BASE64 = "is not valid base64 (the API server refuses the Secret)"


@pytest.mark.parametrize(
    "fields",
    [
        {"data": {"password": "not base64!"}},
        # The API server refuses the Secret for its data, whatever stringData holds.
        {"data": {"password": "%%%"}, "stringData": {"password": "a-real-token"}},
    ],
    ids=["data", "data-beside-string-data"],
)
def test_a_password_that_is_not_valid_base64_is_an_error_on_the_secret(fields):
    _, found = where(frontend_service("sourcegraph"), {**secret(), **fields})
    assert findings(found) == [("error", "Secret", "data.password")]
    assert found.results[0].message.startswith(f"the executors' password (key 'password') {NOT_BASE64}: ")
    assert found.objects == ()
    # Control: the same Secret with valid base64 (or stringData alone) passes.
    _, valid = where(frontend_service("sourcegraph"), {**secret(), "stringData": {"password": "a-real-token"}})
    assert findings(valid) == []


def test_string_data_counts_too():
    plain = {**secret(), "stringData": {"password": ""}}
    del plain["data"]
    _, found = where(frontend_service("sourcegraph"), plain)
    assert findings(found) == [("error", "Secret", "data.password")]


# --- the frontend URL and the executors' namespace ----------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://sourcegraph-frontend", "http://sourcegraph-frontend.sg.svc.cluster.local/"])
def test_a_frontend_url_without_a_port_is_an_error(url):
    _, found = where(frontend_service("sourcegraph"), secret(), frontend={"url": url})
    assert findings(found) == [("error", "", "spec.frontend.url")]
    assert found.results[0].message.startswith(f"{url!r} has no port")


def test_an_external_url_needs_no_port():
    _, found = where(frontend_service("sourcegraph"), secret(), frontend={"url": "https://sourcegraph.example.com"})
    assert found.results == ()


def test_the_short_service_name_from_another_namespace_is_an_error_suggesting_the_fqdn():
    _, found = where(
        frontend_service("sourcegraph"),
        executors_namespace(),
        secret(namespace="executors"),
        namespace="executors",
        frontend={"url": "http://sourcegraph-frontend:30080"},
    )
    assert findings(found) == [("error", "", "spec.frontend.url")]
    assert found.results[0].message.endswith(
        "use the Service's FQDN, http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080"
    )


def test_a_namespace_nobody_creates_is_a_warning():
    _, found = where(frontend_service("sourcegraph"), secret(namespace="executors"), namespace="executors")
    assert findings(found) == [("warning", "", "spec.namespace")]
    assert "kubectl create namespace executors" in found.results[0].message


def test_a_namespace_pod_security_creates_needs_no_warning():
    _, found = where(
        frontend_service("sourcegraph"),
        secret(namespace="executors"),
        namespace="executors",
        hardening={"podSecurity": {"enabled": True}},
    )
    assert found.results == ()
