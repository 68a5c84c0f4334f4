"""autoscaling: the KEDA ScaledObject of an autoscaled queue, its query, and what it does to the Deployment."""

from __future__ import annotations

import pytest

from executor_dind.autoscaling import jobs_query, queue_label, rule
from executor_dind.plan import plan_for

from .built import build
from .helpers import context, find, spec

PROMETHEUS = "http://prometheus.sourcegraph.svc.cluster.local:30090"


def scaled(**queue):
    return build(queues=[{"name": "batches", "autoscaling": {"maxReplicas": 10, "prometheus": PROMETHEUS}, **queue}])


def test_the_scaled_object_of_a_queue():
    objects = scaled()
    assert find(objects, "ScaledObject", "executor-batches") == {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": "executor-batches",
            "namespace": "sourcegraph",
            "labels": {
                "deploy": "sourcegraph",
                "sourcegraph-resource-requires": "no-cluster-admin",
                "app.kubernetes.io/component": "executor",
                "app.kubernetes.io/part-of": "executor-dind",
            },
            "annotations": {"description": "scales executor-batches on the jobs of batches"},
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "executor-batches"},
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "minReplicaCount": 0,
            "maxReplicaCount": 10,
            "fallback": {"failureThreshold": 3, "replicas": 1, "behavior": "currentReplicasIfHigher"},
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "name": "executor-batches",
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": 300,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                        }
                    },
                }
            },
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "jobs",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": PROMETHEUS,
                        "query": '(sum(max by (queue) (src_executor_total{queue="batches"})) or vector(0)) + '
                        '(sum(src_executor_processor_handlers{queue="batches"}) or vector(0))',
                        "threshold": "4",
                        "activationThreshold": "0",
                        "ignoreNullValues": "false",
                    },
                }
            ],
        },
    }


def test_an_autoscaled_deployment_leaves_replicas_to_keda():
    objects = scaled(replicas=3)
    assert "replicas" not in find(objects, "Deployment", "executor-batches")["spec"]
    # Without autoscaling, the fixed count stays and there is no ScaledObject.
    fixed = build(queues=[{"name": "batches", "replicas": 3}])
    assert find(fixed, "Deployment", "executor-batches")["spec"]["replicas"] == 3
    assert [o for o in fixed if o["kind"] == "ScaledObject"] == []


def test_jobs_per_replica_min_replicas_and_the_fallback():
    objects = build(
        queues=[
            {
                "name": "batches",
                "maximumNumJobs": 8,
                "autoscaling": {"maxReplicas": 5, "minReplicas": 2, "jobsPerReplica": 3, "prometheus": PROMETHEUS},
            }
        ]
    )
    scaled_object = find(objects, "ScaledObject", "executor-batches")["spec"]
    assert (scaled_object["minReplicaCount"], scaled_object["maxReplicaCount"]) == (2, 5)
    assert scaled_object["fallback"]["replicas"] == 2
    assert scaled_object["triggers"][0]["metadata"]["threshold"] == "3"
    # jobsPerReplica defaults to maximumNumJobs
    default = build(
        queues=[{"name": "batches", "maximumNumJobs": 8, "autoscaling": {"maxReplicas": 5, "prometheus": PROMETHEUS}}]
    )
    assert find(default, "ScaledObject", "executor-batches")["spec"]["triggers"][0]["metadata"]["threshold"] == "8"


def test_a_multi_queue_executor_counts_both_queues_and_its_joined_label():
    queue = spec(queues=[{"name": "all", "queueNames": ["codeintel", "batches"]}]).queues[0]
    assert queue_label(queue) == "batches_codeintel"
    assert jobs_query(queue) == (
        '(sum(max by (queue) (src_executor_total{queue=~"batches|codeintel"})) or vector(0)) + '
        '(sum(src_executor_processor_handlers{queue="batches_codeintel"}) or vector(0))'
    )


