"""isolation: job: a KEDA ScaledJob per queue (one pod and one dockerd per job), its refusals, the controls on its
pods, the audit's view of it, and explain."""

from __future__ import annotations

import pytest

from executor_dind import function
from executor_dind.audit import audit
from executor_dind.autoscaling import jobs_query
from executor_dind.explain import explain
from executor_dind.plan import plan
from executor_dind.podspec import container, pod_spec

from .built import build
from .helpers import config, find, frontend_service, items, problems, render, replace, secret, spec

PROMETHEUS = "http://prometheus.sourcegraph.svc.cluster.local:30090"
SCALING = {"maxReplicas": 8, "prometheus": PROMETHEUS}
TEMPLATE = "spec.jobTargetRef.template.spec"


def per_job(**queue):
    return {"name": "batches", "isolation": "job", "autoscaling": SCALING, **queue}


def job_pod(obj):
    return obj["spec"]["jobTargetRef"]["template"]["spec"]


def test_a_job_queue_is_a_scaled_job_instead_of_a_deployment_and_a_scaled_object():
    objects = build(queues=[per_job(), {"name": "codeintel", "autoscaling": SCALING}])
    assert [(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] not in ("Service", "StatefulSet")] == [
        ("ServiceAccount", "executor-dind"),
        ("ConfigMap", "executor-dind-docker"),
        ("ScaledJob", "executor-batches"),
        ("Deployment", "executor-codeintel"),
        ("ScaledObject", "executor-codeintel"),
    ]
    job = find(objects, "ScaledJob", "executor-batches")
    assert job["apiVersion"] == "keda.sh/v1alpha1"
    spec_fields = {key: value for key, value in job["spec"].items() if key != "jobTargetRef"}
    assert spec_fields == {
        "pollingInterval": 15,
        "successfulJobsHistoryLimit": 0,
        "failedJobsHistoryLimit": 3,
        "maxReplicaCount": 8,
        "scalingStrategy": {"strategy": "default"},
        "rollout": {"strategy": "gradual"},
        "triggers": [
            {
                "type": "prometheus",
                "name": "jobs",
                "metadata": {
                    "serverAddress": PROMETHEUS,
                    "query": jobs_query(spec(queues=[per_job()]).queues[0]),
                    "threshold": "1",
                    "activationThreshold": "0",
                    "ignoreNullValues": "false",
                },
            }
        ],
    }
    target = {key: value for key, value in job["spec"]["jobTargetRef"].items() if key != "template"}
    # 5m dequeue window + 30m maximumRuntimePerJob + 600 s for the pod's start and end.
    assert target == {"parallelism": 1, "completions": 1, "backoffLimit": 0, "activeDeadlineSeconds": 2700}


def test_the_trigger_is_the_scaled_objects_but_for_one_job_per_pod_and_no_metric_type():
    shared = find(build(queues=[{"name": "batches", "autoscaling": SCALING}]), "ScaledObject", "executor-batches")
    job = find(build(queues=[per_job()]), "ScaledJob", "executor-batches")
    [shared_trigger] = shared["spec"]["triggers"]
    [job_trigger] = job["spec"]["triggers"]
    assert shared_trigger.pop("metricType") == "AverageValue"
    assert shared_trigger["metadata"].pop("threshold") == "4"  # maximumNumJobs
    assert job_trigger["metadata"].pop("threshold") == "1"
    assert job_trigger == shared_trigger


def test_the_pod_runs_one_job_and_ends_without_the_prune_sidecar():
    job = find(build(queues=[per_job()]), "ScaledJob", "executor-batches")
    shared = find(build(queues=[{"name": "batches", "autoscaling": SCALING}]), "Deployment", "executor-batches")
    pod = job_pod(job)
    assert pod["restartPolicy"] == "Never"
    assert [c["name"] for c in pod["initContainers"]] == ["dind"]
    assert pod["initContainers"][0]["restartPolicy"] == "Always"
    assert [c["name"] for c in pod["containers"]] == ["executor"]
    # Positive control: the shared Deployment of the same queue has the prune sidecar and no restartPolicy.
    assert [c["name"] for c in shared["spec"]["template"]["spec"]["initContainers"]] == ["dind", "docker-prune"]
    assert "restartPolicy" not in shared["spec"]["template"]["spec"]
    env = {var["name"]: var.get("value") for var in container(pod, "executor")["env"]}
    shared_env = {
        var["name"]: var.get("value") for var in container(shared["spec"]["template"]["spec"], "executor")["env"]
    }
    assert {name: env[name] for name in env if env[name] != shared_env.get(name)} == {
        "EXECUTOR_MAXIMUM_NUM_JOBS": "1",
        "EXECUTOR_NUM_TOTAL_JOBS": "1",
        "EXECUTOR_MAX_ACTIVE_TIME": "5m",
    }
    assert set(shared_env) - set(env) == set()
    assert job["spec"]["jobTargetRef"]["template"]["metadata"]["labels"] == {
        "app": "executor-batches",
        "app.kubernetes.io/component": "executor",
        "app.kubernetes.io/name": "executor",
        "app.kubernetes.io/part-of": "executor-dind",
    }


