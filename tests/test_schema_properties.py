"""Configs generated from the JSON Schema itself (strings with control characters, huge numbers included):
each is refused with located errors, or renders objects that kubernetes-validate --strict and the function's
own audit accept. Never a traceback, never an internal error."""

from __future__ import annotations

import base64

import kubernetes_validate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from executor_dind import function
from executor_dind.audit import audit
from executor_dind.function_config import json_schema
from executor_dind.krm.item import Item

SCHEMA = json_schema()
FRONTEND = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "sourcegraph-frontend", "namespace": "sourcegraph"},
    "spec": {"selector": {"app": "sourcegraph-frontend"}, "ports": [{"name": "http", "port": 30080}]},
}


def secret(namespace: str) -> dict:
    data = {"password": base64.b64encode(b"a-token").decode()}
    metadata = {"name": "executor-secret", "namespace": namespace}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "data": data}


# Any text, control characters included, and now and then a value a user would plausibly write.
TEXT = st.one_of(
    st.text(max_size=12), st.sampled_from(["executors", "sourcegraph", "10.0.0.0/8", "20Gi", "30m", "x\n"])
)
# Integers past every bound the schema states, and far past int64.
NUMBER = st.one_of(st.integers(-5, 70000), st.integers(), st.just(10**30))


def value_of(schema: dict, depth: int = 0) -> st.SearchStrategy:
    """Values of a JSON Schema as executor-dind's generator writes them (object, array, enum, const, anyOf,
    string, integer, boolean): each optional part present or not, enums sometimes broken."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), TEXT)
    if "anyOf" in schema:
        return st.one_of([value_of(option, depth) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object" and "properties" in schema and depth < 6:
        parts = {key: value_of(sub, depth + 1) for key, sub in schema["properties"].items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {key: part for key, part in parts.items() if key in required},
            optional={key: part for key, part in parts.items() if key not in required},
        )
    if kind == "object":
        return st.dictionaries(TEXT, st.one_of(TEXT, NUMBER, st.booleans()), max_size=3)
    if kind == "array":
        return st.lists(value_of(schema["items"], depth + 1), max_size=3)
    if kind == "integer":
        return NUMBER
    if kind == "boolean":
        return st.booleans()
    return TEXT


CONFIGS = st.builds(
    lambda spec: {"apiVersion": SCHEMA["properties"]["apiVersion"]["const"], "kind": "ExecutorDind", "spec": spec},
    value_of(SCHEMA["properties"]["spec"]),
)
SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(config=CONFIGS, namespace=st.sampled_from(["sourcegraph", "executors"]))
def test_generated_configs_fail_closed_or_render_what_the_api_server_and_the_audit_accept(config, namespace):
    spec_namespace = config["spec"].get("namespace")
    items = [
        Item.new(FRONTEND),
        Item.new(secret(spec_namespace if isinstance(spec_namespace, str) and spec_namespace else namespace)),
    ]
    outcome = function.run(items, config, file_paths=True)
    messages = [result.message for result in outcome.results]
    assert not any("internal error" in message for message in messages)
    if outcome.failed:
        assert outcome.items == items
        for result in outcome.results:
            if result.severity == "error" and result.field_path:
                assert result.resource is not None  # every located error points at the functionConfig or an item
        return
    ours = [item.obj for item in outcome.items if item.label("app.kubernetes.io/part-of") == "executor-dind"]
    assert ours
    for obj in ours:
        if obj["kind"] == "ScaledObject":
            continue  # KEDA's, not the API server's: tests/checkers/test_keda.py decodes it with KEDA's types
        kubernetes_validate.validate(obj, "1.37", strict=True)  # raises ValidationError with the path
    errors = [finding for finding in audit(outcome.items) if finding.severity == "error"]
    accepted = {exception["rule"] for exception in config["spec"].get("auditExceptions") or []}
    assert [finding.line() for finding in errors if finding.rule not in accepted] == []


def test_the_schema_states_the_integer_bounds_the_records_check():
    spec = SCHEMA["properties"]["spec"]["properties"]
    assert spec["queues"]["items"]["properties"]["replicas"]["maximum"] == 2**31 - 1
    assert spec["terminationGracePeriodSeconds"]["anyOf"][0]["maximum"] == 2**63 - 1


def test_kubernetes_validate_raises_on_what_the_api_schema_rejects():
    """The oracle above can fail: a wrong type in a generated object is a ValidationError."""
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.37", strict=True)
