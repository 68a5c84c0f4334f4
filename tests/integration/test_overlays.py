"""Every ready overlay under overlays/, built with the tool it is made for, offline, against ../demo/base."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import run
from integration.util import (
    DEMO_BASE,
    OVERLAYS,
    ROOT,
    added,
    assert_executor,
    assert_ok,
    assert_unchanged,
    by_key,
    container,
    executor_config,
    executor_deployments,
    normalized,
    objects,
    owned,
    pod_spec,
    snapshot,
)

pytestmark = pytest.mark.integration

RECOMMENDED_KINDS = {"ServiceAccount", "ConfigMap", "Service", "Deployment", "StatefulSet", "NetworkPolicy"}
EXECUTORS_NS = "sourcegraph-executors"
FQDN_URL = "http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080"


def kubectl_build(kubectl: str, directory: Path, env: dict[str, str], *flags: str) -> str:
    return assert_ok(run([kubectl, "kustomize", *flags, str(directory)], env=env))


def kustomize_build(kustomize: str, directory: Path, env: dict[str, str], *flags: str) -> str:
    return assert_ok(run([kustomize, "build", *flags, str(directory)], env=env))


@pytest.fixture(scope="module")
def demo_base(kubectl: str) -> list[dict]:
    return objects(assert_ok(run([kubectl, "kustomize", str(DEMO_BASE)])))


def assert_recommended(objs: list[dict], base: list[dict], deployments: set[str]) -> dict:
    """The base untouched; executors with the recommended controls (node pool, network policy) added."""
    assert_unchanged(base, objs)
    new = added(base, objs)
    assert all(owned(obj) for obj in new.values()), [k for k, o in new.items() if not owned(o)]
    assert {kind for kind, _, _ in new} == RECOMMENDED_KINDS
    assert set(executor_deployments(objs)) == deployments
    for name in deployments:
        spec = pod_spec(assert_executor(objs, name))
        assert spec["nodeSelector"] == {"executor-dind.dev/untrusted": "true"}
        assert spec["tolerations"][0]["key"] == "executor-dind.dev/untrusted"
    return new


# -- demo ------------------------------------------------------------------------------------------------------


def _path_without(tool: str, path: str) -> str:
    """PATH minus every directory that holds `tool`."""
    dirs = path.split(os.pathsep)
    return os.pathsep.join(d for d in dirs if d and not (Path(d) / tool).exists())


def render_demo(env: dict[str, str]):
    return run(["sh", str(OVERLAYS / "demo" / "render.sh")], env=env, cwd=ROOT)


def assert_demo(out: str, base: list[dict], *, generated_secret: bool = True) -> None:
    objs = objects(out)
    if generated_secret:
        assert_unchanged(base, objs)
    else:  # executor-dind render reads the base's files: no secretGenerator
        assert_unchanged([o for o in base if o["kind"] != "Secret"], objs)
    assert set(executor_deployments(objs)) == {"executor-batches", "executor-codeintel"}
    assert_executor(objs, "executor-batches")
    codeintel = assert_executor(objs, "executor-codeintel")
    assert codeintel["spec"]["replicas"] == 2
    assert any(obj["kind"] == "NetworkPolicy" for obj in objs)


def test_demo_with_standalone_kustomize(kustomize, tool_env, demo_base, validate):
    result = render_demo(tool_env)
    out = assert_ok(result)
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "standalone kustomize v5." in result.stderr and "KRM exec" in result.stderr
    assert_demo(out, demo_base)
    validate(out)


def test_demo_with_kubectl_and_the_legacy_plugin(kubectl, tool_env, demo_base, validate, tmp_path):
    bin_dir = tmp_path.parent / f"{tmp_path.name}-bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").symlink_to(kubectl)
    path = os.pathsep.join([str(bin_dir), _path_without("kustomize", tool_env["PATH"])])
    env = {**tool_env, "PATH": path, "TMPDIR": str(tmp_path)}
    assert shutil.which("kustomize", path=path) is None
    result = render_demo(env)
    out = assert_ok(result)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "kubectl kustomize" in result.stderr and "legacy exec plugin" in result.stderr
    assert_demo(out, demo_base)
    validate(out)
    assert list(tmp_path.iterdir()) == [], "render.sh left its temporary plugin home behind"


def test_demo_with_executor_dind_render_alone(executor_dind, tool_env, demo_base, validate, tmp_path):
    # A PATH with a shell and executor-dind and nothing else: no kustomize, no kubectl.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "executor-dind").symlink_to(executor_dind)
    result = run([str(bin_dir / "sh"), str(OVERLAYS / "demo" / "render.sh")], env={"PATH": str(bin_dir)})
    out = assert_ok(result)
    # render does not run the base's secretGenerator: the function says the Secret is missing, and render.sh
    # which tool rendered the demo.
    *warnings, rendered_by = result.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in warnings] == [
        f"warning ExecutorDind/-/executors spec.frontend.passwordSecret in {OVERLAYS / 'demo' / 'executor-dind.yaml'}"
    ], result.stderr
    assert "executor-dind render" in rendered_by
    assert_demo(out, demo_base, generated_secret=False)
    validate(out)


def test_demo_without_executor_dind_says_so(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    result = run([str(bin_dir / "sh"), str(OVERLAYS / "demo" / "render.sh")], env={"PATH": str(bin_dir)})
    assert result.returncode != 0
    assert result.stdout == ""
    assert "executor-dind is not on PATH" in result.stderr


# -- plain components ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ["kubectl", "kustomize"])
def test_plain_components(tool, request, tool_env, demo_base, validate):
    binary = request.getfixturevalue(tool)
    directory = OVERLAYS / "plain-components"
    out = (
        kubectl_build(binary, directory, tool_env)
        if tool == "kubectl"
        else kustomize_build(binary, directory, tool_env)
    )
    objs = objects(out)
    new = assert_recommended(objs, demo_base, {"executor-all"})
    assert ("StatefulSet", "", "executor-dind-registry") in new
    daemon = json.loads(by_key(objs)[("ConfigMap", "", "executor-dind-docker")]["data"]["daemon.json"])
    assert daemon["registry-mirrors"] == ["http://executor-dind-registry:5000"]
    validate(out)


# -- KRM exec function in standalone kustomize ----------------------------------------------------------------


def test_krm_exec(kustomize, tool_env, demo_base, validate):
    out = kustomize_build(kustomize, OVERLAYS / "krm-exec", tool_env, "--enable-alpha-plugins", "--enable-exec")
    assert_recommended(objects(out), demo_base, {"executor-all"})
    assert "config.kubernetes.io" not in out and "config.k8s.io" not in out
    validate(out)


def test_kubectl_skips_a_krm_exec_function_silently(kubectl, tool_env, demo_base):
    """Why ../legacy-plugin exists: kubectl has no --enable-exec and drops the function without a word."""
    result = run([kubectl, "kustomize", "--enable-alpha-plugins", str(OVERLAYS / "krm-exec")], env=tool_env)
    out = assert_ok(result)
    assert executor_deployments(objects(out)) == {}
    assert by_key(objects(out)) == by_key(demo_base)


# -- legacy exec plugin ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ["kubectl", "kustomize"])
def test_legacy_plugin(tool, request, legacy_env, demo_base, validate):
    binary = request.getfixturevalue(tool)
    directory = OVERLAYS / "legacy-plugin"
    if tool == "kubectl":
        out = kubectl_build(binary, directory, legacy_env, "--enable-alpha-plugins")
    else:
        out = kustomize_build(binary, directory, legacy_env, "--enable-alpha-plugins")
    assert_recommended(objects(out), demo_base, {"executor-all"})
    validate(out)


def test_legacy_plugin_not_installed_fails_loudly(kubectl, tool_env, tmp_path):
    env = {**tool_env, "KUSTOMIZE_PLUGIN_HOME": str(tmp_path)}
    result = run([kubectl, "kustomize", "--enable-alpha-plugins", str(OVERLAYS / "legacy-plugin")], env=env)
    assert result.returncode != 0
    assert "ExecutorDind" in result.stderr or "executordind" in result.stderr


# -- every way, one result -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_ways(kustomize, kubectl, tool_env, plugin_home) -> dict[str, dict]:
    legacy_env = {**tool_env, "KUSTOMIZE_PLUGIN_HOME": str(plugin_home)}
    return {
        "krm-exec": by_key(
            objects(
                kustomize_build(kustomize, OVERLAYS / "krm-exec", tool_env, "--enable-alpha-plugins", "--enable-exec")
            )
        ),
        "legacy-plugin": by_key(
            objects(kubectl_build(kubectl, OVERLAYS / "legacy-plugin", legacy_env, "--enable-alpha-plugins"))
        ),
        "plain-components": by_key(objects(kubectl_build(kubectl, OVERLAYS / "plain-components", tool_env))),
    }


def test_krm_exec_and_legacy_plugin_agree(three_ways):
    assert three_ways["krm-exec"] == three_ways["legacy-plugin"]


def test_plain_components_equal_the_function(three_ways):
    """The components are generated from the function's model: same objects, same config checksum."""
    function = {k: normalized(v, checksum=True) for k, v in three_ways["krm-exec"].items()}
    components = {k: normalized(v, checksum=True) for k, v in three_ways["plain-components"].items()}
    assert components == function


