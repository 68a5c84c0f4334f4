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
    from executor_dind.function_config import json_schema, parse_function_config

    configs = [doc for doc in _yaml_documents() if doc.get("kind") == "ExecutorDind"]
    assert len(configs) >= 2
    for config in configs:
        jsonschema.validate(config, json_schema())
        parse_function_config(config)


def _schema_fields(node: dict, prefix: str = "") -> set[str]:
    """Dotted field paths of a JSON Schema object (list items and nullable objects followed)."""
    fields = set()
    for name, sub in (node.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        fields.add(path)
        for nested in (sub, sub.get("items") or {}, *(sub.get("anyOf") or []), *(sub.get("oneOf") or [])):
            if isinstance(nested, dict) and "properties" in nested:
                fields |= _schema_fields(nested, path)
    return fields


def _example_fields(value, prefix: str = "") -> set[str]:
    """Dotted field paths of an example config (list items merged)."""
    fields = set()
    if isinstance(value, list):
        return set().union(*(_example_fields(item, prefix) for item in value)) if value else set()
    if isinstance(value, dict):
        for name, sub in value.items():
            path = f"{prefix}.{name}" if prefix else name
            fields.add(path)
            fields |= _example_fields(sub, path)
    return fields


def test_readme_config_block_lists_every_field_of_the_schema():
    from executor_dind.function_config import json_schema

    section = README[README.index("## The config") :]
    block = yaml.safe_load(section[section.index("```yaml") + 7 : section.index("```", section.index("```yaml") + 7)])
    schema = json_schema()["properties"]["spec"]
    maps = ("env", "resources", "daemonConfig", "nodeSelector", "podLabels")  # free-form maps: their keys are data
    listed = {f for f in _example_fields(block["spec"]) if not any(f".{m}." in f".{f}" for m in maps)}
    assert listed == _schema_fields(schema)


def test_overlay_configs_follow_the_schema():
    from executor_dind.function_config import json_schema, parse_function_config

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


@pytest.mark.parametrize("marker,body", [(m, b) for m, lang, b in BLOCKS if m.startswith("runnable quick-start:")])
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


def test_make_demo_on_a_fresh_checkout_prints_only_yaml(tmp_path):
    """The first `make demo` of a newcomer: no .venv yet; make and pip must keep stdout to the demo's YAML."""
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    fresh = tmp_path / "executor-dind"
    ignored = shutil.ignore_patterns(".venv", ".tools", ".git", "*.egg-info", "__pycache__", ".bench-*")
    shutil.copytree(ROOT, fresh, ignore=ignored)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(str(ROOT)))
    result = run(["make", "--no-print-directory", "demo"], cwd=fresh, env=dict(os.environ, PATH=path), timeout=900)
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    assert documents and all(isinstance(doc, dict) and doc.get("kind") for doc in documents), result.stdout[:300]
    assert "installing executor-dind" in result.stderr


@pytest.fixture
def tool_env_for_make(executor_dind):
    """make's own PATH: the venv it installs into, whatever runs the tests."""
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    return dict(os.environ, PATH=os.pathsep.join([str(Path(executor_dind).parent), os.environ["PATH"]]))


def _section_table(heading: str, header: str) -> str:
    section = README[README.index(heading) :]
    start = section.index(header)
    return section[start : section.index("\n\n", start)]


def test_readme_control_table_is_the_registry():
    from executor_dind import hardening

    rows = [
        f"| `{c.id}` | {', '.join(c.profiles)} | {c.does} | {c.guarantees} | {c.requires} |" for c in hardening.CONTROLS
    ]
    header = "| control | profiles | what it does | what it guarantees | what the cluster must provide |"
    assert _section_table("## Hardening", header).splitlines() == [header, "|---|---|---|---|---|", *rows]


def test_readme_rule_table_is_the_registry():
    from executor_dind.audit import NO_EXECUTOR
    from executor_dind.audit.rules import CONTROL_OF, RULES

    rows = [f"| {r.id} | {r.severity} | `{CONTROL_OF[r.id]}` | {r.summary} |" for r in RULES.values()]
    # the audit's own finding: no executor workload, no input
    finding = "no executor workload (or no object at all) in the input (`--allow-none`: an info)"
    own = f"| {NO_EXECUTOR} | error | `audit` | {finding} |"
    rows.insert(0, own)
    header = "| ID | severity | control | finding |"
    assert _section_table("## Audit", header).splitlines() == [header, "|---|---|---|---|", *rows]


def test_readme_module_flow_names_modules_that_exist():
    flow = README[README.index("## Development") :].split("```")[1]
    package = ROOT / "plugin" / "executor_dind"
    names = set(re.findall(r"[a-z_]+(?=/<)|(?<![<\w])[a-z_]+(?=[ ,)\n-])", flow.split("components/")[0]))
    names -= {"plugin", "executor_dind", "input", "config", "plan", "output", "check", "apply"}
    missing = [n for n in sorted(names) if not any(package.rglob(f"{n}.py")) and not any(package.rglob(f"{n}/"))]
    assert missing == []


