"""Every render against a real kube-apiserver v1.37.2: one-pass server-side apply to an empty cluster, a second
apply that changes nothing, an empty server-side diff, server-side dry-run, and Pod Security Admission."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from runtime.controlplane import ControlPlane
from runtime.harness import ROOT, find, ok, render
from runtime.test_dind import PROFILES

OVERLAYS = ("plain-components", "executors-namespace")  # the overlays that build without a plugin
CASES = [
    pytest.param("baseline", id="render-baseline"),
    pytest.param("recommended", id="render-recommended"),
    pytest.param("strict", id="render-strict"),
    *[pytest.param(f"overlay:{name}", id=f"overlay-{name}") for name in OVERLAYS],
]


def given_namespaces(cluster: ControlPlane, text: str) -> None:
    """The namespaces a stream's objects go to but it does not declare (Sourcegraph's own): they exist before."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    declared = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
    used = {d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")}
    for name in sorted(used - declared - {"default"}):
        assert cluster.kubectl("create", "namespace", name).returncode == 0


def stream(case: str, executor_dind: str, directory: Path) -> str:
    if case.startswith("overlay:"):
        return ok(["kubectl", "kustomize", str(ROOT / "overlays" / case.split(":", 1)[1])])
    return yaml.safe_dump_all(render(executor_dind, PROFILES[case], directory, case), sort_keys=False)


@pytest.fixture
def cluster(janitor, tmp_path) -> ControlPlane:
    """An empty cluster for each test: a fresh etcd and API server."""
    (tmp_path / "plane").mkdir()
    plane = ControlPlane(janitor, tmp_path / "plane").start()
    yield plane
    plane.stop()


def versions(cluster: ControlPlane, text: str) -> dict[str, str]:
    listing = cluster.kubectl("get", "-f", "-", "-o", "json", stdin=text)
    assert listing.returncode == 0, listing.stderr
    doc = json.loads(listing.stdout)
    items = doc.get("items", [doc])
    return {
        f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
        for o in items
    }


def applied_lines(text: str) -> list[str]:
    """What `kubectl apply --server-side` prints for a stream applied to an empty cluster, in stream order."""
    lines = []
    for doc in (d for d in yaml.safe_load_all(text) if d):
        group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
        resource = doc["kind"].lower() + (f".{group}" if group else "")
        lines.append(f"{resource}/{doc['metadata']['name']} serverside-applied")
    return lines


@pytest.mark.parametrize("case", [c.values[0] for c in CASES], ids=[c.id for c in CASES])
def test_one_pass_apply(case, cluster, executor_dind, tmp_path) -> None:
    """One pass to an empty cluster: cluster-scoped prerequisites (Namespace, RuntimeClass) come first."""
    text = stream(case, executor_dind, tmp_path)
    given_namespaces(cluster, text)
    first = cluster.apply(text)
    # The executors' Namespace warns at baseline (by design: enforce privileged, warn/audit baseline).
    warned = {"strict": "strict", "overlay:executors-namespace": "baseline"}.get(case)
    expected = f"Warning: would {PSA_REJECTED[warned].replace('violates', 'violate', 1)}\n" if warned else ""
    assert (first.returncode, first.stderr) == (0, expected)
    assert first.stdout.splitlines() == applied_lines(text)


@pytest.mark.parametrize("case", [c.values[0] for c in CASES], ids=[c.id for c in CASES])
def test_second_apply_and_diff_change_nothing(case, cluster, executor_dind, tmp_path) -> None:
    text = stream(case, executor_dind, tmp_path)
    given_namespaces(cluster, text)
    assert cluster.apply(text).returncode == 0
    before = versions(cluster, text)
    again = cluster.apply(text)
    assert again.returncode == 0, again.stderr
    assert versions(cluster, text) == before
    diff = cluster.kubectl("diff", "--server-side", "--field-manager=edr-runtime", "-f", "-", stdin=text)
    assert (diff.returncode, diff.stdout) == (0, ""), diff.stderr


@pytest.mark.parametrize("case", [c.values[0] for c in CASES], ids=[c.id for c in CASES])
def test_server_side_dry_run(case, cluster, executor_dind, tmp_path) -> None:
    text = stream(case, executor_dind, tmp_path)
    given_namespaces(cluster, text)
    docs = [d for d in yaml.safe_load_all(text) if d]
    prerequisites = [d for d in docs if d["kind"] in ("Namespace", "RuntimeClass")]
    if prerequisites:
        assert cluster.apply(yaml.safe_dump_all(prerequisites)).returncode == 0
    result = cluster.apply(text, "--dry-run=server")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(docs)


def pod_of(objects: list[dict], namespace: str) -> dict:
    template = copy.deepcopy(find(objects, "Deployment")["spec"]["template"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "psa-probe", "namespace": namespace,
            "labels": template["metadata"]["labels"]}, "spec": template["spec"]}  # fmt: skip


FORBIDDEN = 'Error from server (Forbidden): error when creating "STDIN": pods "psa-probe" is forbidden: '
PSA_REJECTED = {
    "baseline": 'violates PodSecurity "baseline:latest": privileged (container "dind" must not set '
    "securityContext.privileged=true)",
    "recommended": 'violates PodSecurity "baseline:latest": privileged (container "dind" must not set '
    "securityContext.privileged=true)",
    "strict": 'violates PodSecurity "baseline:latest": non-default capabilities (container "dind" must not '
    'include "NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_PTRACE" in securityContext.capabilities.add)',
}


@pytest.mark.parametrize("profile", PROFILES)
def test_pod_security_admission(profile, cluster, executor_dind, tmp_path) -> None:
    objects = render(executor_dind, PROFILES[profile], tmp_path, profile)
    text = yaml.safe_dump_all(objects)
    assert cluster.apply(text).returncode == 0
    runtime_class = find(objects, "Deployment")["spec"]["template"]["spec"].get("runtimeClassName")
    if runtime_class:  # the nodes' RuntimeClass (GKE Sandbox provides `gvisor`; the render does not create it)
        node_class = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": runtime_class},
                      "handler": "runsc"}  # fmt: skip
        assert cluster.apply(json.dumps(node_class)).returncode == 0
    namespace = next((o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"), "default")
    admitted = cluster.kubectl("create", "--dry-run=server", "-f", "-", stdin=json.dumps(pod_of(objects, namespace)))
    assert admitted.returncode == 0, admitted.stderr
    assert admitted.stdout.strip() == "pod/psa-probe created (server dry run)"

    strict_ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "psa-baseline", "labels": {
        "pod-security.kubernetes.io/enforce": "baseline"}}}  # fmt: skip
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "executor-dind", "namespace":
               "psa-baseline"}}  # fmt: skip
    assert cluster.apply(json.dumps(strict_ns)).returncode == 0
    assert cluster.apply(json.dumps(account)).returncode == 0
    rejected = cluster.kubectl("create", "-f", "-", stdin=json.dumps(pod_of(objects, "psa-baseline")))
    assert rejected.returncode == 1
    assert rejected.stderr.strip() == FORBIDDEN + PSA_REJECTED[profile]


def test_missing_runtime_class_is_rejected(cluster, executor_dind, tmp_path) -> None:
    objects = render(executor_dind, PROFILES["strict"], tmp_path, "strict")
    assert (
        cluster.apply(yaml.safe_dump_all([find(objects, "Namespace"), find(objects, "ServiceAccount")])).returncode == 0
    )
    pod = pod_of(objects, find(objects, "Namespace")["metadata"]["name"])
    rejected = cluster.kubectl("create", "-f", "-", stdin=json.dumps(pod))
    assert rejected.returncode == 1
    runtime_class = pod["spec"]["runtimeClassName"]
    assert rejected.stderr.strip() == (FORBIDDEN + f'pod rejected: RuntimeClass "{runtime_class}" not found')