def test_the_prometheus_address_comes_from_the_context_unless_given():
    raw = {"queues": [{"name": "batches", "autoscaling": {"maxReplicas": 2}}]}
    derived = "http://prometheus.monitoring.svc.cluster.local:9090"
    planned = plan_for(spec(**raw), context()._replace(prometheus_url=derived))
    assert (
        find(list(planned.objects), "ScaledObject", "executor-batches")["spec"]["triggers"][0]["metadata"][
            "serverAddress"
        ]
        == derived
    )
    # without one, a located error asks for it
    failed = plan_for(spec(**raw), context())
    assert [(r.severity, r.field_path) for r in failed.results] == [("error", "spec.queues[0].autoscaling.prometheus")]
    assert failed.objects == ()


def test_the_rule_in_words():
    queue = spec(queues=[{"name": "batches", "autoscaling": {"maxReplicas": 10, "minReplicas": 1}}]).queues[0]
    assert rule(queue) == "KEDA: ceil((queued + running jobs) / 4) pods in 1..10"


@pytest.mark.parametrize(
    "autoscaling, path, message",
    [
        ({}, "spec.queues[0].autoscaling.maxReplicas", "is required"),
        ({"maxReplicas": 0}, "spec.queues[0].autoscaling.maxReplicas", "must be between 1 and 1000"),
        ({"maxReplicas": 1001}, "spec.queues[0].autoscaling.maxReplicas", "must be between 1 and 1000"),
        (
            {"maxReplicas": 2, "minReplicas": 3},
            "spec.queues[0].autoscaling.minReplicas",
            "must be at most maxReplicas (2)",
        ),
        (
            {"maxReplicas": 2, "jobsPerReplica": 5},
            "spec.queues[0].autoscaling.jobsPerReplica",
            "must be between 1 and maximumNumJobs (4): a pod takes no more jobs than that",
        ),
        (
            {"maxReplicas": 2, "jobsPerReplica": 0},
            "spec.queues[0].autoscaling.jobsPerReplica",
            "must be between 1 and maximumNumJobs (4): a pod takes no more jobs than that",
        ),
        (
            {"maxReplicas": 2, "prometheus": "prometheus:9090"},
            "spec.queues[0].autoscaling.prometheus",
            "'prometheus:9090' is not scheme://host[:port] (e.g. http://sourcegraph-frontend:30080)",
        ),
        (
            {"maxReplicas": 2, "maxReplica": 3},
            "spec.queues[0].autoscaling.maxReplica",
            "unknown field (did you mean 'maxReplicas'?)",
        ),
    ],
)
def test_autoscaling_problems(autoscaling, path, message):
    from .helpers import problems

    assert problems({"queues": [{"name": "batches", "autoscaling": autoscaling}]}) == [(path, message)]


def test_a_grace_period_shorter_than_a_job_is_refused_with_autoscaling():
    from .helpers import problems

    raw = {"terminationGracePeriodSeconds": 600, "queues": [{"name": "batches", "autoscaling": {"maxReplicas": 2}}]}
    assert problems(raw) == [
        (
            "spec.queues[0].autoscaling",
            "KEDA scales executors down while they run jobs: terminationGracePeriodSeconds (600) must cover "
            "maximumRuntimePerJob (30m = 1800s), or every scale-down kills running jobs; raise it or leave it unset",
        )
    ]
    # without autoscaling it stays the audit's warning (EXD008), as before
    assert spec(terminationGracePeriodSeconds=600).grace_period_seconds == 600


def test_a_queue_shared_with_another_deployment_is_a_warning():
    raw = {
        "queues": [
            {"name": "batches", "autoscaling": {"maxReplicas": 2, "prometheus": PROMETHEUS}},
            {"name": "all", "queueNames": ["batches", "codeintel"]},
            {"name": "codeintel", "autoscaling": {"maxReplicas": 2, "prometheus": PROMETHEUS}},
        ]
    }
    planned = plan_for(spec(**raw), context())
    assert [(r.severity, r.field_path, r.message) for r in planned.results] == [
        (
            "warning",
            "spec.queues[0].autoscaling",
            "executor-batches scales on the queued jobs of batches, which executor-all also serves: each Deployment "
            "scales up for the same jobs; serve each queue from one Deployment when it is autoscaled",
        ),
        (
            "warning",
            "spec.queues[2].autoscaling",
            "executor-codeintel scales on the queued jobs of codeintel, which executor-all also serves: each "
            "Deployment scales up for the same jobs; serve each queue from one Deployment when it is autoscaled",
        ),
    ]
    assert planned.objects  # a warning: the render goes on