# Every shell block says whether it runs: `runnable <name>: <setup>` with a test below (or above) that runs it,
# or `not run: <why>`.
RUNNABLE = {"make", "quick-start", "install", "vendor"}


def test_every_shell_block_is_run_or_says_why_not():
    for marker, lang, body in BLOCKS:
        if lang != "sh":
            continue
        assert marker.startswith(("runnable ", "not run: ")), f"a shell block without a marker:\n{body}"
        if marker.startswith("runnable "):
            assert marker.split()[1].rstrip(":") in RUNNABLE, marker
    named = {m.split()[1].rstrip(":") for m, lang, _ in BLOCKS if lang == "sh" and m.startswith("runnable ")}
    assert named == RUNNABLE


def test_readme_vendor_block_writes_the_components_into_the_checkout(upstream, executor_dind, tmp_path):
    (body,) = [b for m, lang, b in BLOCKS if lang == "sh" and m.startswith("runnable vendor:")]
    checkout = tmp_path / "deploy-sourcegraph-k8s"
    shutil.copytree(upstream, checkout, ignore=shutil.ignore_patterns(".git"))
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(executor_dind).parent), os.environ["PATH"]]))
    result = run(["bash", "-euo", "pipefail", "-c", body], cwd=checkout, env=env)
    assert result.returncode == 0, result.stderr
    ours = sorted(str(p.relative_to(ROOT / "components")) for p in (ROOT / "components").rglob("*.yaml"))
    for relative in ours:
        vendored = (checkout / "components" / relative).read_text()
        assert vendored == (ROOT / "components" / relative).read_text(), relative
    assert (checkout / "components" / "executors" / "dind" / "kustomization.yaml").is_file()  # upstream's untouched


def test_readme_install_block_runs(tmp_path, executor_dind):
    """From a copy of the checkout: build the wheel, install it alone into a venv, run it."""
    (body,) = [b for m, lang, b in BLOCKS if lang == "sh" and m.startswith("runnable install:")]
    checkout = tmp_path / "executor-dind"
    ignored = shutil.ignore_patterns(".venv", ".tools", ".git", "*.egg-info", "__pycache__", "build", "dist")
    shutil.copytree(ROOT, checkout, ignore=ignored)
    # python3 is the test venv's, which has `build` (the test extra)
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(executor_dind).parent), os.environ["PATH"]]))
    result = run(["bash", "-euo", "pipefail", "-c", body], cwd=checkout, env=env, timeout=600)
    assert result.returncode == 0, f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    from distribution.conftest import source_version

    assert result.stdout.splitlines()[-1] == f"executor-dind {source_version()}"
    assert sorted(p.name for p in (checkout / "dist").iterdir()) == [
        f"executor_dind-{source_version()}-py3-none-any.whl",
        f"executor_dind-{source_version()}.tar.gz",
    ]


def test_readme_upstream_audit_block_is_what_the_audit_prints(kustomize, upstream, executor_dind, tmp_path):
    (block,) = [b for m, lang, b in BLOCKS if m.startswith("audit output: upstream")]
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    dind = upstream / "components" / "executors" / "dind"
    overlay.joinpath("kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "namespace": "sourcegraph",
                "resources": [os.path.relpath(upstream / "base" / "sourcegraph", overlay)],
                "components": [
                    os.path.relpath(dind, overlay),
                    os.path.relpath(dind / "private-docker-registry", overlay),
                ],
                "secretGenerator": [{"name": "executor-secret", "literals": ["password=not-a-real-secret"]}],
            }
        )
    )
    built = run([kustomize, "build", str(overlay)])
    assert built.returncode == 0, built.stderr
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(built.stdout)
    audited = run([executor_dind, "audit", str(rendered)])
    assert audited.returncode == 1, audited.stdout
    printed = audited.stdout.splitlines()
    ids = re.compile(r"EXD\d{3}")
    assert set(ids.findall(block)) == {line.split()[1] for line in printed}
    for line in block.splitlines():
        if re.fullmatch(r"warning (EXD\d{3}, )+EXD\d{3} \(.*\)", line):
            continue  # the summary of the remaining warnings
        prefix = line.split("...")[0]
        assert any(p.startswith(prefix) for p in printed), line


def test_readme_checkov_totals_count_the_failing_rows():
    table = _section_table("## Checked by real tools", "| check | title |").splitlines()
    rows = [row.split("|")[1:-1] for row in table[2:]]
    *checks, totals = rows
    for column in range(2, len(totals)):
        failing = sum("✗" in row[column] for row in checks for _ in row[0].split("/"))
        assert totals[column].strip() == f"**{failing}**", (totals[column], column)
