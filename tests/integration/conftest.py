"""Fixtures for the integration tests: the environment the real tools run in, a legacy plugin home, and the
schema validator every rendered output goes through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from conftest import TOOLS, find_tool, run
from integration.util import assert_ok, objects

# Objects of the tools, not of the cluster: no schema to validate them against.
NOT_KUBERNETES = frozenset({"Kptfile", "ExecutorDind"})
# KEDA's, which kubernetes-validate has no schema for: decoded strictly by KEDA's own Go types instead.
KEDA_KINDS = frozenset({"ScaledObject", "ScaledJob"})


@pytest.fixture(scope="session")
def tool_env(executor_dind: str) -> dict[str, str]:
    """The environment for kustomize, kubectl and kpt: executor-dind (a bare name in every overlay) on PATH."""
    path = os.pathsep.join([str(Path(executor_dind).parent), str(TOOLS), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path}
    env.pop("KUSTOMIZE_PLUGIN_HOME", None)
    return env


@pytest.fixture(scope="session")
def plugin_home(executor_dind: str, tool_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KUSTOMIZE_PLUGIN_HOME holding the legacy exec plugin, installed the way users install it."""
    home = tmp_path_factory.mktemp("plugin-home")
    out = assert_ok(run([executor_dind, "install-plugin", "--plugin-home", str(home)], env=tool_env))
    entry = home / "executor-dind.dev" / "v1alpha1" / "executordind" / "ExecutorDind"
    assert out.strip() == str(entry)
    assert os.access(entry, os.X_OK)
    return home


@pytest.fixture
def legacy_env(tool_env: dict[str, str], plugin_home: Path) -> dict[str, str]:
    return {**tool_env, "KUSTOMIZE_PLUGIN_HOME": str(plugin_home)}


@pytest.fixture(scope="session")
def validate(tmp_path_factory: pytest.TempPathFactory):
    """Check a rendered YAML stream with `kubernetes-validate --strict` (unknown fields are errors): every
    Kubernetes object in it must pass, none skipped for want of a schema; KEDA's with `keda-decode`."""
    tool = find_tool("kubernetes-validate")
    directory = tmp_path_factory.mktemp("validate")
    counter = iter(range(1_000_000))

    def check(text: str) -> None:
        docs = [doc for doc in objects(text) if doc.get("kind") not in NOT_KUBERNETES]
        assert docs, "nothing to validate"
        keda = [doc for doc in docs if doc.get("kind") in KEDA_KINDS]
        docs = [doc for doc in docs if doc.get("kind") not in KEDA_KINDS]
        if keda:
            target = directory / f"keda-{next(counter)}.yaml"
            target.write_text(yaml.safe_dump_all(keda, sort_keys=False))
            result = run([find_tool("keda-decode"), str(target)])
            assert result.returncode == 0, f"keda-decode failed on {target}:\n{result.stderr}"
            assert [line.split()[0] for line in result.stdout.splitlines()] == ["ok"] * len(keda), result.stdout
        if not docs:
            return
        target = directory / f"rendered-{next(counter)}.yaml"
        target.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        result = run([tool, "--strict", str(target)])
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"kubernetes-validate --strict failed on {target}:\n{output}"
        assert output.count("passed for resource") == len(docs), output

    return check
