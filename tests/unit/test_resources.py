"""resources: requests and limits on every container, the user's merged over the defaults."""

from __future__ import annotations

from typing import Any

import pytest

from executor_dind import resources

from .built import (
    all_containers,
    build,
)
from .helpers import dind, executor, find, problems, spec


def test_every_container_has_requests_and_limits_including_ephemeral_storage():
    for obj, container, path in all_containers(build()):
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) >= {"cpu", "memory", "ephemeral-storage"}, (obj["kind"], path)


def test_resources_merge_over_the_defaults():
    objects = build(
        queues=[{"name": "batches", "resources": {"limits": {"memory": "4Gi"}}}],
        docker={"resources": {"requests": {"cpu": "2"}}},
    )
    deployment = find(objects, "Deployment", "executor-batches")
    assert executor(deployment)["resources"]["limits"] == {
        **resources.DEFAULT_EXECUTOR_RESOURCES["limits"],
        "memory": "4Gi",
    }
    assert executor(deployment)["resources"]["requests"] == resources.DEFAULT_EXECUTOR_RESOURCES["requests"]
    assert dind(deployment)["resources"]["requests"] == {**resources.DEFAULT_DIND_RESOURCES["requests"], "cpu": "2"}


# --- what the API server validates, after the defaults are merged ------------------------------------------------

Q = "spec.queues[0].resources"


def queue_resources(**resources: Any) -> dict[str, Any]:
    return {"queues": [{"name": "batches", "resources": resources}]}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            queue_resources(requests={"memory": "2Gi"}),
            [
                (
                    f"{Q}.requests.memory",
                    "2Gi is more than the limit 1Gi (the default limit): the API server rejects it; "
                    "raise limits.memory too",
                )
            ],
        ),
        (
            {"docker": {"resources": {"limits": {"cpu": "500m"}}}},
            [
                (
                    "spec.docker.resources.limits.cpu",
                    "500m is less than the default request 1: the API server rejects it; lower requests.cpu too",
                )
            ],
        ),
        (
            queue_resources(limits={"gpu": "1"}),
            [
                (
                    f"{Q}.limits.gpu",
                    "'gpu' is not a standard resource (cpu, memory, ephemeral-storage, hugepages-<size>): "
                    "an extended resource needs its vendor's prefix, e.g. nvidia.com/gpu",
                )
            ],
        ),
        (
            queue_resources(requests={"nvidia.com/gpu": "1"}, limits={"nvidia.com/gpu": "2"}),
            [
                (
                    f"{Q}.requests.nvidia.com/gpu",
                    "1 must equal the limit 2: nvidia.com/gpu cannot be overcommitted (the API server rejects it)",
                )
            ],
        ),
        (
            queue_resources(requests={"nvidia.com/gpu": "1"}),
            [
                (
                    f"{Q}.limits.nvidia.com/gpu",
                    "must be set, equal to the request (1): nvidia.com/gpu cannot be overcommitted",
                )
            ],
        ),
    ],
)
def test_resources_the_api_server_would_reject_are_refused_at_the_field(raw, expected):
    assert problems(raw) == expected


def test_resources_the_api_server_accepts_pass():
    """The positive control: equal extended resources, raised limits with raised requests, plain numbers."""
    spec(
        **queue_resources(
            requests={"nvidia.com/gpu": "1", "memory": "2Gi"}, limits={"nvidia.com/gpu": 1, "memory": "2Gi"}
        )
    )
    spec(docker={"resources": {"requests": {"cpu": 2}, "limits": {"cpu": "2000m"}}})
