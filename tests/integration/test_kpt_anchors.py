"""One YAML anchor does not rewrite the package: `kpt fn render` of the upstream base with anchors and aliases
added, once with executor-dind and once with an identity function (`exec: cat`). Every file the function does not
own must come out byte-identical between the two (before: one anchor anywhere made every item a re-dump, and kpt
rewrote 34 of 57 upstream files with other quotes, flow style and expanded anchors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run
from integration.util import assert_executor, assert_ok, function_and_identity_packages, objects, snapshot

pytestmark = pytest.mark.integration

CONFIG = {
    "apiVersion": "executor-dind.dev/v1alpha1",
    "kind": "ExecutorDind",
    "metadata": {"name": "executors", "annotations": {"config.kubernetes.io/local-config": "true"}},
    "spec": {},
}
# (file, text, the same text with an anchor and an alias in it)
EDITS = {
    # An anchor and its alias in a Deployment nobody but kpt reads.
    "frontend/sourcegraph-frontend.Deployment.yaml": (
        "  selector:\n    matchLabels:\n      app: sourcegraph-frontend\n",
        "  selector:\n    matchLabels: &frontend-pods\n      app: sourcegraph-frontend\n",
        "    spec:\n      initContainers:\n",
        "    spec:\n      topologySpreadConstraints:\n        - maxSkew: 1\n          topologyKey: "
        "kubernetes.io/hostname\n          whenUnsatisfiable: ScheduleAnyway\n          labelSelector:\n"
        "            matchLabels: *frontend-pods\n      initContainers:\n",
    ),
    # And in the frontend Service, which the function reads to find the frontend's port.
    "frontend/sourcegraph-frontend.Service.yaml": (
        "    - name: http\n      port: 30080\n      targetPort: http\n",
        "    - name: &http http\n      port: 30080\n      targetPort: *http\n",
    ),
}


def edit(package: Path) -> None:
    for name, pairs in EDITS.items():
        path = package / name
        text = path.read_text()
        for old, new in zip(pairs[::2], pairs[1::2], strict=True):
            assert text.count(old) == 1, f"{name} no longer holds {old!r}"
            text = text.replace(old, new)
        path.write_text(text)


def render(kpt: str, package: Path, env: dict[str, str]) -> dict[str, bytes]:
    assert_ok(run([kpt, "fn", "render", str(package), "--allow-exec", "--truncate-output=false"], env=env))
    return snapshot(package)


def test_anchors_leave_every_file_the_function_does_not_own_byte_identical(kpt, tool_env, upstream, tmp_path):
    built = function_and_identity_packages(tmp_path, upstream, CONFIG, edit)
    packages = {name: render(kpt, package, tool_env) for name, package in built.items()}
    function, identity = packages["function"], packages["identity"]
    owned = {path for path in function if path.startswith("executor-dind/")}
    assert owned
    assert set(function) - owned == set(identity)
    differing = sorted(path for path in identity if path != "Kptfile" and function[path] != identity[path])
    assert differing == [], f"files changed by executor-dind beyond the identity function: {differing}"
    # The anchors are still there (kpt kept them, so did the function), and the function read the frontend's
    # port through the aliased Service.
    assert b"&frontend-pods" in function["frontend/sourcegraph-frontend.Deployment.yaml"]
    assert b"targetPort: *http" in function["frontend/sourcegraph-frontend.Service.yaml"]
    assert_executor([obj for path in sorted(owned) for obj in objects(function[path].decode())], "executor-all")

    again = render(kpt, tmp_path / "function", tool_env)
    assert again == function, "a second render over the anchored package changed it"
