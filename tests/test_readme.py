"""README stays true: it is a landing page, its runnable blocks run, its diagram is what `explain` draws.

The docs/ pages' blocks are checked in tests/test_docs_pages.py; both find a block by page and marker."""

import base64
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run
from doc_blocks import README as README_PATH
from doc_blocks import block, blocks

README = README_PATH.read_text()
BLOCKS = [(b.marker, b.lang, b.body) for b in blocks(README_PATH)]


def test_readme_is_a_landing_page():
    """About 200 lines, in a product's voice, links only into the repository, no developer command up front."""
    lines = README.splitlines()
    assert len(lines) <= 220
    for phrase in ("this VM", "this machine", "from here", "../shared", "://"):
        assert phrase not in README, phrase
    first_screen = "\n".join(lines[:50])
    assert "make " not in first_screen
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == [
        "## What it adds",
        "## Install",
        "## Quick start on your instance",
        "## Ways of use",
        "## Documentation",
        "## Develop",
    ]


def test_readme_opens_with_the_install_and_ends_with_the_two_commands():
    """The first shell block installs; README's test command, what CI runs, is in its Develop section."""
    shell = [(marker, body) for marker, lang, body in BLOCKS if lang == "sh"]
    assert shell[0][0].startswith("runnable install:")
    develop = README[README.index("## Develop") :]
    (commands,) = [b.body for b in blocks(README_PATH) if b.marker.startswith("runnable make:")]
    assert commands in develop
    assert [line.split("#")[0].strip() for line in commands.splitlines()] == ["make demo", "make test"]
    assert "make test" in Path(ROOT / ".ci" / "run").read_text()


def test_readme_ways_of_use_table_links_a_page_for_each_way():
    table = README[README.index("| way | build | page |") :].split("\n\n")[0].splitlines()[2:]
    ways = [row.split(" | ")[0].lstrip("| ") for row in table]
    assert ways == [
        "KRM function in kustomize (default)",
        "legacy exec plugin for `kubectl kustomize`",
        "plain Kustomize Components (no plugin: Flux, any kustomize)",
        "kpt mutator and validator",
        "standalone, over any manifests",
        "Helm post-renderer (Sourcegraph's dind chart)",
    ]
    for row in table:
        (link,) = re.findall(r"\]\((docs/[^)#]+)(?:#([^)]+))?\)", row)
        page = (ROOT / link[0]).read_text()
        if link[1]:  # the anchor is a heading of that page, as GitHub spells it
            slugs = {_slug(h) for h in re.findall(r"(?m)^#+ (.*)$", page)}
            assert link[1] in slugs, (row, sorted(slugs))


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


def test_readme_diagram_is_what_explain_draws(executor_dind, tmp_path):
    diagram = block("README.md", "used by tests: explain's diagram")
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
    checkout = tmp_path / "deploy-sourcegraph-k8s"
    instance = checkout / "instances" / "my-instance"
    instance.mkdir()  # the user's instance, made from the template as upstream instructs
    for name in ("kustomization", "buildConfig"):
        shutil.copy(checkout / "instances/template" / f"{name}.template.yaml", instance / f"{name}.yaml")
    token = "not-a-real-token-0123"
    env = dict(os.environ, EXECUTORS_ACCESS_TOKEN=token)
    env["PATH"] = os.pathsep.join([str(Path(kustomize).parent), str(Path(executor_dind).parent), env["PATH"]])
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "upstream"]):
        assert run([*git, *command], cwd=checkout).returncode == 0
    result = run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env)
    assert result.returncode == 0, f"{marker}\n{result.stdout}\n{result.stderr}"
    built = run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(instance)], env=env)
    names = {doc["metadata"]["name"] for doc in yaml.safe_load_all(built.stdout)}
    assert {"executor-all", "executor-dind-executors"} <= names
    assert "security posture (profile recommended)" in result.stdout
    # Secrets hygiene: the token is only in the git-ignored password file; nothing git would add holds it.
    status = run([*git, "status", "--porcelain", "--untracked-files=all"], cwd=checkout).stdout.splitlines()
    added = [checkout / line[3:] for line in status]
    assert added and instance / "kustomization.yaml" in added
    forms = (token, base64.b64encode(token.encode()).decode())
    assert [path for path in added if path.is_file() and any(f in path.read_text() for f in forms)] == []
    assert (instance / "executor-password.txt").read_text() == token
    ignored = run([*git, "check-ignore", str(instance / "executor-password.txt")], cwd=checkout)
    assert ignored.returncode == 0


def test_readme_first_command_make_demo_renders_the_demo(tool_env_for_make, executor_dind):
    """`make demo` as README's Develop block runs it (`make test` is this very run, so it is not re-entered)."""
    assert "make demo" in block("README.md", "runnable make:")
    result = run(["make", "--no-print-directory", "demo"], cwd=ROOT, env=tool_env_for_make)
    assert result.returncode == 0, result.stderr
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    kinds = [doc["kind"] for doc in documents]
    assert "Deployment" in kinds and "NetworkPolicy" in kinds
    ours = [
        d for d in documents if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/part-of") == "executor-dind"
    ]
    audited = run(
        [str(Path(tool_env_for_make["PATH"].split(os.pathsep)[0]) / "executor-dind"), "audit"], input=result.stdout
    )
    assert audited.returncode == 0, audited.stdout
    findings = audited.stdout.splitlines()
    warnings = len([line for line in findings if line.startswith("warning ")])
    assert len([line for line in findings if line.startswith("error ")]) == 0 and warnings > 0
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith(
        f"demo: executor-dind added {len(ours)} objects, hardening profile recommended; audit passed (0 errors, "
        f"{warnings} warnings: sh overlays/demo/render.sh | executor-dind audit); rendered by "
    ), summary
    assert (
        len(ours) == 9
    )  # 2 Deployments, registry StatefulSet + Service, metrics Service, ServiceAccount, ConfigMap, 2 policies


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
    assert "installing executor-dind into .venv" in result.stderr
    # The package alone: the checkers are for `make test`.
    assert not (fresh / ".venv" / "bin" / "checkov").exists() and not (fresh / ".venv" / ".test-tools").exists()
    assert (fresh / ".venv" / "bin" / "executor-dind").exists()


@pytest.fixture
def tool_env_for_make(executor_dind):
    """make's own PATH: the venv it installs into, whatever runs the tests."""
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    return dict(os.environ, PATH=os.pathsep.join([str(Path(executor_dind).parent), os.environ["PATH"]]))


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


def test_readme_profile_table_is_the_registry():
    from executor_dind import hardening

    start = README.index("| profile | controls |")
    rows = [row.split(" | ") for row in README[start : README.index("\n\n", start)].splitlines()[2:]]
    shown = {re.findall(r"`(\w+)`", row[0])[0]: re.findall(r"`(\w+)`", row[1]) for row in rows}
    profiles = ("baseline", "recommended", "strict")
    assert shown == {p: [c.id for c in hardening.CONTROLS if p in c.profiles] for p in profiles}
