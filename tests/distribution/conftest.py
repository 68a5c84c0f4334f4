"""The distribution as users get it: the wheel and sdist `python -m build` makes from a clean copy of the
sources, and a fresh venv holding nothing but that wheel and its dependencies."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT, TOOLS, run

# What a clean checkout holds: none of the local state a developer's tree may have.
NOT_SOURCES = shutil.ignore_patterns(
    ".venv", ".tools", ".git", "*.egg-info", "__pycache__", "build", "dist", ".bench-*", ".ruff_cache", ".hypothesis"
)
VERSION_LINE = '__version__ = "'


def source_version() -> str:
    """The version as written in the package, read as text (not imported: the editable install is not asked)."""
    text = (ROOT / "plugin" / "executor_dind" / "__init__.py").read_text()
    line = next(line for line in text.splitlines() if line.startswith(VERSION_LINE))
    return line[len(VERSION_LINE) : -1]


@dataclass(frozen=True)
class Dist:
    sources: Path  # the clean copy the packages were built from
    wheel: Path
    sdist: Path


@dataclass(frozen=True)
class Installed:
    """A venv with only the wheel installed: its console script and an environment whose PATH reaches neither
    this checkout's .venv nor its sources."""

    venv: Path
    executor_dind: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    where = tmp_path_factory.mktemp("dist")
    sources = where / "executor-dind"
    shutil.copytree(ROOT, sources, ignore=NOT_SOURCES)
    out = where / "out"
    # build makes the sdist, then the wheel from the unpacked sdist: the wheel proves the sdist complete.
    built = run([sys.executable, "-m", "build", "--outdir", str(out), str(sources)], timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    version = source_version()
    wheel, sdist = out / f"executor_dind-{version}-py3-none-any.whl", out / f"executor_dind-{version}.tar.gz"
    assert sorted(out.iterdir()) == sorted([wheel, sdist])
    return Dist(sources=sources, wheel=wheel, sdist=sdist)


def clean_path() -> str:
    """PATH without this checkout's directories (its .venv/bin, .tools/bin): what a user's shell has."""
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(ROOT)))


@pytest.fixture(scope="session")
def installed(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    created = run([sys.executable, "-m", "venv", str(venv)])
    assert created.returncode == 0, created.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    # The wheel alone: its dependencies come from the index, nothing from this checkout.
    pip = run([str(venv / "bin" / "pip"), "install", "-q", str(dist.wheel)], env=env, timeout=600)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(TOOLS), clean_path()])
    return Installed(venv=venv, executor_dind=str(venv / "bin" / "executor-dind"), env=env)
