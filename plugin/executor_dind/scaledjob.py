"""The KEDA ScaledJob of a queue with `isolation: job`: a fresh pod, and a fresh dockerd, for every job.

The executor takes one job (EXECUTOR_NUM_TOTAL_JOBS=1, EXECUTOR_MAXIMUM_NUM_JOBS=1) and exits; the native-sidecar
dind ends with it, and the Job's pod goes with its scratch and Docker state. KEDA's `default` scaling strategy
creates min(maxReplicaCount, ceil(metric / threshold)) - (unfinished Jobs) new Jobs at each poll. The metric is
autoscaling's query, queued plus running jobs, with threshold 1: running jobs sit in unfinished Jobs, so what
KEDA adds is the queued jobs minus the pods started but not yet holding one. (`accurate` would subtract only
pending pods from a queue that excludes running jobs; our query counts them, so `default` is the exact one.)

A pod that starts while another took its job stops dequeuing after DEQUEUE_WINDOW (EXECUTOR_MAX_ACTIVE_TIME) and
exits, so no pod idles; the Job's deadline covers that window, the job's runtime and the pod's start.
"""

from __future__ import annotations

from executor_dind import values
from executor_dind.autoscaling import API_VERSION, POLLING_SECONDS, jobs_trigger
from executor_dind.deployment import executor_metadata, executor_pod_template
from executor_dind.spec import Recycle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.discovery import Context
    from executor_dind.spec import Queue, Spec

KIND = "ScaledJob"
# How long a per-job executor dequeues before it gives up: the job it was started for is usually dequeued
# within seconds; if another pod took it, this one exits instead of idling.
DEQUEUE_WINDOW = "5m"
# The pod's start before the executor dequeues (scheduling, pulls of the executor and dind images, dockerd's
# start) and its end after the job (the executor's upload of logs, the sidecar's stop).
START_AND_END_SECONDS = 600
# Finished Jobs KEDA keeps (with their pods): none that succeeded, since the job's logs are in Sourcegraph and the
# pod holds the job's Docker state; a few that failed, to read why.
SUCCESSFUL_JOBS_KEPT = 0
FAILED_JOBS_KEPT = 3


def job_queue(queue: Queue) -> Queue:
    """The queue as a per-job pod's executor runs it: one job at a time, one job in all, dequeuing for a while."""
    return queue._replace(maximum_num_jobs=1, recycle=Recycle(after_jobs=1, after_time=DEQUEUE_WINDOW))


def active_deadline_seconds(spec: Spec) -> int:
    """The Job's deadline: the dequeue window, the job's maximum runtime, and the pod's start and end."""
    return (
        values.duration_seconds(DEQUEUE_WINDOW)
        + values.duration_seconds(spec.maximum_runtime_per_job)
        + START_AND_END_SECONDS
    )


def scaled_job(spec: Spec, queue: Queue, context: Context, daemon_json: str) -> dict[str, Any]:
    scaling = queue.autoscaling
    assert scaling is not None and queue.isolation == "job"
    # The prune sidecar is left out: a pod that lives one job has nothing to prune for a next one.
    template = executor_pod_template(spec, job_queue(queue), context, daemon_json, prune=False)
    template["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": executor_metadata(spec, queue, context),
        "spec": {
            "jobTargetRef": {
                "parallelism": 1,
                "completions": 1,
                # A failed job is Sourcegraph's to retry (it re-queues it), never a second pod's.
                "backoffLimit": 0,
                "activeDeadlineSeconds": active_deadline_seconds(spec),
                "template": template,
            },
            "pollingInterval": POLLING_SECONDS,
            "successfulJobsHistoryLimit": SUCCESSFUL_JOBS_KEPT,
            "failedJobsHistoryLimit": FAILED_JOBS_KEPT,
            "maxReplicaCount": scaling.max_replicas,
            "scalingStrategy": {"strategy": "default"},
            # `immediate` (KEDA's default) deletes the running Jobs when the ScaledJob changes: their jobs die.
            "rollout": {"strategy": "gradual"},
            "triggers": [jobs_trigger(queue, context)],
        },
    }
