"""Autoscaled renders against a real kube-apiserver v1.37.2 with KEDA's own CRDs (from the KEDA Go module that
tools/keda pins): the ScaledObjects are accepted in one server-side pass and stored as rendered, a second apply
changes nothing, the server-side diff is empty, and the Deployments leave spec.replicas to KEDA (our field manager
does not own it, so a re-apply never resets what KEDA's HPA set). A ScaledObject with a field KEDA's schema does
not declare is rejected by the API server."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import missing
from runtime.controlplane import ControlPlane
from runtime.harness import ROOT, find, render, sh
from runtime.test_dind import PROFILES

KEDA_MODULE = "github.com/kedacore/keda/v2"
MANAGER = "edr-runtime"  # ControlPlane.apply's field manager
PROMETHEUS = "http://prometheus.sourcegraph.svc.cluster.local:30090"  # the baseline render knows no namespace
QUEUES = [
    {"name": "batches", "maximumNumJobs": 4, "autoscaling": {"maxReplicas": 10, "prometheus": PROMETHEUS}},
    {
        "name": "codeintel",
        "autoscaling": {"maxReplicas": 3, "minReplicas": 1, "jobsPerReplica": 2, "prometheus": PROMETHEUS},
    },
]
ALL = [{"name": "all", "queueNames": ["batches", "codeintel"], "autoscaling": {"maxReplicas": 3}}]
CASES = {
    "baseline": {**PROFILES["baseline"], "queues": QUEUES},
    "recommended": {**PROFILES["recommended"], "queues": QUEUES},
    "strict": {**PROFILES["strict"], "queues": QUEUES},
    "strict-multiqueue": {**PROFILES["strict"], "queues": ALL},
}
DEPLOYMENTS = {
    "baseline": ["executor-batches", "executor-codeintel"],
    "recommended": ["executor-batches", "executor-codeintel"],
    "strict": ["executor-batches", "executor-codeintel"],
    "strict-multiqueue": ["executor-all"],
}


# The strict render's Namespace enforces `privileged` and warns at `baseline` (its label says so): the API server
# warns once per request that carries the dind pod template; the other renders do not label a namespace.
PSA_WARNING = (
    'Warning: would violate PodSecurity "baseline:latest": non-default capabilities (container "dind" must not '
    'include "NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_PTRACE" in securityContext.capabilities.add)\n'
)


def warnings(case: str) -> str:
    return PSA_WARNING if case.startswith("strict") else ""


def keda_crds() -> list[Path]:
    """KEDA's CRDs as its pinned Go module ships them, from the Go module cache (`make tools` fills it when it
    builds tools/keda); GOPROXY=off: the test itself never downloads."""
    env = {**os.environ, "GOPROXY": "off", "GOSUMDB": "off", "GOFLAGS": "-mod=mod"}
    try:
        listed = sh(["go", "mod", "download", "-json", KEDA_MODULE], cwd=ROOT / "tools" / "keda", env=env, timeout=60)
    except FileNotFoundError:
        missing("go is not installed: the KEDA CRDs come from the KEDA Go module")
    if listed.returncode != 0:
        missing(f"the KEDA module is not in the Go module cache (`make tools` builds tools/keda): {listed.stdout}")
    bases = Path(json.loads(listed.stdout)["Dir"]) / "config" / "crd" / "bases"
    crds = sorted(bases.glob("*.yaml"))
    assert bases / "keda.sh_scaledobjects.yaml" in crds, f"no ScaledObject CRD in {bases}"
    return crds


def install_crds(cluster: ControlPlane) -> list[str]:
    names = []
    for path in keda_crds():
        applied = cluster.apply(path.read_text())
        assert applied.returncode == 0, applied.stderr
        names.append(yaml.safe_load(path.read_text())["metadata"]["name"])
    established = cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in names], timeout=90
    )
    assert established.returncode == 0, established.stderr
    return names


def key(o: dict[str, Any]) -> str:
    return f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"


def resource(o: dict[str, Any]) -> str:
    """How kubectl names an object: kind.group/name."""
    group = o["apiVersion"].rpartition("/")[0]
    return f"{o['kind'].lower()}{'.' + group if group else ''}/{o['metadata']['name']}"


def versions(cluster: ControlPlane, text: str) -> dict[str, str]:
    listing = cluster.kubectl("get", "-f", "-", "-o", "json", stdin=text)
    assert listing.returncode == 0, listing.stderr
    doc = json.loads(listing.stdout)
    return {key(o): o["metadata"]["resourceVersion"] for o in doc.get("items", [doc])}


class Applied:
    def __init__(self, case: str, cluster: ControlPlane, objects: list[dict[str, Any]], first: Any, crds: list[str]):
        self.case, self.cluster, self.objects, self.first, self.crds = case, cluster, objects, first, crds
        self.text = yaml.safe_dump_all(objects, sort_keys=False)
        self.namespace = find(objects, "Deployment")["metadata"].get("namespace", "default")


@pytest.fixture(scope="module", params=list(CASES))
def applied(request, janitor, executor_dind, tmp_path_factory) -> Applied:
    """A fresh cluster with KEDA's CRDs and nothing else, then the render applied once, server-side."""
    case = request.param
    directory = tmp_path_factory.mktemp(f"keda-{case}")
    (directory / "plane").mkdir()
    cluster = ControlPlane(janitor, directory / "plane").start()
    try:
        crds = install_crds(cluster)
        objects = render(executor_dind, CASES[case], directory, case)
        text = yaml.safe_dump_all(objects, sort_keys=False)
        namespaces = {o["metadata"].get("namespace") for o in objects} - {None, "default"}
        declared = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
        assert namespaces <= declared, "the render declares every namespace it uses"
        first = cluster.apply(text)
        yield Applied(case, cluster, objects, first, crds)
    finally:
        cluster.stop()


