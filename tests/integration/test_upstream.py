"""Acceptance on the real deploy-sourcegraph-k8s base: every base object comes out semantically unchanged and
the executors come in, whichever way executor-dind runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import run
from integration.util import (
    COMPONENTS,
    added,
    assert_executor,
    assert_failed,
    assert_ok,
    assert_unchanged,
    by_key,
    executor_config,
    executor_deployments,
    objects,
    owned,
    relpath,
    write_kustomization,
)

pytestmark = pytest.mark.integration

SPEC = {"hardening": {"profile": "recommended"}}


def upstream_overlay(
    tmp_path: Path, upstream: Path, name: str, *, base: str = "base/sourcegraph", components=(), **fields
) -> Path:
    """A temporary overlay whose paths into the upstream checkout are relative (kustomize refuses absolute)."""
    directory = tmp_path / name
    directory.mkdir(parents=True)
    if components:
        fields["components"] = [relpath(component, directory) for component in components]
    return write_kustomization(directory, resources=[relpath(upstream / base, directory)], **fields)


def upstream_dind(upstream: Path) -> Path:
    return upstream / "components" / "executors" / "dind"


@pytest.fixture(scope="module")
def base_objects(upstream, kubectl, tmp_path_factory) -> list[dict]:
    directory = upstream_overlay(tmp_path_factory.mktemp("plain"), upstream, "plain")
    objs = objects(assert_ok(run([kubectl, "kustomize", str(directory)])))
    assert len(objs) > 30 and ("Service", "", "sourcegraph-frontend") in by_key(objs)
    return objs


def assert_accepted(objs: list[dict], base: list[dict]) -> None:
    assert_unchanged(base, objs)
    new = added(base, objs)
    assert new and all(owned(obj) for obj in new.values()), sorted(new)
    assert set(executor_deployments(objs)) == {"executor-all"}
    deployment = assert_executor(objs, "executor-all")
    assert deployment["spec"]["template"]["spec"]["nodeSelector"]
    policy = by_key(objs)[("NetworkPolicy", "", "executor-dind-executors")]
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/part-of"] == "executor-dind"


def test_krm_exec_over_the_upstream_base(upstream, kustomize, tool_env, base_objects, validate, tmp_path):
    directory = upstream_overlay(tmp_path, upstream, "krm", transformers=["executor-dind.yaml"])
    (directory / "executor-dind.yaml").write_text(executor_config(SPEC, krm=True))
    command = [kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(directory)]
    out = assert_ok(run(command, env=tool_env))
    assert_accepted(objects(out), base_objects)
    validate(out)


@pytest.mark.parametrize("tool", ["kubectl", "kustomize"])
def test_legacy_plugin_over_the_upstream_base(tool, request, upstream, legacy_env, base_objects, validate, tmp_path):
    binary = request.getfixturevalue(tool)
    directory = upstream_overlay(tmp_path, upstream, "legacy", transformers=["executor-dind.yaml"])
    (directory / "executor-dind.yaml").write_text(executor_config(SPEC, krm=False))
    command = [binary, "kustomize"] if tool == "kubectl" else [binary, "build"]
    out = assert_ok(run([*command, "--enable-alpha-plugins", str(directory)], env=legacy_env))
    assert_accepted(objects(out), base_objects)
    validate(out)


def test_resource_list_over_the_upstream_base(executor_dind, tool_env, base_objects, validate):
    """The KRM path directly: the items come back as the text they went in, the executors after them."""
    config = yaml.safe_load(executor_config(SPEC, krm=False))
    head = yaml.safe_dump(
        {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": base_objects}, sort_keys=False
    )
    resource_list = head + yaml.safe_dump({"functionConfig": config}, sort_keys=False)
    result = run([executor_dind], input=resource_list, env=tool_env)
    out = assert_ok(result)
    assert out.startswith(head.rstrip("\n")), "the input items did not come back byte for byte"
    document = yaml.safe_load(out)
    assert document["apiVersion"] == "config.kubernetes.io/v1" and document["kind"] == "ResourceList"
    assert document["functionConfig"] == config
    items = document["items"]
    assert items[: len(base_objects)] == base_objects
    assert_accepted(items, base_objects)
    severities = {r.get("severity", "error") for r in document.get("results") or []}
    assert "error" not in severities
    validate(yaml.safe_dump_all(items))

    document.pop("results", None)
    again = run([executor_dind], input=yaml.safe_dump(document, sort_keys=False), env=tool_env)
    assert yaml.safe_load(assert_ok(again))["items"] == items, "a second run over its own output changed it"


@pytest.mark.parametrize("tool", ["kubectl", "kustomize"])
def test_plain_components_over_the_upstream_base(tool, request, upstream, base_objects, validate, tmp_path):
    binary = request.getfixturevalue(tool)
    components = [
        COMPONENTS / "executor-dind",
        COMPONENTS / "executor-dind" / "private-registry",
        COMPONENTS / "hardening" / "node-pool",
        COMPONENTS / "hardening" / "network-policy",
    ]
    directory = upstream_overlay(tmp_path, upstream, "components", components=components)
    command = [binary, "kustomize"] if tool == "kubectl" else [binary, "build"]
    out = assert_ok(run([*command, str(directory)]))
    assert_accepted(objects(out), base_objects)
    validate(out)


def test_whole_upstream_base_with_monitoring(upstream, kustomize, kubectl, tool_env, validate, tmp_path):
    """base/ (Sourcegraph and its monitoring, Prometheus included), not only base/sourcegraph."""
    plain = upstream_overlay(tmp_path, upstream, "plain", base="base")
    before = objects(assert_ok(run([kubectl, "kustomize", str(plain)])))
    assert ("Deployment", "", "prometheus") in by_key(before)
    directory = upstream_overlay(tmp_path, upstream, "krm", base="base", transformers=["executor-dind.yaml"])
    (directory / "executor-dind.yaml").write_text(executor_config(SPEC, krm=True))
    out = assert_ok(run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(directory)], env=tool_env))
    assert_accepted(objects(out), before)
    validate(out)


def test_upstream_executors_component_is_a_conflict(upstream, kustomize, tool_env, tmp_path):
    """Input that already has the upstream components/executors/dind: an error naming the fix."""
    directory = upstream_overlay(
        tmp_path,
        upstream,
        "conflict",
        components=[upstream_dind(upstream)],
        transformers=["executor-dind.yaml"],
    )
    (directory / "executor-dind.yaml").write_text(executor_config(SPEC, krm=True))
    result = run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(directory)], env=tool_env)
    output = assert_failed(result)
    assert "replaceUpstream" in output and "Deployment/executor" in output, output


def test_replace_upstream_removes_the_upstream_executors(
    upstream, kustomize, kubectl, tool_env, base_objects, tmp_path
):
    plain = upstream_overlay(tmp_path, upstream, "with-upstream", components=[upstream_dind(upstream)])
    with_upstream = objects(assert_ok(run([kubectl, "kustomize", str(plain)])))
    upstream_only = [obj for obj in with_upstream if obj not in base_objects]
    assert ("Deployment", "", "executor") in by_key(upstream_only)
    directory = upstream_overlay(
        tmp_path,
        upstream,
        "replace",
        components=[upstream_dind(upstream)],
        transformers=["executor-dind.yaml"],
    )
    (directory / "executor-dind.yaml").write_text(executor_config({**SPEC, "replaceUpstream": True}, krm=True))
    out = assert_ok(run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(directory)], env=tool_env))
    objs = objects(out)
    assert not set(by_key(upstream_only)) & set(by_key(objs)), "upstream executor objects are left"
    assert_accepted(objs, base_objects)
