"""function_config: which functionConfig kinds are read, and the JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from executor_dind.function_config import json_schema, parse_function_config
from executor_dind.records import ConfigError
from executor_dind.spec import API_VERSION, KIND

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _expected_to_fail(case: Path) -> bool:
    config = case / ".expected" / "config.yaml"
    return config.exists() and bool((yaml.safe_load(config.read_text()) or {}).get("exitCode"))


def _example_documents() -> list[tuple[str, dict[str, Any]]]:
    """Every ExecutorDind document in the YAML blocks of README and docs/, overlays/ and the golden test packages."""
    found = []
    valid_cases = [case for case in ROOT.glob("tests/golden/*") if not _expected_to_fail(case)]
    files = [*ROOT.glob("overlays/**/*.yaml"), *(path for case in valid_cases for path in case.glob("*.yaml"))]
    for path in sorted(files):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == KIND:
                found.append((str(path.relative_to(ROOT)), doc))
    from doc_blocks import blocks

    shown = [b for b in blocks() if b.lang == "yaml"]
    assert [b for b in shown if b.marker.startswith("used by tests: ExecutorDind examples")], "ways-of-use.md's example"
    for index, block in enumerate(shown):
        for doc in yaml.safe_load_all(block.body):
            if isinstance(doc, dict) and doc.get("kind") == KIND:
                found.append((f"{block.page} block {index}", doc))
    return found


EXAMPLES = _example_documents()


def test_typed_config_is_read_from_spec():
    config = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "x"}, "spec": {"namespace": "ex"}}
    assert parse_function_config(config).namespace == "ex"


def test_typed_config_errors_carry_the_spec_path():
    config = {"apiVersion": API_VERSION, "kind": KIND, "spec": {"queus": []}}
    with pytest.raises(ConfigError) as caught:
        parse_function_config(config)
    assert caught.value.problems == [("spec.queus", "unknown field (did you mean 'queues'?)")]


@pytest.mark.parametrize(
    "config",
    [
        {"apiVersion": "v1", "kind": "Secret"},
        {"apiVersion": "executor-dind.dev/v1", "kind": KIND},
        {"apiVersion": API_VERSION, "kind": "ExecutorDinD"},
        {"apiVersion": "fn.kpt.dev/v1alpha1", "kind": "SetNamespace"},
    ],
)
def test_other_function_config_kinds_are_rejected_naming_both_forms(config):
    with pytest.raises(ConfigError) as caught:
        parse_function_config(config)
    assert caught.value.problems == [
        (
            "functionConfig",
            f"unknown functionConfig {config['apiVersion']}/{config['kind']}: expected {API_VERSION}/{KIND} "
            "or v1/ConfigMap (dotted keys such as frontend.url)",
        )
    ]


def test_there_are_examples_to_validate():
    assert any(name.startswith("tests/golden/") for name, _ in EXAMPLES)


@pytest.mark.parametrize(("name", "document"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_examples_validate_against_the_schema_and_parse(validator, name, document):
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    parse_function_config(document)


def test_the_failing_golden_config_is_rejected_by_the_schema_too(validator):
    document = yaml.safe_load((ROOT / "tests" / "golden" / "config-error" / "executor-dind.yaml").read_text())
    assert sorted(list(e.absolute_path) for e in validator.iter_errors(document)) == [
        ["spec"],  # additionalProperties: queus
        ["spec", "hardening", "profile"],
    ]


def test_schema_accepts_a_full_spec(validator):
    validator.validate(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "x"},
            "spec": {
                "namespace": "executors",
                "queues": [{"name": "batches", "replicas": 2, "env": {"A": "b"}}],
                "terminationGracePeriodSeconds": None,
                "hardening": {"profile": "strict", "nodePool": {"enabled": True, "nodeSelector": {"a": "b"}}},
            },
        }
    )


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"queus": []}, []),
        ({"hardening": {"profile": "strct"}}, ["hardening", "profile"]),
        ({"queues": [{"name": "batches", "queueNames": ["batch"]}]}, ["queues", 0, "queueNames", 0]),
        ({"queues": [{"replicas": 1}]}, ["queues", 0]),
        ({"docker": {"nativeSidecar": "yes"}}, ["docker", "nativeSidecar"]),
        ({"hardening": {"nodePool": {"nodeSelector": {"a": 1}}}}, ["hardening", "nodePool", "nodeSelector", "a"]),
        ({"queues": [{"name": "batches", "replicas": -1}]}, ["queues", 0, "replicas"]),
    ],
)
def test_schema_rejects_what_the_parser_rejects(validator, spec, where):
    document = {"apiVersion": API_VERSION, "kind": KIND, "spec": spec}
    errors = list(validator.iter_errors(document))
    assert [list(e.absolute_path) for e in errors] == [["spec", *where]]
    with pytest.raises(ConfigError):
        parse_function_config(document)


def test_schema_describes_every_spec_field_with_its_wire_name():
    properties = json_schema()["properties"]["spec"]["properties"]
    assert set(properties) == {
        "namespace",
        "frontend",
        "queues",
        "maximumRuntimePerJob",
        "terminationGracePeriodSeconds",
        "replaceUpstream",
        "log",
        "images",
        "storage",
        "docker",
        "privateRegistry",
        "hardening",
        "auditExceptions",
        "auditOutOfScope",
    }
    assert properties["auditExceptions"]["items"]["required"] == ["rule", "reason"]
    assert properties["auditOutOfScope"]["items"]["required"] == ["kind", "reason"]
    assert set(properties["hardening"]["properties"]) == {
        "profile",
        "nodePool",
        "gvisor",
        "networkPolicy",
        "podSecurity",
    }
    assert "deniedCIDRs" in properties["hardening"]["properties"]["networkPolicy"]["properties"]
    assert properties["queues"]["items"]["required"] == ["name"]
