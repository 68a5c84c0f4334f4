"""The runtime tier: rendered objects run against real dockerd, registry, runsc and a real control plane.

Collected only when EXECUTOR_DIND_RUNTIME=1 (`make test-runtime` sets it), so `make test` stays fast and needs no
root. Without root or a piece it needs, a test skips with the reason; with CI=true that is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import missing
from runtime.harness import TOOLS, Janitor, ok

HERE = Path(__file__).resolve().parent
ENABLED = os.environ.get("EXECUTOR_DIND_RUNTIME") == "1"


# Modules by the Go build they wait for (harness.built), in the order the builds finish when they run together
# (tools/runtime/install.sh builds kube and kwok first): the tests that need no build run first, beside the
# builds; then the control plane's, the longest, while the other modules finish.
BUILD_ORDER = {
    "test_apiserver": 1,  # kube
    "test_helm_release": 1,  # kube
    "test_keda": 1,  # kube
    "test_scheduling": 2,  # kube and kwok
    "test_doctor": 2,  # kube and kwok
    "test_gvisor": 3,  # runsc
    "test_netpol": 3,  # kube and kube-router
    "test_registry": 4,  # registry
    "test_daemon_config": 5,  # moby
    "test_mtu": 5,  # moby
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ENABLED:
        items.sort(key=lambda item: BUILD_ORDER.get(Path(str(item.path)).stem, 0) if HERE in item.path.parents else 0)
        return
    runtime = [item for item in items if HERE in Path(str(item.path)).parents]
    if runtime:
        config.hook.pytest_deselected(items=runtime)
        items[:] = [item for item in items if item not in runtime]


def need(path: str | Path, what: str) -> str:
    found = shutil.which(str(path)) if not os.path.isabs(str(path)) else (str(path) if Path(path).exists() else None)
    if not found:
        missing(f"{what} ({path}) is not installed: `make test-runtime` installs it")
    return found


@pytest.fixture(scope="session")
def root() -> None:
    if os.geteuid() != 0:
        missing("the runtime tier needs root (network namespaces, dockerd)")
    for tool in ("ip", "nsenter", "unshare", "setpriv", "ss"):
        need(tool, "util-linux/iproute2")


@pytest.fixture(scope="session")
def janitor(root: None):
    keeper = Janitor()
    yield keeper
    keeper.cleanup()


@pytest.fixture(scope="session")
def busybox() -> str:
    return need("/bin/busybox", "busybox-static")


@pytest.fixture(scope="session")
def rootfs_tar(busybox: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox-static root filesystem as a tarball: the job image, imported, never pulled."""
    directory = tmp_path_factory.mktemp("rootfs")
    tree = directory / "tree"
    (tree / "bin").mkdir(parents=True)
    shutil.copy(busybox, tree / "bin" / "busybox")
    for applet in ("sh", "cat", "nc", "wget", "ip", "sleep", "echo", "ls", "true"):
        (tree / "bin" / applet).symlink_to("busybox")
    for name in ("proc", "sys", "dev", "etc", "tmp"):
        (tree / name).mkdir()
    tar = directory / "busybox.tar"
    ok(["tar", "-C", str(tree), "-cf", str(tar), "."])
    return tar


@pytest.fixture(scope="session")
def tools_bin() -> Path:
    return TOOLS