def test_the_deadline_follows_the_maximum_runtime():
    job = find(build(queues=[per_job()], maximumRuntimePerJob="2h"), "ScaledJob", "executor-batches")
    assert job["spec"]["jobTargetRef"]["activeDeadlineSeconds"] == 300 + 7200 + 600


@pytest.mark.parametrize(
    ("queue", "docker", "expected"),
    [
        (
            {"autoscaling": None},
            {},
            [
                (
                    "spec.queues[0].autoscaling",
                    "is required with isolation: job: KEDA creates a pod per queued job, at most "
                    "autoscaling.maxReplicas at once (e.g. autoscaling: {maxReplicas: 10})",
                )
            ],
        ),
        (
            {"autoscaling": {**SCALING, "minReplicas": 1, "jobsPerReplica": 2}, "maximumNumJobs": 2},
            {},
            [
                (
                    "spec.queues[0].autoscaling.minReplicas",
                    "must be 0 with isolation: job: a warm pod would idle until its dequeue window ends (with "
                    "isolation: job each pod takes one job and exits)",
                ),
                (
                    "spec.queues[0].autoscaling.jobsPerReplica",
                    "must be unset or 1 (with isolation: job each pod takes one job and exits)",
                ),
                (
                    "spec.queues[0].maximumNumJobs",
                    "must be unset or 1 (with isolation: job each pod takes one job and exits)",
                ),
            ],
        ),
        (
            {"recycle": {"afterJobs": 5}},
            {},
            [
                (
                    "spec.queues[0].recycle",
                    "must be unset: with isolation: job each pod takes one job and exits, so there is nothing "
                    "to recycle",
                )
            ],
        ),
        (
            {},
            {"nativeSidecar": False},
            [
                (
                    "spec.queues[0].isolation",
                    "job needs docker.nativeSidecar: true: a plain dind container never exits, so the Job never "
                    "completes; with the native sidecar the kubelet stops dind when the executor exits",
                )
            ],
        ),
    ],
)
def test_combinations_that_make_no_sense_in_job_mode_are_refused_at_their_field(queue, docker, expected):
    raw = {"queues": [{**per_job(), **queue}]}
    if docker:
        raw["docker"] = docker
    assert problems(raw) == expected
    # Positive control: the same fields in a shared queue, and the job queue alone, are accepted.
    shared = {**per_job(), **queue, "isolation": "shared"}
    if shared["autoscaling"] is None or not shared["autoscaling"].get("minReplicas"):
        spec(queues=[shared], **({"docker": docker} if docker else {}))
    spec(queues=[per_job(maximumNumJobs=1, autoscaling={**SCALING, "jobsPerReplica": 1})])


def test_isolation_is_shared_or_job():
    assert problems({"queues": [per_job(isolation="pod")]}) == [
        ("spec.queues[0].isolation", "must be one of shared, job, got 'pod'")
    ]


