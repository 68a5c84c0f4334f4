"""README stays true: its runnable blocks run, its config examples validate, its diagram is what `explain` draws."""

import os
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import ROOT, run

README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"(?:<!-- (?P<marker>[^>]*) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
BLOCKS = [(m["marker"] or "", m["lang"], m["body"]) for m in BLOCK.finditer(README)]


def _yaml_documents() -> list[dict]:
    documents = []
    for _, lang, body in BLOCKS:
        if lang == "yaml":
            documents.extend(doc for doc in yaml.safe_load_all(body) if isinstance(doc, dict))
    return documents


def test_readme_opens_with_the_two_commands():
    first_block = next(body for _, lang, body in BLOCKS if lang == "sh")
    assert [line.split("#")[0].strip() for line in first_block.splitlines()] == ["make demo", "make test"]


def test_readme_config_examples_follow_the_schema():
    from executor_dind.config import json_schema, parse_function_config

    configs = [doc for doc in _yaml_documents() if doc.get("kind") == "ExecutorDind"]
    assert len(configs) >= 2
    for config in configs:
        jsonschema.validate(config, json_schema())
        parse_function_config(config)


def test_overlay_configs_follow_the_schema():
    from executor_dind.config import json_schema, parse_function_config

    configs = [
        doc
        for path in sorted((ROOT / "overlays").rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "ExecutorDind"
    ]
    assert configs, "the overlays show the function's config"
    for config in configs:
        jsonschema.validate(config, json_schema())
        parse_function_config(config)


def test_readme_diagram_is_what_explain_draws(executor_dind, tmp_path):
    diagram = next(body for _, lang, body in BLOCKS if lang == "mermaid")
    config = tmp_path / "config.yaml"
    config.write_text(
        "apiVersion: executor-dind.dev/v1alpha1\nkind: ExecutorDind\nmetadata: {name: executors}\n"
        "spec:\n  hardening: {profile: recommended}\n"
    )
    frontend = tmp_path / "frontend.yaml"
    frontend.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: sourcegraph-frontend, namespace: sourcegraph}\n"
        "spec:\n  selector: {app: sourcegraph-frontend}\n  ports: [{name: http, port: 30080, targetPort: http}]\n"
    )
    drawn = run([executor_dind, "explain", "--format", "mermaid", "--config", str(config), str(frontend)])
    assert drawn.returncode == 0, drawn.stderr
    assert diagram == drawn.stdout


@pytest.mark.parametrize("marker,body", [(m, b) for m, lang, b in BLOCKS if m.startswith("runnable")])
def test_readme_runnable_blocks_run(marker, body, upstream, kustomize, executor_dind, tmp_path):
    shutil.copytree(upstream, tmp_path / "deploy-sourcegraph-k8s")
    for path in (tmp_path / "deploy-sourcegraph-k8s").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    env = dict(os.environ, EXECUTORS_ACCESS_TOKEN="not-a-real-token")
    env["PATH"] = os.pathsep.join([str(Path(kustomize).parent), str(Path(executor_dind).parent), env["PATH"]])
    result = run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env)
    assert result.returncode == 0, f"{marker}\n{result.stdout}\n{result.stderr}"
    rendered = tmp_path / "deploy-sourcegraph-k8s" / "rendered.yaml"
    names = {doc["metadata"]["name"] for doc in yaml.safe_load_all(rendered.read_text())}
    assert {"executor-all", "executor-dind-executors"} <= names
    assert "security posture (profile recommended)" in result.stdout


def test_readme_first_command_make_demo_renders_the_demo(tool_env_for_make):
    """`make demo` as README's first block runs it (`make test` is this very run, so it is not re-entered)."""
    first_block = next(body for _, lang, body in BLOCKS if lang == "sh")
    assert "make demo" in first_block
    result = run(["make", "--no-print-directory", "demo"], cwd=ROOT, env=tool_env_for_make)
    assert result.returncode == 0, result.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.stdout) if doc]
    assert "Deployment" in kinds and "NetworkPolicy" in kinds
    assert result.stderr.strip().splitlines()[-1].startswith("demo rendered by")


@pytest.fixture
def tool_env_for_make(executor_dind):
    """make's own PATH: the venv it installs into, whatever runs the tests."""
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    return dict(os.environ, PATH=os.pathsep.join([str(Path(executor_dind).parent), os.environ["PATH"]]))


def test_the_audit_rule_table_lists_every_rule_with_its_severity():
    from executor_dind.hardening import RULES

    section = README.split("## Audit", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (EXD\d{3}) \| (error|warning) \|", section, re.M))
    expected = {rule.id: rule.severity for rule in RULES.values()}
    expected["EXD000"] = "error"  # the audit's own: no executor workload, no input
    assert rows == expected
