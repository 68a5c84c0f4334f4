"""The kustomize protocols against the real binaries: errors reach the user, annotations do not leak, and the
checked-in components are what the model generates."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from conftest import run
from integration.util import (
    COMPONENTS,
    DEMO_BASE,
    assert_executor,
    assert_failed,
    assert_ok,
    by_key,
    executor_config,
    objects,
    relpath,
    snapshot,
    write_kustomization,
)

pytestmark = pytest.mark.integration

BAD_SPEC = {"hardening": {"profil": "strict"}}


def overlay(tmp_path: Path, config: str, name: str = "overlay") -> Path:
    """A temporary overlay over the demo base with one transformer config."""
    directory = write_kustomization(
        tmp_path / name, resources=[relpath(DEMO_BASE, tmp_path / name)], transformers=["executor-dind.yaml"]
    )
    (directory / "executor-dind.yaml").write_text(config)
    return directory


def assert_config_error(output: str) -> None:
    assert "spec.hardening.profil" in output and "'profile'" in output, output


def test_bad_config_fails_krm_exec(kustomize, tool_env, tmp_path):
    directory = overlay(tmp_path, executor_config(BAD_SPEC, krm=True))
    result = run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(directory)], env=tool_env)
    assert_config_error(assert_failed(result))
    assert result.stdout == ""


@pytest.mark.parametrize("tool", ["kubectl", "kustomize"])
def test_bad_config_fails_legacy_plugin(tool, request, legacy_env, tmp_path):
    binary = request.getfixturevalue(tool)
    directory = overlay(tmp_path, executor_config(BAD_SPEC, krm=False))
    command = [binary, "kustomize"] if tool == "kubectl" else [binary, "build"]
    result = run([*command, "--enable-alpha-plugins", str(directory)], env=legacy_env)
    assert_config_error(assert_failed(result))
    assert result.stdout == ""


def test_an_error_result_is_not_swallowed(kustomize, tool_env, tmp_path):
    """An error found after parsing (podSecurity without a namespace of its own) also fails the build."""
    spec = {"hardening": {"podSecurity": {"enabled": True}}}
    directory = overlay(tmp_path, executor_config(spec, krm=True))
    result = run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(directory)], env=tool_env)
    output = assert_failed(result)
    assert "spec.namespace" in output and "podSecurity" in output, output


# -- path annotations: what kustomize sends, and what it strips -----------------------------------------------


def test_kustomize_sends_no_path_annotations_and_none_come_out(kustomize, tool_env, tmp_path):
    """Under kustomize the input items carry no path annotations, so the function adds none to new items
    (function.upsert); and none reach the output."""
    directory = overlay(tmp_path, executor_config({}, krm=True))
    out = assert_ok(run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(directory)], env=tool_env))
    assert_executor(objects(out), "executor-all")
    for annotation in ("config.kubernetes.io/", "config.k8s.io/", "kustomize.config.k8s.io/"):
        assert annotation not in out


PROBE = """#!{python}
# Records its input and adds an item with path and index annotations, in both protocols.
import os, sys, yaml
data = sys.stdin.read()
open(os.environ["PROBE_RECORD"], "w").write(data)
new = {{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "probe", "annotations": {{
    "config.kubernetes.io/path": "probe/probe.yaml", "internal.config.kubernetes.io/path": "probe/probe.yaml",
    "config.kubernetes.io/index": "0", "internal.config.kubernetes.io/index": "0"}}}}}}
if len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):
    docs = [d for d in yaml.safe_load_all(data) if d] + [new]
    sys.stdout.write(yaml.safe_dump_all(docs))
else:
    resource_list = yaml.safe_load(data)
    resource_list["items"] = (resource_list.get("items") or []) + [new]
    sys.stdout.write(yaml.safe_dump(resource_list))
"""


@pytest.mark.parametrize("mode", ["krm-exec", "legacy-kustomize", "legacy-kubectl"])
def test_kustomize_strips_path_annotations_of_new_items(mode, request, tool_env, tmp_path):
    """The experiment behind function.upsert's rule: kustomize sends no path annotations (KRM exec: index and
    id only; legacy: only kustomize.config.k8s.io/id), and strips path and index annotations from items a
    plugin adds, in every mode. So under kustomize the rule only saves work; it matters for `render`, where
    nothing would strip them."""
    tool = "kubectl" if mode == "legacy-kubectl" else "kustomize"
    binary = request.getfixturevalue(tool)
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE.format(python=sys.executable))
    probe.chmod(0o755)
    home = tmp_path / "home"
    (home / "probe.dev" / "v1" / "probe").mkdir(parents=True)
    (home / "probe.dev" / "v1" / "probe" / "Probe").symlink_to(probe)
    config = {"apiVersion": "probe.dev/v1", "kind": "Probe", "metadata": {"name": "probe"}}
    if mode == "krm-exec":
        config["metadata"]["annotations"] = {"config.kubernetes.io/function": f"exec:\n  path: {probe}\n"}
    directory = overlay(tmp_path, yaml.safe_dump(config))
    record = tmp_path / "record.yaml"
    env = {**tool_env, "KUSTOMIZE_PLUGIN_HOME": str(home), "PROBE_RECORD": str(record)}
    flags = ["--enable-alpha-plugins", *(["--enable-exec"] if mode == "krm-exec" else [])]
    command = [binary, "kustomize"] if tool == "kubectl" else [binary, "build"]
    out = assert_ok(run([*command, *flags, str(directory)], env=env))
    sent = record.read_text()
    assert "config.kubernetes.io/path" not in sent
    assert "kustomize.config.k8s.io/id" in sent
    assert ("internal.config.kubernetes.io/index" in sent) == (mode == "krm-exec")
    probe_obj = by_key(objects(out))[("ConfigMap", "", "probe")]
    assert "annotations" not in probe_obj["metadata"], probe_obj
    assert "config.kubernetes.io" not in out


def test_render_adds_no_path_annotations(executor_dind, tool_env, tmp_path):
    """Standalone render has no orchestrator to strip annotations: none are added."""
    config = tmp_path / "config.yaml"
    config.write_text(executor_config({}, krm=False))
    manifests = [str(path) for path in sorted(DEMO_BASE.glob("*.yaml")) if path.name != "kustomization.yaml"]
    out = assert_ok(run([executor_dind, "render", "--config", str(config), *manifests], env=tool_env))
    assert "config.kubernetes.io/path" not in out and "internal.config.kubernetes.io" not in out
    assert_executor(objects(out), "executor-all")


# -- the checked-in components and configs ---------------------------------------------------------------------


def test_components_do_not_drift(executor_dind, tool_env, tmp_path):
    """components/ is generated (`executor-dind components --write components`): regenerate and compare."""
    target = tmp_path / "components"
    assert_ok(run([executor_dind, "components", "--write", str(target)], env=tool_env))
    generated = {p: data for p, data in snapshot(target).items() if p.endswith(".yaml")}
    checked_in = {p: data for p, data in snapshot(COMPONENTS).items() if p.endswith(".yaml")}
    missing, extra = sorted(set(generated) - set(checked_in)), sorted(set(checked_in) - set(generated))
    assert not missing and not extra, f"not checked in: {missing}; stale: {extra}; run `make components`"
    stale = [path for path in generated if generated[path] != checked_in[path]]
    assert stale == [], f"components/ drifted from the model in {stale}: run `make components`"
