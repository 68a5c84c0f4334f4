"""The objects the function builds for a spec, and views of them, for the model's unit tests."""

from __future__ import annotations

import json
from typing import Any

from executor_dind import naming
from executor_dind.plan import plan_for
from executor_dind.podspec import containers, pod_spec

from .helpers import context, find, spec

PINNED = "@sha256:"
REQUIRED_EXECUTOR_CONTEXT = {
    "runAsUser": 100,
    "runAsGroup": 101,
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def build(ns: str = "sourcegraph", url: str = "", **raw: Any) -> list[dict[str, Any]]:
    """The objects for this spec, Sourcegraph in namespace sourcegraph, the executors in spec.namespace or `ns`."""
    planned = plan_for(spec(**raw), context(raw.get("namespace") or ns, "sourcegraph", url))
    assert [r for r in planned.results if r.severity == "error"] == []
    return list(planned.objects)


def deployments(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == "Deployment"]


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if pod_spec(o) is not None]


def all_containers(objects: list[dict[str, Any]]):
    for obj in workloads(objects):
        located = pod_spec(obj)
        yield from ((obj, c, path) for c, path in containers(*located))


def daemon_json(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return json.loads(find(objects, "ConfigMap", naming.DOCKER_CONFIG)["data"]["daemon.json"])


def checksum(objects: list[dict[str, Any]], name: str = "executor-all") -> str:
    return find(objects, "Deployment", name)["spec"]["template"]["metadata"]["annotations"][naming.CHECKSUM_ANNOTATION]
