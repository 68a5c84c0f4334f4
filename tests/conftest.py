"""Shared fixtures: where the real tools and the upstream base are, and how a missing one is treated.

Locally a missing tool or base skips the test with the reason; with CI=true it fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT.parent / "shared" / "upstream" / "deploy-sourcegraph-k8s"
TOOLS = ROOT / ".tools" / "bin"
VENV_BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> None:
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"{what} (CI=true: a missing tool or base is a failure; `make tools` installs the tools)")
    pytest.skip(what)


def find_tool(name: str) -> str:
    for candidate in (TOOLS / name, VENV_BIN / name):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        missing(f"{name} not found in .tools/bin, the venv or PATH")
    return found


@pytest.fixture(scope="session")
def kustomize() -> str:
    """Standalone kustomize v5 (installed by `make tools`), not kubectl's embedded one."""
    path = find_tool("kustomize")
    version = subprocess.run([path, "version"], capture_output=True, text=True).stdout
    if "v5." not in version:
        missing(f"{path} is not kustomize v5: {version.strip()}")
    return path


@pytest.fixture(scope="session")
def kubectl() -> str:
    return find_tool("kubectl")


@pytest.fixture(scope="session")
def kpt() -> str:
    return find_tool("kpt")


@pytest.fixture(scope="session")
def executor_dind() -> str:
    """The installed console script (the same entry point users run)."""
    return find_tool("executor-dind")


@pytest.fixture(scope="session")
def upstream() -> Path:
    if not (UPSTREAM / "base" / "sourcegraph").is_dir():
        missing(f"the upstream deploy-sourcegraph-k8s base is not at {UPSTREAM}")
    return UPSTREAM


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command, text mode, never raising; tests assert on returncode, stdout and stderr."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 300)
    return subprocess.run(args, check=False, **kwargs)
