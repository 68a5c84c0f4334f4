"""Renders of the real upstream base through `executor-dind render`, one per profile, shared by the checker
tests."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from checkers.tools import SOURCEGRAPH_NS, CheckovReport, checkov, dump, find, key, load, without_skips
from conftest import find_tool, run

EXECUTORS_NS = "sourcegraph-executors"
# profile -> spec of the ExecutorDind config
PROFILES: dict[str, dict[str, Any]] = {
    "baseline": {"hardening": {"profile": "baseline"}},
    "recommended": {"hardening": {"profile": "recommended"}},
    "strict": {"namespace": EXECUTORS_NS, "hardening": {"profile": "strict"}},
    "strict-runtimeclass": {
        "namespace": EXECUTORS_NS,
        "hardening": {"profile": "strict", "gvisor": {"createRuntimeClass": True}},
    },
    # The layout for clusters older than native sidecars: dind as a plain container.
    "recommended-plain-containers": {
        "docker": {"nativeSidecar": False},
        "hardening": {"profile": "recommended"},
    },
    "strict-plain-containers": {
        "namespace": EXECUTORS_NS,
        "docker": {"nativeSidecar": False},
        "hardening": {"profile": "strict"},
    },
}
HARDENED = tuple(profile for profile in PROFILES if profile != "baseline")


@dataclass(frozen=True)
class Render:
    profile: str
    path: Path  # the whole render: the upstream base plus what executor-dind injected
    objects: list[dict[str, Any]]
    ours: list[dict[str, Any]]  # only the objects executor-dind injected
    ours_path: Path
    namespace: str  # the executors' namespace

    def executor(self) -> dict[str, Any]:
        return find(self.ours, "Deployment", "executor-all")

    @property
    def executor_peer(self) -> str:
        """The executor Deployment as netpolicy names it."""
        return f"{self.namespace}/executor-all[Deployment]"


def _overlay(where: Path, body: dict[str, Any]) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **body}
    (where / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return where


def _relative(target: Path, start: Path) -> str:
    return os.path.relpath(target, start)


def build(kubectl: str, overlay: Path, out: Path) -> Path:
    result = run([kubectl, "kustomize", str(overlay)])
    assert result.returncode == 0, result.stderr
    out.write_text(result.stdout)
    return out


@pytest.fixture(scope="session")
def checkers_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("checkers")


@pytest.fixture(scope="session")
def base_stream(kubectl: str, upstream: Path, checkers_tmp: Path) -> Path:
    """The upstream base/sourcegraph built to one stream, in namespace sourcegraph."""
    overlay = checkers_tmp / "base-overlay"
    overlay.mkdir()
    _overlay(
        overlay,
        {"namespace": SOURCEGRAPH_NS, "resources": [_relative(upstream / "base" / "sourcegraph", overlay)]},
    )
    return build(kubectl, overlay, checkers_tmp / "base.yaml")


@pytest.fixture(scope="session")
def renders(executor_dind: str, base_stream: Path, checkers_tmp: Path) -> dict[str, Render]:
    base_keys = {key(obj) for obj in load(base_stream.read_text())}
    out = {}
    for profile, spec in PROFILES.items():
        config = checkers_tmp / f"config-{profile}.yaml"
        config.write_text(
            dump(
                [
                    {
                        "apiVersion": "executor-dind.dev/v1alpha1",
                        "kind": "ExecutorDind",
                        "metadata": {"name": "executors"},
                        "spec": spec,
                    }
                ]
            )
        )
        result = run([executor_dind, "render", "--config", str(config), str(base_stream)])
        assert result.returncode == 0, f"{profile}: {result.stderr}"
        path = checkers_tmp / f"render-{profile}.yaml"
        path.write_text(result.stdout)
        objects = load(result.stdout)
        ours = [obj for obj in objects if key(obj) not in base_keys]
        ours_path = checkers_tmp / f"ours-{profile}.yaml"
        ours_path.write_text(dump(ours))
        out[profile] = Render(profile, path, objects, ours, ours_path, spec.get("namespace", SOURCEGRAPH_NS))
    return out


@pytest.fixture(scope="session")
def upstream_component(kubectl: str, upstream: Path, checkers_tmp: Path) -> Path:
    """Upstream's components/executors/dind with its private-docker-registry, as users render them today."""
    overlay = checkers_tmp / "upstream-component"
    overlay.mkdir()
    dind = upstream / "components" / "executors" / "dind"
    _overlay(
        overlay,
        {
            "namespace": SOURCEGRAPH_NS,
            "components": [_relative(dind, overlay), _relative(dind / "private-docker-registry", overlay)],
            "secretGenerator": [{"name": "executor-secret", "literals": ["password=not-a-real-secret"]}],
        },
    )
    return build(kubectl, overlay, checkers_tmp / "upstream-component.yaml")


@pytest.fixture(scope="session")
def netpolicy() -> str:
    """np-guard's netpol-analyzer CLI (`make tools` builds it into .tools/bin)."""
    return find_tool("netpolicy")


@pytest.fixture(scope="session")
def kubernetes_validate() -> str:
    return find_tool("kubernetes-validate")


@pytest.fixture(scope="session")
def checkov_bin() -> str:
    return find_tool("checkov")


@dataclass(frozen=True)
class CheckovRuns:
    """Per profile: checkov on the injected objects as rendered, and on the same objects without skip
    annotations. Plus the upstream component's render."""

    rendered: dict[str, CheckovReport]
    unskipped: dict[str, CheckovReport]
    upstream: CheckovReport


@pytest.fixture(scope="session")
def checkov_runs(
    checkov_bin: str, renders: dict[str, Render], upstream_component: Path, checkers_tmp: Path
) -> CheckovRuns:
    jobs: list[tuple[str, Path, Path | None]] = [("", upstream_component, None)]
    for profile, render in renders.items():
        unskipped = checkers_tmp / f"unskipped-{profile}.yaml"
        unskipped.write_text(dump(without_skips(render.ours)))
        jobs.append((profile, render.ours_path, unskipped))

    def scan(job: tuple[str, Path, Path | None]) -> dict[str, CheckovReport]:
        # One run per profile (its graph checks must not see another profile's NetworkPolicies); the render
        # and its unskipped copy share a run: they have the same policies.
        _, *paths = job
        reports = checkov(checkov_bin, *(path for path in paths if path))
        return reports if isinstance(reports, dict) else {paths[0].name: reports}

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = dict(zip((job[0] for job in jobs), pool.map(scan, jobs), strict=True))
    return CheckovRuns(
        rendered={p: results[p][r.ours_path.name] for p, r in renders.items()},
        unskipped={p: results[p][f"unskipped-{p}.yaml"] for p in renders},
        upstream=results[""][upstream_component.name],
    )
