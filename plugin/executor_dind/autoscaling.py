"""The KEDA ScaledObject of an autoscaled queue: its jobs, queued plus running, in one Prometheus query.

Sourcegraph's worker exports `src_executor_total{queue}` (queued and errored jobs, the same database count from
every worker replica: `max` keeps one of them); executors report `src_executor_processor_handlers{queue}` (jobs
they are running, one series per executor: `sum`), a multi-queue executor under the sorted queue names joined by
`_`. Each term falls back to `vector(0)`: with no executor running (scaled to zero) the running term has no
series, and an empty operand would make the whole sum empty, so an empty queue and a full one would look alike.

KEDA wants ceil(jobs / jobsPerReplica) pods (the HPA's AverageValue target), activates the Deployment at more
than 0 jobs and scales it to minReplicas once none is queued or running for a cooldown. A scale-down deletes a
pod: the executor stops dequeuing on SIGTERM and finishes its running jobs within the grace period, which the
spec check holds to at least maximumRuntimePerJob; the HPA behaviour removes at most one pod a minute after a
five-minute window, so a short dip in the queue does not drain executors that would be needed again.
"""

from __future__ import annotations

from executor_dind.naming import deployment_name, object_metadata

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.discovery import Context
    from executor_dind.spec import Queue

API_VERSION = "keda.sh/v1alpha1"
KIND = "ScaledObject"
POLLING_SECONDS = 15
COOLDOWN_SECONDS = 300
SCALE_DOWN_WINDOW_SECONDS = 300
# Failed queries in a row before KEDA falls back; it then never scales below the current count.
FALLBACK_FAILURES = 3


def queue_label(queue: Queue) -> str:
    """The `queue` label of the executors' own metrics: the queue names sorted, joined by `_`."""
    return "_".join(sorted(queue.names))


def jobs_query(queue: Queue) -> str:
    """Queued plus running jobs of the queue, as one series whatever the number of worker replicas."""
    names = sorted(queue.names)
    selector = f'queue="{names[0]}"' if len(names) == 1 else f'queue=~"{"|".join(names)}"'
    queued = f"sum(max by (queue) (src_executor_total{{{selector}}}))"
    running = f'sum(src_executor_processor_handlers{{queue="{queue_label(queue)}"}})'
    return f"({queued} or vector(0)) + ({running} or vector(0))"


def jobs_per_replica(queue: Queue) -> int:
    scaling = queue.autoscaling
    assert scaling is not None
    if queue.isolation == "job":
        return 1  # a per-job pod takes one job and exits
    return scaling.jobs_per_replica or queue.maximum_num_jobs


def prometheus_address(queue: Queue, context: Context) -> str:
    scaling = queue.autoscaling
    assert scaling is not None
    return scaling.prometheus or context.prometheus_url


def rule(queue: Queue) -> str:
    """The scaling rule in words, for explain."""
    scaling = queue.autoscaling
    assert scaling is not None
    if queue.isolation == "job":
        return f"KEDA ScaledJob: a new Job per queued job no pod has yet, at most {scaling.max_replicas} at once"
    return (
        f"KEDA: ceil((queued + running jobs) / {jobs_per_replica(queue)}) pods in "
        f"{scaling.min_replicas}..{scaling.max_replicas}"
    )


def jobs_trigger(queue: Queue, context: Context, metric_type: str = "") -> dict[str, Any]:
    """The Prometheus trigger on the queue's jobs, queued plus running: a ScaledObject's (with its metricType)
    and a ScaledJob's (KEDA's ScaledJob has none: it divides by the threshold itself)."""
    return {
        "type": "prometheus",
        "name": "jobs",
        **({"metricType": metric_type} if metric_type else {}),
        "metadata": {
            "serverAddress": prometheus_address(queue, context),
            "query": jobs_query(queue),
            "threshold": str(jobs_per_replica(queue)),
            "activationThreshold": "0",
            # No result at all is Prometheus failing (the query always has a value): an error KEDA reports
            # (toward a ScaledObject's fallback) instead of reading it as an empty queue.
            "ignoreNullValues": "false",
        },
    }


def scaled_object(queue: Queue, context: Context) -> dict[str, Any]:
    scaling = queue.autoscaling
    assert scaling is not None
    name = deployment_name(queue)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": object_metadata(
            name, context, annotations={"description": f"scales {name} on the jobs of {', '.join(queue.names)}"}
        ),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "pollingInterval": POLLING_SECONDS,
            "cooldownPeriod": COOLDOWN_SECONDS,
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "fallback": {
                "failureThreshold": FALLBACK_FAILURES,
                "replicas": max(scaling.min_replicas, 1),
                # Never below the pods already running: a Prometheus outage must not drain busy executors.
                "behavior": "currentReplicasIfHigher",
            },
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    # KEDA's default `keda-hpa-<name>` would pass 63 characters for long queue names.
                    "name": name,
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": SCALE_DOWN_WINDOW_SECONDS,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                        },
                    },
                },
            },
            "triggers": [jobs_trigger(queue, context, metric_type="AverageValue")],
        },
    }