def test_plain_components_daemon_json_is_byte_identical(three_ways):
    """kustomize trims a patch's text, so daemon.json has no final newline in the function either."""
    key = ("ConfigMap", "", "executor-dind-docker")
    assert three_ways["plain-components"][key]["data"] == three_ways["krm-exec"][key]["data"]


# -- executors in a namespace of their own ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def executors_namespace(kubectl, tool_env) -> list[dict]:
    return objects(kubectl_build(kubectl, OVERLAYS / "executors-namespace", tool_env))


def test_executors_namespace(executors_namespace, demo_base, validate):
    objs = executors_namespace
    index = by_key(objs)
    sourcegraph = [{**o, "metadata": {**o["metadata"], "namespace": "sourcegraph"}} for o in demo_base]
    assert_unchanged(sourcegraph, objs)
    namespace = index[("Namespace", "", EXECUTORS_NS)]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/warn"] == "baseline"
    assert [k for k in index if k[0] == "Namespace"] == [("Namespace", "", EXECUTORS_NS)]
    assert_executor(objs, "executor-all", namespace=EXECUTORS_NS, frontend_url=FQDN_URL)
    for (kind, ns, name), obj in index.items():
        if kind != "Namespace":
            assert ns in ("sourcegraph", EXECUTORS_NS), (kind, ns, name)
            executors_secret = kind == "Secret" and name.startswith("executor-secret-")
            assert (ns == EXECUTORS_NS) == (owned(obj) or (executors_secret and ns == EXECUTORS_NS)), (kind, name)
    policy = index[("NetworkPolicy", EXECUTORS_NS, "executor-dind-executors")]["spec"]
    sourcegraph_ns = {"matchLabels": {"kubernetes.io/metadata.name": "sourcegraph"}}
    assert policy["ingress"][0]["from"][0]["namespaceSelector"] == sourcegraph_ns
    frontend_rule = next(
        r
        for r in policy["egress"]
        if r["to"][0].get("podSelector", {}).get("matchLabels") == {"app": "sourcegraph-frontend"}
    )
    assert frontend_rule["to"][0]["namespaceSelector"] == sourcegraph_ns
    validate(yaml_stream(objs))


