"""isolation: job renders against a real kube-apiserver v1.37.2 with KEDA's own CRDs (test_keda.py's set-up): the
ScaledJob is accepted in one server-side pass and stored as rendered, a second apply and the server-side diff
change nothing, a misspelt field of its Job template is rejected by the API server, and the Job KEDA would create
from its jobTargetRef passes the API server's own batch/v1 validation (server-side dry run), with its native
sidecar and restartPolicy Never.

What only a real kubelet can show is not here (docs/isolation.md lists it): dind stopped when the executor exits,
the Job complete, and the pod and its emptyDirs deleted by KEDA's history limits."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from runtime.controlplane import ControlPlane
from runtime.harness import find, render
from runtime.test_dind import PROFILES
from runtime.test_keda import MANAGER, PSA_WARNING, install_crds, resource, versions

QUEUES = [
    {"name": "batches", "isolation": "job", "autoscaling": {"maxReplicas": 8}},
    {"name": "all", "queueNames": ["batches", "codeintel"], "isolation": "job", "autoscaling": {"maxReplicas": 3}},
]
SPEC = {**PROFILES["strict"], "queues": QUEUES}
# Pod Security Admission judges the pod templates of the kinds it knows: a ScaledJob's is not one of them, so its
# apply draws no warning; the Job KEDA creates from it does (its dry run below), and the namespace enforces
# `privileged` as for Deployments.
NO_WARNING = ""


class Applied:
    def __init__(self, cluster: ControlPlane, objects: list[dict[str, Any]], first: Any) -> None:
        self.cluster, self.objects, self.first = cluster, objects, first
        self.text = yaml.safe_dump_all(objects, sort_keys=False)
        self.namespace = find(objects, "ScaledJob")["metadata"]["namespace"]


@pytest.fixture(scope="module")
def applied(janitor, executor_dind, tmp_path_factory) -> Applied:
    """A fresh cluster with KEDA's CRDs and nothing else, then the strict job-mode render applied once."""
    directory = tmp_path_factory.mktemp("keda-jobs")
    (directory / "plane").mkdir()
    cluster = ControlPlane(janitor, directory / "plane").start()
    try:
        install_crds(cluster)
        objects = render(executor_dind, SPEC, directory, "jobs")
        yield Applied(cluster, objects, cluster.apply(yaml.safe_dump_all(objects, sort_keys=False)))
    finally:
        cluster.stop()


def test_one_server_side_pass(applied: Applied) -> None:
    assert (applied.first.returncode, applied.first.stderr) == (0, NO_WARNING)
    assert applied.first.stdout.splitlines() == [f"{resource(o)} serverside-applied" for o in applied.objects]
    kinds = sorted(
        (o["kind"], o["metadata"]["name"])
        for o in applied.objects
        if o["metadata"]["name"] in ("executor-batches", "executor-all")
    )
    assert kinds == [("ScaledJob", "executor-all"), ("ScaledJob", "executor-batches")]
    print(f"{len(applied.objects)} objects applied in one pass: " + ", ".join(resource(o) for o in applied.objects))


def test_scaled_jobs_stored_as_rendered(applied: Applied) -> None:
    for rendered in (o for o in applied.objects if o["kind"] == "ScaledJob"):
        meta = rendered["metadata"]
        stored = applied.cluster.get_json("scaledjob.keda.sh", meta["name"], "-n", applied.namespace)
        # Nothing pruned, nothing defaulted: KEDA's schema (with batch/v1's JobSpec) declares every field.
        assert stored["spec"] == rendered["spec"]
        assert stored["metadata"]["labels"] == meta["labels"]
        assert stored["metadata"]["annotations"] == meta["annotations"]


def test_second_apply_and_diff_change_nothing(applied: Applied) -> None:
    before = versions(applied.cluster, applied.text)
    assert len(before) == len(applied.objects)
    again = applied.cluster.apply(applied.text)
    assert (again.returncode, again.stderr) == (0, NO_WARNING)
    assert versions(applied.cluster, applied.text) == before
    diff = applied.cluster.kubectl("diff", "--server-side", f"--field-manager={MANAGER}", "-f", "-", stdin=applied.text)
    assert (diff.returncode, diff.stdout, diff.stderr) == (0, "", NO_WARNING)


def test_a_misspelt_job_template_field_is_rejected(applied: Applied) -> None:
    bad = copy.deepcopy(find(applied.objects, "ScaledJob", "executor-batches"))
    name = bad["metadata"]["name"] = "executor-typo"
    bad["spec"]["jobTargetRef"]["backoffLimits"] = 0
    rejected = applied.cluster.apply(json.dumps(bad))
    assert (rejected.returncode, rejected.stdout) == (1, "")
    assert rejected.stderr.strip() == (
        f"Error from server: failed to create typed patch object ({applied.namespace}/{name}; "
        "keda.sh/v1alpha1, Kind=ScaledJob): .spec.jobTargetRef.backoffLimits: field not declared in schema"
    )
    absent = applied.cluster.kubectl("get", "scaledjob.keda.sh", name, "-n", applied.namespace)
    assert absent.returncode == 1


def job_of(scaled_job: dict[str, Any], name: str) -> dict[str, Any]:
    """The Job KEDA creates from a ScaledJob: its jobTargetRef as the Job's spec (KEDA adds labels and owner)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": scaled_job["metadata"]["namespace"]},
        "spec": copy.deepcopy(scaled_job["spec"]["jobTargetRef"]),
    }


def test_the_job_keda_creates_passes_the_api_servers_validation(applied: Applied) -> None:
    scaled_job = find(applied.objects, "ScaledJob", "executor-batches")
    job = job_of(scaled_job, "executor-batches-dry-run")
    created = applied.cluster.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", stdin=json.dumps(job))
    assert created.returncode == 0, created.stderr
    assert created.stderr == PSA_WARNING
    stored = json.loads(created.stdout)
    pod = stored["spec"]["template"]["spec"]
    assert (pod["restartPolicy"], stored["spec"]["backoffLimit"]) == ("Never", 0)
    assert [(c["name"], c.get("restartPolicy")) for c in pod["initContainers"]] == [("dind", "Always")]
    assert stored["spec"]["activeDeadlineSeconds"] == scaled_job["spec"]["jobTargetRef"]["activeDeadlineSeconds"]
    assert pod["runtimeClassName"] == "gvisor"
    # Negative control: a plain (non-sidecar) restartPolicy the batch API refuses for a Job's pod.
    job["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    refused = applied.cluster.kubectl("create", "--dry-run=server", "-f", "-", stdin=json.dumps(job))
    assert refused.returncode == 1
    assert 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"' in refused.stderr
