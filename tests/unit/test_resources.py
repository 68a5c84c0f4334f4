"""resources: requests and limits on every container, the user's merged over the defaults."""

from __future__ import annotations

from executor_dind import resources

from .built import (
    all_containers,
    build,
)
from .helpers import dind, executor, find


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