def test_one_server_side_pass(applied: Applied) -> None:
    assert (applied.first.returncode, applied.first.stderr) == (0, warnings(applied.case))
    assert applied.first.stdout.splitlines() == [f"{resource(o)} serverside-applied" for o in applied.objects]
    scaled = sorted(o["metadata"]["name"] for o in applied.objects if o["kind"] == "ScaledObject")
    assert scaled == DEPLOYMENTS[applied.case]
    print(f"{applied.case}: {len(applied.objects)} objects applied in one pass, KEDA CRDs {applied.crds}")


def test_scaled_objects_stored_as_rendered(applied: Applied) -> None:
    for rendered in (o for o in applied.objects if o["kind"] == "ScaledObject"):
        meta = rendered["metadata"]
        stored = applied.cluster.get_json("scaledobject.keda.sh", meta["name"], "-n", applied.namespace)
        assert stored["apiVersion"] == "keda.sh/v1alpha1"
        # Nothing pruned, nothing defaulted: KEDA's schema declares every field the render sets.
        assert stored["spec"] == rendered["spec"]
        assert stored["metadata"]["labels"] == meta["labels"]
        assert stored["metadata"]["annotations"] == meta["annotations"]
        target = stored["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", meta["name"])


def test_second_apply_and_diff_change_nothing(applied: Applied) -> None:
    before = versions(applied.cluster, applied.text)
    assert len(before) == len(applied.objects)
    again = applied.cluster.apply(applied.text)
    assert (again.returncode, again.stderr) == (0, warnings(applied.case))
    assert versions(applied.cluster, applied.text) == before
    diff = applied.cluster.kubectl("diff", "--server-side", f"--field-manager={MANAGER}", "-f", "-", stdin=applied.text)
    assert (diff.returncode, diff.stdout, diff.stderr) == (0, "", warnings(applied.case))


def owned_spec_fields(deployment: dict[str, Any], manager: str) -> list[str]:
    entries = [e for e in deployment["metadata"]["managedFields"] if e["manager"] == manager]
    assert [e["operation"] for e in entries] == ["Apply"]
    return sorted(entries[0]["fieldsV1"]["f:spec"])


def test_replicas_are_left_to_keda(applied: Applied) -> None:
    cluster, namespace = applied.cluster, applied.namespace
    for name in DEPLOYMENTS[applied.case]:
        rendered = find(applied.objects, "Deployment", name)
        assert "replicas" not in rendered["spec"]
        stored = cluster.get_json("deployment", name, "-n", namespace, "--show-managed-fields")
        assert stored["spec"]["replicas"] == 1  # the API server's default, owned by nobody
        owned = owned_spec_fields(stored, MANAGER)
        assert "f:replicas" not in owned
        assert owned == sorted(f"f:{field}" for field in rendered["spec"])
        # What KEDA's HPA does (the scale subresource, another manager); our re-apply leaves it alone.
        scaled = cluster.kubectl("scale", "deployment", name, "-n", namespace, "--replicas=3")
        assert scaled.returncode == 0, scaled.stderr
    again = cluster.apply(applied.text)
    assert (again.returncode, again.stderr) == (0, warnings(applied.case))
    for name in DEPLOYMENTS[applied.case]:
        assert cluster.get_json("deployment", name, "-n", namespace)["spec"]["replicas"] == 3
    diff = cluster.kubectl("diff", "--server-side", f"--field-manager={MANAGER}", "-f", "-", stdin=applied.text)
    assert (diff.returncode, diff.stdout, diff.stderr) == (0, "", warnings(applied.case))


# Where the misspelt field goes, its name, and how the API server names its path.
TYPOS = {
    "spec": (("spec",), "pollingIntervalSeconds", "spec.pollingIntervalSeconds"),  # KEDA's is pollingInterval
    "trigger": (("spec", "triggers", 0), "metadataa", "spec.triggers[0].metadataa"),
}


@pytest.mark.parametrize("typo", list(TYPOS))
def test_unknown_field_rejected_by_keda_schema(applied: Applied, typo: str) -> None:
    path, field, where = TYPOS[typo]
    bad = copy.deepcopy(next(o for o in applied.objects if o["kind"] == "ScaledObject"))
    name = bad["metadata"]["name"] = "executor-typo"
    parent = bad
    for step in path:
        parent = parent[step]
    parent[field] = 15
    rejected = applied.cluster.apply(json.dumps(bad))
    assert (rejected.returncode, rejected.stdout) == (1, "")
    assert rejected.stderr.strip() == (
        f"Error from server: failed to create typed patch object ({applied.namespace}/{name}; "
        f"keda.sh/v1alpha1, Kind=ScaledObject): .{where}: field not declared in schema"
    )
    created = applied.cluster.kubectl("create", "-f", "-", stdin=json.dumps(bad))
    assert (created.returncode, created.stdout) == (1, "")
    assert created.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": ScaledObject in version "v1alpha1" cannot be '
        f'handled as a ScaledObject: strict decoding error: unknown field "{where}"'
    )
    absent = applied.cluster.kubectl("get", "scaledobject.keda.sh", name, "-n", applied.namespace)
    assert absent.returncode == 1
