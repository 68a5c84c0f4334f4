"""Helpers for the integration tests: parse what the real tools print, and assert on objects, not text."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "overlays"
DEMO_BASE = OVERLAYS / "demo" / "base"
COMPONENTS = ROOT / "components"
OWNER = ("app.kubernetes.io/part-of", "executor-dind")
CHECKSUM = "executor-dind.dev/config-checksum"
Key = tuple[str, str, str]


def assert_ok(result: subprocess.CompletedProcess) -> str:
    """The command's stdout; a failure shows the command and everything it said."""
    assert result.returncode == 0, (
        f"{' '.join(map(str, result.args))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result.stdout


def assert_failed(result: subprocess.CompletedProcess) -> str:
    """stdout and stderr of a command that must have failed."""
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode != 0, f"{' '.join(map(str, result.args))} succeeded:\n{output}"
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    return output


def objects(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")


def by_key(objs: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    index = {key(obj): obj for obj in objs}
    assert len(index) == len(objs), f"duplicate objects: {sorted(key(o) for o in objs)}"
    return index


def labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def owned(obj: dict[str, Any]) -> bool:
    return labels(obj).get(OWNER[0]) == OWNER[1]


def assert_unchanged(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """Every object of `before` is in `after`, semantically equal (same kind, namespace, name, content)."""
    out = by_key(after)
    for obj in before:
        assert key(obj) in out, f"{key(obj)} is missing from the output"
        assert out[key(obj)] == obj, f"{key(obj)} was changed"


def added(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    known = {key(obj) for obj in before}
    return {key(obj): obj for obj in after if key(obj) not in known}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def container(spec: dict[str, Any], name: str) -> tuple[str, dict[str, Any]] | None:
    for field in ("containers", "initContainers"):
        for candidate in spec.get(field) or []:
            if candidate.get("name") == name:
                return field, candidate
    return None


def env(container_obj: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container_obj.get("env") or []}


def executor_deployments(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        obj["metadata"]["name"]: obj
        for obj in objs
        if obj.get("kind") == "Deployment" and container(pod_spec(obj), "dind") and container(pod_spec(obj), "executor")
    }


def assert_executor(
    objs: list[dict[str, Any]],
    name: str,
    *,
    namespace: str = "",
    frontend_url: str = "http://sourcegraph-frontend:30080",
    native_sidecar: bool = True,
) -> dict[str, Any]:
    """The executor Deployment `name`: an executor container and a dind sidecar sharing /scratch, the frontend
    URL, and a password Secret that exists beside it in the output (kustomize rewrote a generated name)."""
    index = by_key(objs)
    deployment = index.get(("Deployment", namespace, name))
    assert deployment is not None, f"no Deployment {namespace}/{name} in {sorted(index)}"
    spec = pod_spec(deployment)
    executor = container(spec, "executor")
    dind = container(spec, "dind")
    assert executor is not None and executor[0] == "containers", spec
    assert dind is not None, spec
    if native_sidecar:
        assert dind[0] == "initContainers" and dind[1].get("restartPolicy") == "Always", dind
    else:
        assert dind[0] == "containers", dind
    for _, c in (executor, dind):
        assert any(m["mountPath"] == "/scratch" for m in c.get("volumeMounts") or []), c
    variables = env(executor[1])
    assert variables["EXECUTOR_FRONTEND_URL"] == frontend_url
    assert variables["DOCKER_HOST"] == "tcp://127.0.0.1:2375"
    secret = variables["EXECUTOR_FRONTEND_PASSWORD"]["secretKeyRef"]["name"]
    secrets = [k for k in index if k[0] == "Secret" and k[1] == namespace]
    if secrets:
        assert ("Secret", namespace, secret) in index, f"{name} references Secret {secret}, output has {secrets}"
    assert not (executor[1].get("securityContext") or {}).get("privileged")
    assert (executor[1].get("securityContext") or {}).get("runAsNonRoot") is True
    assert "deploy" not in (deployment["spec"]["template"]["metadata"].get("labels") or {})
    assert deployment["spec"]["template"]["metadata"]["annotations"].get(CHECKSUM)
    return deployment


def normalized(obj: dict[str, Any], *, checksum: bool = False) -> dict[str, Any]:
    """An object with what may legitimately differ between two ways of rendering the same spec made equal:
    daemon.json as parsed JSON, a generated Secret's hash suffix and, unless `checksum`, the config checksum
    (a patch that changes the env cannot update it)."""
    obj = json.loads(json.dumps(obj))
    if obj.get("kind") == "ConfigMap" and "daemon.json" in (obj.get("data") or {}):
        obj["data"]["daemon.json"] = json.loads(obj["data"]["daemon.json"])
    template = (obj.get("spec") or {}).get("template") or {}
    if not checksum:
        (template.get("metadata") or {}).get("annotations", {}).pop(CHECKSUM, None)
    text = re.sub(r'"executor-secret-[a-z0-9]{10}"', '"executor-secret"', json.dumps(obj))
    return json.loads(text)


def relpath(target: Path, start: Path) -> str:
    """A relative path from start to target: kustomize refuses absolute paths in `resources:`."""
    return Path(os.path.relpath(target, start)).as_posix()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_kustomization(directory: Path, **fields: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **fields}
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return directory


def executor_config(spec: dict[str, Any], *, krm: bool, local_config: bool = False) -> str:
    """An ExecutorDind config: with the KRM exec function annotation (krm) or without (legacy plugin)."""
    annotations: dict[str, str] = {}
    if krm:
        annotations["config.kubernetes.io/function"] = "exec:\n  path: executor-dind\n"
    if local_config:
        annotations["config.kubernetes.io/local-config"] = "true"
    metadata: dict[str, Any] = {"name": "executors"}
    if annotations:
        metadata["annotations"] = annotations
    doc = {"apiVersion": "executor-dind.dev/v1alpha1", "kind": "ExecutorDind", "metadata": metadata, "spec": spec}
    return yaml.safe_dump(doc, sort_keys=False)


def write_kptfile(package: Path, name: str, pipeline: dict[str, Any]) -> None:
    """A local-config Kptfile named `name` with `pipeline` in the package."""
    kptfile = {
        "apiVersion": "kpt.dev/v1",
        "kind": "Kptfile",
        "metadata": {"name": name, "annotations": {"config.kubernetes.io/local-config": "true"}},
        "pipeline": pipeline,
    }
    (package / "Kptfile").write_text(yaml.safe_dump(kptfile, sort_keys=False))


def upstream_dind_package(upstream: Path, package: Path, pipeline: dict[str, Any]) -> Path:
    """A kpt package of the upstream dind component's manifests (not its kustomization.yaml) and `pipeline`."""
    import shutil

    package.mkdir()
    for manifest in sorted((upstream / "components" / "executors" / "dind").glob("*.yaml")):
        if manifest.name != "kustomization.yaml":
            shutil.copy(manifest, package / manifest.name)
    write_kptfile(package, package.name, pipeline)
    return package


def function_and_identity_packages(
    root: Path, upstream: Path, config: dict[str, Any], edit: Any = None
) -> dict[str, Path]:
    """Two kpt packages of the upstream base (edited by `edit` if given): one whose pipeline runs executor-dind
    with `config`, one running the identity function `cat` instead, for byte-for-byte comparisons."""
    import shutil

    packages = {}
    for name, executable in (("function", "executor-dind"), ("identity", "cat")):
        package = root / name
        shutil.copytree(upstream / "base" / "sourcegraph", package)
        if edit is not None:
            edit(package)
        (package / "executor-dind-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        write_kptfile(package, name, {"mutators": [{"exec": executable, "configPath": "executor-dind-config.yaml"}]})
        packages[name] = package
    return packages
