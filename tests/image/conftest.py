"""The image tier: `make image` builds the function's image with debootstrap (root, apt, the Debian mirror) and
these tests run the function inside its root filesystem with unshare and chroot. Collected only with
EXECUTOR_DIND_RUNTIME=1, like tests/runtime: `make test` stays fast and needs no root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENABLED = os.environ.get("EXECUTOR_DIND_RUNTIME") == "1"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ENABLED:
        return
    image = [item for item in items if HERE in Path(str(item.path)).parents]
    if image:
        config.hook.pytest_deselected(items=image)
        items[:] = [item for item in items if item not in image]
