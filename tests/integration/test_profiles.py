"""Every hardening profile through every way of use, over the real upstream base: the same objects come out.

The reference is `executor-dind render` on the base as kubectl builds it. KRM exec under standalone kustomize,
the legacy plugin under kubectl, kpt render and the plain Components must each produce exactly the objects the
reference owns (the Components only for the default spec they are generated for).
"""

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import run
from integration.util import (
    COMPONENTS,
    assert_ok,
    executor_config,
    key,
    normalized,
    objects,
    owned,
    relpath,
    write_kustomization,
)

pytestmark = pytest.mark.integration

NAMESPACE = "sourcegraph"
EXECUTORS = "sourcegraph-executors"
PROFILES = {
    "baseline": {"hardening": {"profile": "baseline"}},
    "recommended": {"hardening": {"profile": "recommended"}},
    "strict": {"namespace": EXECUTORS, "hardening": {"profile": "strict"}},
}
# The plain Components that make up each profile.
PROFILE_COMPONENTS = {
    "baseline": ["executor-dind", "executor-dind/private-registry"],
    "recommended": [
        "executor-dind",
        "executor-dind/private-registry",
        "hardening/node-pool",
        "hardening/network-policy",
    ],
}


def ours(text: str) -> dict:
    return {key(obj): normalized(obj, checksum=True) for obj in objects(text) if owned(obj)}


@pytest.fixture(scope="module")
def base_stream(upstream: Path, kubectl: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = tmp_path_factory.mktemp("base")
    write_kustomization(
        directory, namespace=NAMESPACE, resources=[relpath(upstream / "base" / "sourcegraph", directory)]
    )
    return assert_ok(run([kubectl, "kustomize", str(directory)]))


@pytest.fixture(scope="module")
def reference(base_stream: str, executor_dind: str, tool_env, tmp_path_factory) -> dict[str, str]:
    """profile -> what `executor-dind render` makes of the base."""
    directory = tmp_path_factory.mktemp("reference")
    (directory / "base.yaml").write_text(base_stream)
    rendered = {}
    for profile, spec in PROFILES.items():
        config = directory / f"{profile}.yaml"
        config.write_text(executor_config(spec, krm=False))
        rendered[profile] = assert_ok(
            run([executor_dind, "render", "--config", str(config), str(directory / "base.yaml")], env=tool_env)
        )
    return rendered


def overlay(tmp_path: Path, upstream: Path, spec: dict, krm: bool) -> Path:
    directory = tmp_path / "overlay"
    write_kustomization(
        directory,
        namespace=NAMESPACE,
        resources=[relpath(upstream / "base" / "sourcegraph", directory)],
        transformers=["executor-dind.yaml"],
    )
    (directory / "executor-dind.yaml").write_text(executor_config(spec, krm=krm))
    return directory


@pytest.mark.parametrize("profile", PROFILES)
def test_krm_exec_under_kustomize(profile, reference, upstream, kustomize, tool_env, validate, tmp_path):
    directory = overlay(tmp_path, upstream, PROFILES[profile], krm=True)
    out = assert_ok(run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(directory)], env=tool_env))
    validate(out)
    assert ours(out) == ours(reference[profile])


@pytest.mark.parametrize("profile", PROFILES)
def test_legacy_plugin_under_kubectl(profile, reference, upstream, kubectl, legacy_env, validate, tmp_path):
    directory = overlay(tmp_path, upstream, PROFILES[profile], krm=False)
    out = assert_ok(run([kubectl, "kustomize", "--enable-alpha-plugins", str(directory)], env=legacy_env))
    validate(out)
    assert ours(out) == ours(reference[profile])


@pytest.mark.parametrize("profile", PROFILES)
def test_kpt_render(profile, reference, base_stream, kpt, tool_env, tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    (package / "base.yaml").write_text(base_stream)
    (package / "executor-dind.yaml").write_text(executor_config(PROFILES[profile], krm=False, local_config=True))
    kptfile = {
        "apiVersion": "kpt.dev/v1",
        "kind": "Kptfile",
        "metadata": {"name": "executors"},
        "pipeline": {
            "mutators": [{"exec": "executor-dind", "configPath": "executor-dind.yaml"}],
            "validators": [{"exec": "executor-dind audit"}],
        },
    }
    (package / "Kptfile").write_text(yaml.safe_dump(kptfile, sort_keys=False))
    assert_ok(run([kpt, "fn", "render", str(package), "--allow-exec"], env=tool_env))
    written = "---\n".join(path.read_text() for path in sorted((package / "executor-dind").glob("*.yaml")))
    assert ours(written) == ours(reference[profile])


@pytest.mark.parametrize("vendored", [False, True], ids=["project-tree", "vendored-into-checkout"])
@pytest.mark.parametrize("profile", PROFILE_COMPONENTS)
def test_plain_components(profile, vendored, reference, upstream, kubectl, executor_dind, validate, tmp_path):
    """From this project's tree, and vendored (`components --write`) into a checkout copy and built from inside it."""
    components, base, cwd = COMPONENTS, upstream / "base" / "sourcegraph", None
    if vendored:
        cwd = tmp_path / "deploy-sourcegraph-k8s"
        shutil.copytree(upstream, cwd)
        components, base = cwd / "components", cwd / "base" / "sourcegraph"
        only = PROFILE_COMPONENTS[profile]
        written = assert_ok(run([executor_dind, "components", "--write", "components", "--only", *only], cwd=cwd))
        assert {str(Path(line).parent) for line in written.splitlines()} == {f"components/{n}" for n in only}
    directory = (cwd / "instances" / "mine") if vendored else tmp_path / "overlay"
    write_kustomization(
        directory,
        namespace=NAMESPACE,
        resources=[relpath(base, directory)],
        components=[relpath(components / name, directory) for name in PROFILE_COMPONENTS[profile]],
    )
    out = assert_ok(run([kubectl, "kustomize", str(directory.relative_to(cwd)) if cwd else str(directory)], cwd=cwd))
    validate(out)
    assert ours(out) == ours(reference[profile])


def test_strict_with_plain_components(reference, kubectl, validate, tmp_path):
    """strict as Components: the executors-namespace overlay (its own namespace, pod security) plus gVisor."""
    directory = tmp_path / "overlay"
    executors = Path(__file__).resolve().parents[2] / "overlays" / "executors-namespace" / "executors"
    write_kustomization(
        directory,
        resources=[relpath(executors, directory)],
        components=[relpath(COMPONENTS / "hardening" / "gvisor", directory)],
    )
    out = assert_ok(run([kubectl, "kustomize", str(directory)]))
    validate(out)
    # The overlay patches the frontend URL into the env, which the checksum annotation cannot follow.
    plain = {k: normalized(v) for k, v in ((key(o), o) for o in objects(out) if owned(o))}
    function = {k: normalized(v) for k, v in ((key(o), o) for o in objects(reference["strict"]) if owned(o))}
    assert plain == function
