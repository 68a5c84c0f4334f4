"""docs/helm.md stays true: its shell blocks run with the real Helm 4 and Helm 3 over the real chart, its files are
the ones those blocks read, and the refusal it shows is what Helm 4 prints."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import ROOT, run
from integration.test_helm import CHART, helm_homes, helms, umbrella  # noqa: F401 (fixtures)
from integration.util import assert_ok, objects

DOC = (ROOT / "docs" / "helm.md").read_text()
BLOCK = re.compile(r"(?:<!-- (?P<marker>[^>]*) -->\n *)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)  # list items indent
BLOCKS = [(m["marker"] or "", m["lang"], m["body"]) for m in BLOCK.finditer(DOC)]
FILES = {m.split()[1]: body for m, lang, body in BLOCKS if m.startswith("file ")}
RUNNABLE = {"helm4": "helm", "helm3": "helm3"}  # the block's marker -> the tool that is `helm` while it runs


def test_every_shell_block_is_run_or_says_why_not() -> None:
    shell = [marker for marker, lang, _ in BLOCKS if lang == "sh"]
    assert all(marker.startswith(("runnable ", "not run: ")) for marker in shell), shell
    assert {m.split()[1].rstrip(":") for m in shell if m.startswith("runnable ")} == set(RUNNABLE)


def scratch_env(tmp_path: Path, executor_dind: str, helm: str) -> dict[str, str]:
    """`helm` is the given binary; Helm's homes and the report file in scratch directories; CHART the chart."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "helm").symlink_to(helm)
    env = helm_homes(tmp_path, executor_dind)
    env["PATH"] = os.pathsep.join([str(bin_dir), env["PATH"]])
    return {**env, "CHART": str(CHART)}


@pytest.mark.parametrize("name", sorted(RUNNABLE))
def test_runnable_blocks_run(name, helms, umbrella, executor_dind, tmp_path) -> None:  # noqa: F811
    (body,) = [b for m, lang, b in BLOCKS if lang == "sh" and m.startswith(f"runnable {name}:")]
    for file, text in FILES.items():
        (tmp_path / file).write_text(text)
    env = scratch_env(tmp_path, executor_dind, helms[name])
    if name == "helm3":  # the Helm 3 block relies on no plugin: none is installed
        assert "install-plugin" not in body
    result = run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env)
    assert_ok(result)
    rendered = objects((tmp_path / "executors.yaml").read_text())
    ours = [o for o in rendered if o["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "executor-dind"]
    assert {(o["kind"], o["metadata"]["name"]) for o in rendered} == {(o["kind"], o["metadata"]["name"]) for o in ours}
    assert ("Deployment", "executor-batches") in {(o["kind"], o["metadata"]["name"]) for o in ours}
    assert "executor-dind: self-audit passed: no error finding on the executor workloads emitted\n" in result.stderr


def test_the_refusal_shown_is_what_helm4_prints(helms, umbrella, executor_dind, tmp_path) -> None:  # noqa: F811
    (shown,) = [b for m, lang, b in BLOCKS if lang == "text" and m.startswith("output helm4:")]
    values = FILES["values.yaml"].replace("frontendExistingSecret: executor-secret", "frontendPassword: hunter2")
    assert values != FILES["values.yaml"]
    (tmp_path / "values.yaml").write_text(values)
    env = scratch_env(tmp_path, executor_dind, helms["helm4"])
    assert_ok(run(["executor-dind", "install-plugin", "--helm"], env=env))
    result = run(
        ["helm", "template", "executors", str(CHART), "-f", "values.yaml", "--post-renderer", "executor-dind"],
        cwd=tmp_path,
        env=env,
    )
    assert (result.returncode, result.stdout) == (1, "")
    said = ("executor-dind: mapped ", "executor-dind: not mapped: ")  # the doc says these come first
    printed = [line for line in result.stderr.splitlines() if line and not line.startswith(said)]
    printed = [line.replace(env["XDG_STATE_HOME"], "$XDG_STATE_HOME") for line in printed]
    assert printed == [*shown.splitlines(), "Use --debug flag to render out invalid YAML"]
