"""Golden tests in the kpt catalog layout, run the way kpt's own e2e runner (pkg/test/runner) runs them.

A case is a directory under tests/golden/ holding a kpt package (Kptfile pipeline, resources, `.krmignore`
ignoring `.expected`) and `.expected/` with `config.yaml` (allowExec, exitCode, stdErr, stdErrRegEx, skip,
disableOutputTruncate), `diff.patch` (the `git diff` the render makes) and `results.yaml` (kpt's
FunctionResultList). Like kpt v1.0.0-beta.56's runner, each case is rendered twice on the same directory: both
runs must leave exactly `diff.patch` (the second changes nothing more), results are compared on the first run.

UPDATE_GOLDEN=1 rewrites diff.patch and results.yaml (never config.yaml); review them like code before keeping.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import missing, run

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(path.parent for path in GOLDEN.glob("*/.expected"))
UPDATE = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0", "false")
RUN_COUNT = 2


def git(directory: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    done = run(["git", "-c", "user.name=none", "-c", "user.email=none", *args], cwd=directory, env=env)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def sanitize(text: str, *paths: Path) -> str:
    """Results and stderr without what differs between runs: temporary paths and durations."""
    for path in paths:
        text = text.replace(str(path), "<tmp>")
    return re.sub(r"(\[(?:PASS|FAIL)\] \"[^\"]*\") in [0-9.]+m?s", r"\1 in 0s", text)


@pytest.fixture(scope="module")
def tools(kpt: str, executor_dind: str) -> dict[str, str]:
    if shutil.which("git") is None:
        missing("git not found")
    # kpt runs `exec: executor-dind` from PATH: the console script of this checkout comes first.
    path = os.pathsep.join([str(Path(executor_dind).parent), os.environ.get("PATH", "")])
    return {"kpt": kpt, "PATH": path}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden(case: Path, tools: dict[str, str], tmp_path: Path) -> None:
    config = yaml.safe_load((case / ".expected" / "config.yaml").read_text()) or {}
    if config.get("skip"):
        pytest.skip(f"{case.name}: skip in config.yaml")
    expected_exit = int(config.get("exitCode", 0))
    package = tmp_path / case.name
    shutil.copytree(case, package)
    git(package, "init", "-q")
    git(package, "add", "--all")
    git(package, "commit", "-q", "-m", "first", "--allow-empty")
    initial = git(package, "rev-parse", "HEAD").strip()

    args = [tools["kpt"], "fn", "render", str(package)]
    if config.get("allowExec"):
        args.append("--allow-exec")
    if config.get("disableOutputTruncate"):
        args.append("--truncate-output=false")

    expected_results = case / ".expected" / "results.yaml"
    expected_diff = case / ".expected" / "diff.patch"
    diffs = []
    for count in range(RUN_COUNT):
        results_dir = tmp_path / f"results-{count}"
        rendered = run([*args, "--results-dir", str(results_dir)], env={**os.environ, "PATH": tools["PATH"]})
        stderr = sanitize(rendered.stderr, package, tmp_path)
        assert rendered.returncode == expected_exit, f"run {count + 1}: exit {rendered.returncode}\n{stderr}"
        assert "Traceback" not in stderr
        assert config.get("stdErr", "") in stderr, stderr
        if config.get("stdErrRegEx"):
            assert re.search(config["stdErrRegEx"], stderr), stderr
        results = sanitize((results_dir / "results.yaml").read_text(), package, tmp_path).strip() + "\n"
        git(package, "add", "--all")
        git(package, "commit", "-q", "-m", f"run {count + 1}", "--allow-empty")
        diff = git(package, "diff", initial, "HEAD").strip()
        diffs.append(diff)
        if count == 0:
            if UPDATE:
                expected_results.write_text(results)
                if diff:
                    expected_diff.write_text(diff + "\n")
                elif expected_diff.exists():
                    expected_diff.unlink()
            else:
                assert results == expected_results.read_text(), f"results of run 1 differ from {expected_results}"
        want = expected_diff.read_text().strip() if expected_diff.exists() else ""
        assert diff == want, f"the package after run {count + 1} differs from {expected_diff}"
    assert diffs[0] == diffs[1], "the second render changed the package again"
    if expected_exit:
        assert diffs == ["", ""], "a failing render must leave the package untouched"
