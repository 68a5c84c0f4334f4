"""docs/ stays true: the generated reference is current, every link stays in the repository, every block is used
by a test, and each message of the troubleshooting page is what the real tool prints."""

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, run
from executor_dind import naming

DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)]+)\)")
BLOCK = re.compile(r"(?:<!-- (?P<marker>[^>]*) -->\n *)?```(?P<lang>\w*)\n", re.S)  # list items indent
# How a block says which test reads it: by name, or in docs/helm.md's own vocabulary (tests/integration/
# test_docs_helm.py runs its `runnable` blocks, writes its `file` blocks and compares its `output` blocks); `not
# run:` gives the reason a block cannot run here.
MARKERS = ("used by tests:", "runnable ", "file ", "output ", "not run:")


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_generated_reference_is_current():
    from executor_dind import reference

    for name, text in reference.pages().items():
        path = DOCS / "reference" / name
        assert path.read_text() == text, f"{path} is stale: run `make docs`"
    assert sorted(p.name for p in (DOCS / "reference").iterdir()) == sorted(reference.pages())


def test_links_stay_in_the_repository():
    outside = []
    for page in [*pages(), ROOT / "README.md"]:
        for target in LINK.findall(page.read_text()):
            path = target.split("#", 1)[0]
            if page.parent == DOCS or DOCS in page.parents:
                if "://" in target or not path or not (page.parent / path).resolve().is_relative_to(ROOT):
                    outside.append(f"{page.relative_to(ROOT)}: {target}")
                elif not (page.parent / path).exists():
                    outside.append(f"{page.relative_to(ROOT)}: {target} (missing)")
            elif "../shared" in target:
                outside.append(f"{page.relative_to(ROOT)}: {target}")
    assert outside == []


def test_every_block_in_docs_is_used_by_a_test():
    unmarked = []
    for page in pages():
        for match in BLOCK.finditer(page.read_text()):
            if match["lang"] and not (match["marker"] or "").startswith(MARKERS):
                unmarked.append(f"{page.relative_to(ROOT)}: a {match['lang']} block")
    assert unmarked == []


def troubleshooting_rows() -> list[tuple[str, str]]:
    """(what was run, the message) for each row of the messages table."""
    text = (DOCS / "troubleshooting.md").read_text()
    table = text.split("<!-- messages:")[1].split("\n\n")[0]
    rows = [line.split(" | ") for line in table.splitlines()[3:]]
    return [(row[0].lstrip("| "), row[1].strip("`")) for row in rows]


@pytest.fixture
def instances(upstream: Path, executor_dind: str, tmp_path: Path) -> Path:
    """A copy of the checkout with instances/mine (KRM way) and instances/legacy made by init, tokens written."""
    checkout = tmp_path / "deploy-sourcegraph-k8s"
    shutil.copytree(upstream, checkout)
    for path in checkout.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    for name, way in (("mine", "krm"), ("legacy", "legacy")):
        made = run(
            [executor_dind, "init", "--from", "instances/template", f"instances/{name}", "--way", way], cwd=checkout
        )
        assert made.returncode == 0, made.stderr
        (checkout / "instances" / name / "executor-password.txt").write_text("a-real-token")
    return checkout


def test_troubleshooting_messages_are_what_the_tools_print(instances, kustomize, kubectl, executor_dind, tmp_path):
    mine, legacy = str(instances / "instances/mine"), str(instances / "instances/legacy")
    with_us = {**os.environ, "PATH": f"{Path(executor_dind).parent}:{os.environ['PATH']}"}
    without_us = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    no_plugins = {**with_us, "KUSTOMIZE_PLUGIN_HOME": str(tmp_path / "none"), "HOME": str(tmp_path)}
    placeholder = instances / "instances/placeholder"
    shutil.copytree(instances / "instances/mine", placeholder)
    (placeholder / "executor-password.txt").write_text(naming.PASSWORD_PLACEHOLDER + "\n")
    runs = [
        [kubectl, "kustomize", mine],
        [kustomize, "build", mine],
        [kustomize, "build", "--enable-alpha-plugins", mine],
        [kubectl, "kustomize", "--enable-alpha-plugins", mine],
        [kustomize, "build", "--enable-alpha-plugins", "--enable-exec", mine],
        [kubectl, "kustomize", "--enable-alpha-plugins", legacy],
        [kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(placeholder)],
    ]
    envs = [with_us, with_us, with_us, with_us, without_us, no_plugins, with_us]
    rows = troubleshooting_rows()
    assert len(rows) == len(runs)
    for (ran, message), command, env in zip(rows, runs, envs, strict=True):
        result = run(command, env=env)
        assert (result.returncode, result.stdout) == (1, ""), (ran, result.stderr)
        assert message in result.stderr, (ran, result.stderr)
    # Positive control: the documented build works.
    built = run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", mine], env=with_us)
    assert built.returncode == 0 and "name: executor-all\n" in built.stdout, built.stderr
