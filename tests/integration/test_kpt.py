"""executor-dind in kpt: the overlays/kpt package's pipeline (mutator and validator), `kpt fn eval` with a
ConfigMap functionConfig, and byte-fidelity of every file the function does not own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import run
from integration.util import (
    OVERLAYS,
    assert_executor,
    assert_failed,
    assert_ok,
    container,
    env,
    executor_config,
    executor_deployments,
    function_and_identity_packages,
    objects,
    owned,
    pod_spec,
    snapshot,
    upstream_dind_package,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of overlays/kpt: kpt renders in place, and the checked-in package stays unrendered."""
    target = tmp_path / "executors"
    shutil.copytree(OVERLAYS / "kpt", target)
    return target


def render(kpt: str, package: Path, env: dict[str, str], *flags: str):
    return run([kpt, "fn", "render", str(package), "--allow-exec", "--truncate-output=false", *flags], env=env)


def package_objects(files: dict[str, bytes], prefix: str = "") -> list[dict]:
    return [
        obj
        for path, data in files.items()
        if path.startswith(prefix) and path.endswith(".yaml")
        for obj in objects(data.decode())
    ]


def yaml_files(files: dict[str, bytes]) -> str:
    """The package's manifests as one stream (not the Kptfile or the README)."""
    return "---\n".join(data.decode() for path, data in files.items() if path.endswith(".yaml"))


def test_render_twice(kpt, tool_env, package, validate):
    before = snapshot(package)
    first = render(kpt, package, tool_env)
    assert_ok(first)
    said = first.stdout + first.stderr
    assert '[PASS] "executor-dind"' in said and '[PASS] "executor-dind audit"' in said
    assert "[error]" not in said
    after = snapshot(package)
    # The package's own files are byte-identical; the function's objects land in executor-dind/.
    assert {path: after[path] for path in before} == before
    new = sorted(set(after) - set(before))
    assert new and all(path.startswith("executor-dind/") for path in new), new
    objs = package_objects(after, "executor-dind/")
    assert all(owned(obj) for obj in objs)
    assert set(executor_deployments(objs)) == {"executor-batches", "executor-codeintel"}
    for name in ("executor-batches", "executor-codeintel"):
        assert_executor(objs, name, namespace="sourcegraph")
    for path in new:
        assert b"config.kubernetes.io" not in after[path], f"{path} carries orchestrator annotations"
        assert len(objects(after[path].decode())) == 1
    validate(yaml_files(after))

    second = render(kpt, package, tool_env)
    assert_ok(second)
    assert snapshot(package) == after, "a second `kpt fn render` changed the package"


def test_render_to_stdout_leaves_the_package_alone(kpt, tool_env, package):
    before = snapshot(package)
    out = assert_ok(render(kpt, package, tool_env, "-o", "unwrap"))
    assert snapshot(package) == before
    assert set(executor_deployments(objects(out))) == {"executor-batches", "executor-codeintel"}
    assert "internal.config.kubernetes.io" not in out


def test_eval_with_key_value_config(kpt, tool_env, package, validate):
    """`-- key=value` becomes a ConfigMap functionConfig: dotted keys, strings parsed, lists as flow YAML."""
    (package / "Kptfile").unlink()  # no pipeline: the function runs only as evaluated here
    (package / "executor-dind.yaml").unlink()
    before = snapshot(package)
    args = [
        "queues=batches,codeintel",
        "hardening.profile=recommended",
        "hardening.nodePool.nodeSelector={pool: executors}",
        "maximumRuntimePerJob=1h",
        "privateRegistry.enabled=false",
    ]
    command = [kpt, "fn", "eval", str(package), "--exec", "executor-dind", "--truncate-output=false", "--", *args]
    assert_ok(run(command, env=tool_env))
    after = snapshot(package)
    assert {path: after[path] for path in before} == before
    objs = package_objects(after)
    assert set(executor_deployments(objs)) == {"executor-batches", "executor-codeintel"}
    assert not any(obj["kind"] == "StatefulSet" for obj in objs)
    for queue in ("batches", "codeintel"):
        deployment = assert_executor(objs, f"executor-{queue}", namespace="sourcegraph")
        spec = pod_spec(deployment)
        assert spec["nodeSelector"] == {"pool": "executors"}
        assert spec["terminationGracePeriodSeconds"] == 3600 + 60
        variables = env(container(spec, "executor")[1])
        assert variables["EXECUTOR_QUEUE_NAME"] == queue
        assert variables["EXECUTOR_MAXIMUM_RUNTIME_PER_JOB"] == "1h"
    validate(yaml_files(after))

    assert_ok(run(command, env=tool_env))
    assert snapshot(package) == after, "a second `kpt fn eval` changed the package"


def test_bad_config_fails_and_leaves_the_package_untouched(kpt, tool_env, package):
    config = package / "executor-dind.yaml"
    config.write_text(config.read_text().replace("profile: recommended", "profil: recommended"))
    before = snapshot(package)
    output = assert_failed(render(kpt, package, tool_env))
    assert "spec.hardening.profil" in output and "'profile'" in output, output
    assert snapshot(package) == before


def test_bad_key_value_fails_and_leaves_the_package_untouched(kpt, tool_env, package):
    before = snapshot(package)
    command = [kpt, "fn", "eval", str(package), "--exec", "executor-dind", "--", "hardening.profile=strictest"]
    output = assert_failed(run(command, env=tool_env))
    assert "strictest" in output and "'strict'" in output, output
    assert snapshot(package) == before


def test_validator_fails_on_the_upstream_executors(kpt, tool_env, upstream, tmp_path):
    """`executor-dind audit` as a kpt validator: the upstream dind component binds dockerd to 0.0.0.0."""
    pipeline = {"validators": [{"exec": "executor-dind audit"}]}
    package = upstream_dind_package(upstream, tmp_path / "upstream-executors", pipeline)
    before = snapshot(package)
    output = assert_failed(render(kpt, package, tool_env))
    assert "EXD001" in output, output
    assert "Deployment/executor" in output
    assert snapshot(package) == before


def test_upstream_files_stay_byte_identical(kpt, tool_env, upstream, tmp_path):
    """Fidelity: the upstream base's files, rendered by executor-dind and by an identity function (`cat`),
    differ only in what the function owns (executor-dind/) and in the Kptfile naming the function."""
    config = executor_config({"hardening": {"profile": "recommended", "gvisor": {"enabled": True}}}, krm=False)
    config = yaml.safe_load(config)
    config["metadata"]["annotations"] = {"config.kubernetes.io/local-config": "true"}
    packages = {}
    for name, package in function_and_identity_packages(tmp_path, upstream, config).items():
        assert_ok(render(kpt, package, tool_env))
        packages[name] = snapshot(package)
    function, identity = packages["function"], packages["identity"]
    owned_paths = {path for path in function if path.startswith("executor-dind/")}
    assert owned_paths
    assert set(function) - owned_paths == set(identity)
    differing = [p for p in identity if p != "Kptfile" and function[p] != identity[p]]
    assert differing == [], f"files changed by executor-dind beyond the identity function: {differing}"
    # The identity function leaves the upstream files as they are, so they are the upstream bytes too.
    originals = snapshot(upstream / "base" / "sourcegraph")
    assert {p: function[p] for p in originals} == originals
    objs = package_objects(function, "executor-dind/")
    deployment = assert_executor(objs, "executor-all")
    assert pod_spec(deployment)["runtimeClassName"] == "gvisor"

    again = render(kpt, tmp_path / "function", tool_env)
    assert_ok(again)
    assert snapshot(tmp_path / "function") == function, "a second render over the upstream base changed it"