def yaml_stream(objs: list[dict]) -> str:
    return "---\n".join(yaml.safe_dump(obj) for obj in objs)


def test_executors_namespace_equals_the_function(executors_namespace, executor_dind, kubectl, tool_env, tmp_path):
    """The overlay's patches do what the function does for spec.namespace: sourcegraph-executors."""
    sourcegraph = tmp_path / "sourcegraph.yaml"
    sourcegraph.write_text(kubectl_build(kubectl, OVERLAYS / "executors-namespace" / "sourcegraph", tool_env))
    config = tmp_path / "config.yaml"
    spec = {"namespace": EXECUTORS_NS, "hardening": {"profile": "recommended", "podSecurity": {"enabled": True}}}
    config.write_text(executor_config(spec, krm=False))
    out = objects(assert_ok(run([executor_dind, "render", "--config", str(config), str(sourcegraph)], env=tool_env)))
    function = {k: normalized(v) for k, v in by_key(out).items() if owned(v)}
    overlay = {k: normalized(v) for k, v in by_key(executors_namespace).items() if owned(v)}
    assert overlay == function


def test_executors_part_builds_alone(kubectl, tool_env, validate):
    out = kubectl_build(kubectl, OVERLAYS / "executors-namespace" / "executors", tool_env)
    objs = objects(out)
    assert {o["metadata"].get("namespace", "") for o in objs if o["kind"] != "Namespace"} == {EXECUTORS_NS}
    assert_executor(objs, "executor-all", namespace=EXECUTORS_NS, frontend_url=FQDN_URL)
    validate(out)


# -- the READMEs say the exact commands -----------------------------------------------------------------------

READY = ["plain-components", "krm-exec", "legacy-plugin", "kpt", "executors-namespace"]


def readme_commands(overlay: str) -> list[str]:
    text = (OVERLAYS / overlay / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


@pytest.mark.parametrize("overlay", READY)
def test_readme_commands_work(overlay, request, tool_env, tmp_path):
    """Run the README's commands verbatim from the repository root: they print the executors and change
    nothing in the repository (install-plugin goes to a temporary KUSTOMIZE_PLUGIN_HOME)."""
    commands = readme_commands(overlay)
    assert commands, f"overlays/{overlay}/README.md has no ```sh block"
    for command in commands:
        tool = command.split()[0]
        if tool in ("kustomize", "kubectl", "kpt"):
            request.getfixturevalue(tool)
    env = {**tool_env, "KUSTOMIZE_PLUGIN_HOME": str(tmp_path / "plugins")}
    before = snapshot(OVERLAYS)
    result = run(["sh", "-e", "-c", "\n".join(commands)], env=env, cwd=ROOT)
    out = assert_ok(result)
    assert snapshot(OVERLAYS) == before
    # install-plugin prints where it put the plugin before the YAML.
    yaml_text = "\n".join(line for line in out.splitlines() if not line.startswith(str(tmp_path)))
    deployments = executor_deployments(objects(yaml_text))
    assert deployments, out
    for deployment in deployments.values():
        assert container(pod_spec(deployment), "dind")