def test_every_control_applies_to_the_job_pods():
    objects = build(ns="executors", namespace="executors", queues=[per_job()], hardening={"profile": "strict"})
    job = find(objects, "ScaledJob", "executor-batches")
    pod = job_pod(job)
    assert pod["runtimeClassName"] == "gvisor"
    assert pod["nodeSelector"] == {"executor-dind.dev/untrusted": "true"}
    assert pod["tolerations"] == [
        {"key": "executor-dind.dev/untrusted", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    assert pod["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchLabels": {
            "app": "executor-batches",
            "app.kubernetes.io/name": "executor",
            "app.kubernetes.io/part-of": "executor-dind",
        }
    }
    dind = container(pod, "dind")
    assert dind["securityContext"]["privileged"] is False
    assert dind["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # The NetworkPolicy selects the job's pods by their labels; PSA labels their namespace.
    policy = find(objects, "NetworkPolicy", "executor-dind-executors")
    labels = job["spec"]["jobTargetRef"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    namespace = find(objects, "Namespace", "executors")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_the_audit_judges_the_scaled_job_with_every_rule():
    inputs = (frontend_service("sourcegraph"), secret())
    rendered = render(*inputs, queues=[per_job()], hardening={"profile": "recommended"})
    clean = [(r.rule, r.resource.describe()) for r in audit(rendered) if r.rule and r.severity == "error"]
    assert clean == []
    job = find(rendered, "ScaledJob", "executor-batches")
    assert pod_spec(job)[1] == TEMPLATE
    executor = container(job_pod(job), "executor")
    executor["securityContext"] = {"privileged": True}
    del job["spec"]["maxReplicaCount"]
    broken = [
        (r.rule, r.resource.describe(), r.field_path)
        for r in audit(replace(rendered, job))
        if r.severity == "error" or r.rule == "EXD011"
    ]
    assert sorted(broken) == [
        ("EXD007", "ScaledJob/sourcegraph/executor-batches", f"{TEMPLATE}.containers[0].securityContext"),
        ("EXD011", "ScaledJob/sourcegraph/executor-batches", "spec.maxReplicaCount"),
    ]


def test_the_audit_judges_the_scaled_jobs_pods_against_the_network_policy():
    rendered = render(
        frontend_service("sourcegraph"), secret(), queues=[per_job()], hardening={"profile": "recommended"}
    )
    network = [(r.rule, r.resource.describe()) for r in audit(rendered) if r.rule and r.rule.startswith("EXD3")]
    assert network == []
    without = [item for item in rendered if item.kind != "NetworkPolicy"]
    found = [
        (r.rule, r.field_path)
        for r in audit(without)
        if r.rule and r.rule.startswith("EXD3") and r.resource.describe().startswith("ScaledJob/")
    ]
    assert sorted(found) == [
        ("EXD301", "spec.jobTargetRef.template.metadata.labels"),
        ("EXD304", "spec.jobTargetRef.template.metadata.labels"),
    ]


def test_the_function_audits_its_own_scaled_job():
    rendered = render(frontend_service("sourcegraph"), secret(), queues=[per_job()])
    assert function.self_audit(spec(queues=[per_job()]), rendered) == []
    job = find(rendered, "ScaledJob", "executor-batches")
    container(job_pod(job), "executor")["securityContext"] = {"privileged": True}
    found = function.self_audit(spec(queues=[per_job()]), replace(rendered, job))
    assert [(r.rule, r.resource.describe(), r.severity) for r in found] == [
        ("EXD007", "ScaledJob/sourcegraph/executor-batches", "error")
    ]
    assert found[0].message.startswith("the render fails its own audit: the executor container needs no privileges")


def test_switching_a_queue_to_job_mode_prunes_its_deployment_and_scaled_object():
    inputs = (frontend_service("sourcegraph"), secret())
    shared = render(*inputs, queues=[{"name": "batches", "autoscaling": SCALING}])
    assert {(i.kind, i.name) for i in shared} >= {
        ("Deployment", "executor-batches"),
        ("ScaledObject", "executor-batches"),
    }
    switched = function.run(shared, config(queues=[per_job()]))
    assert not switched.failed
    kinds = {(i.kind, i.name) for i in switched.items if i.name == "executor-batches"}
    assert kinds == {("ScaledJob", "executor-batches")}
    back = function.run(switched.items, config(queues=[{"name": "batches", "autoscaling": SCALING}]))
    assert {(i.kind, i.name) for i in back.items if i.name == "executor-batches"} == {
        ("Deployment", "executor-batches"),
        ("ScaledObject", "executor-batches"),
    }


def test_explain_shows_the_mode_of_each_queue():
    raw = {"queues": [per_job(), {"name": "codeintel", "replicas": 2}]}
    planned = plan(spec(**raw), items(frontend_service("sourcegraph")))
    lines = explain(spec(**raw), planned, "text").splitlines()
    assert "  ScaledJob/sourcegraph/executor-batches" in lines
    assert lines[lines.index("queues:") + 1 : lines.index("images:")] == [
        "  executor-batches: batches; isolation job: a fresh pod and dockerd per job, no prune sidecar (nothing "
        "outlives the job); KEDA ScaledJob: a new Job per queued job no pod has yet, at most 8 at once "
        f"(Prometheus {PROMETHEUS})",
        "  executor-codeintel: codeintel; isolation shared; 2 replica(s) x 4 job(s)",
    ]


def test_the_docs_blocks_are_the_render():
    from pathlib import Path

    import yaml

    page = (Path(__file__).resolve().parents[2] / "docs" / "isolation.md").read_text()

    def block(marker: str) -> str:
        return page.split(f"<!-- {marker} -->\n```yaml\n")[1].split("```")[0]

    prometheus = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "prometheus", "namespace": "monitoring"},
        "spec": {"ports": [{"name": "http", "port": 30090}]},
    }
    outcome = function.run(
        items(frontend_service("sourcegraph"), secret(), prometheus),
        yaml.safe_load(block("used by tests: isolation config")),
    )
    assert not outcome.failed, [r.line() for r in outcome.results]
    rendered = find(outcome.items, "ScaledJob", "executor-batches")["spec"]
    assert rendered["jobTargetRef"].pop("template")["spec"]["restartPolicy"] == "Never"
    assert yaml.safe_load(block("used by tests: isolation ScaledJob")) == rendered
