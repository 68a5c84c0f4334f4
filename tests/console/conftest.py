"""The unit tests' upstream component fixture, for the console tests of the conflict with it."""

import shutil
from pathlib import Path

import pytest

from unit.conftest import upstream_component  # noqa: F401 - registers the fixture here


@pytest.fixture
def checkout(upstream: Path, tmp_path: Path) -> Path:
    """A writable copy of the real deploy-sourcegraph-k8s checkout."""
    copy = tmp_path / "deploy-sourcegraph-k8s"
    shutil.copytree(upstream, copy)
    for path in copy.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return copy
