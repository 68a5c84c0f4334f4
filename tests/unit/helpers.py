"""Small builders shared by the unit tests: specs, contexts, items and the objects the function injects."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from executor_dind import function
from executor_dind.discovery import Context
from executor_dind.function_config import parse_function_config, validated_spec
from executor_dind.krm.item import Item, ResourceList
from executor_dind.krm.read import read_resource_list
from executor_dind.krm.write import write_resource_list
from executor_dind.podspec import container
from executor_dind.records import ConfigError
from executor_dind.spec import Spec

SG = "sourcegraph"


def spec(**raw: Any) -> Spec:
    """A validated Spec from wire-form (camelCase) keyword arguments."""
    return validated_spec(raw)


def context(namespace: str = SG, sourcegraph_namespace: str = SG, url: str = "") -> Context:
    """Where an input with Sourcegraph, the executors' Namespace and their password Secret puts the executors."""
    if not url:
        beside = namespace == sourcegraph_namespace or not sourcegraph_namespace
        host = "sourcegraph-frontend" if beside else f"sourcegraph-frontend.{sourcegraph_namespace}.svc.cluster.local"
        url = f"http://{host}:30080"
    return Context(
        namespace,
        sourcegraph_namespace,
        url,
        secrets=tuple(items(secret(namespace=namespace))),
        namespaces=frozenset({namespace}),
    )


def frontend_service(namespace: str | None = SG, port: int = 30080, target: Any = "http") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "sourcegraph-frontend"}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "selector": {"app": "sourcegraph-frontend"},
            "ports": [{"name": "http", "port": port, "targetPort": target}],
        },
    }


def secret(name: str = "executor-secret", namespace: str = SG, password: str = "token") -> dict[str, Any]:
    """The password Secret, holding the value under the default key and under `token` (a spec's own key)."""
    import base64

    value = base64.b64encode(password.encode()).decode()
    data = {"password": value, "token": value}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": data}


def items(*objs: dict[str, Any]) -> list[Item]:
    """Items as they arrive in a ResourceList on stdin (with their source text), from objects."""
    resource_list = ResourceList("config.kubernetes.io/v1", [Item.new(obj) for obj in objs])
    return read_resource_list(write_resource_list(resource_list)).items


def config(**raw: Any) -> dict[str, Any]:
    return {
        "apiVersion": "executor-dind.dev/v1alpha1",
        "kind": "ExecutorDind",
        "metadata": {"name": "executors"},
        "spec": raw,
    }


def render(*objs: dict[str, Any], **raw: Any) -> list[Item]:
    """The function's output items for these input objects and this spec; fails the test on an error."""
    outcome = function.run(items(*objs), config(**raw))
    assert not outcome.failed, [r.line() for r in outcome.results]
    return outcome.items


def find(objects: list[Any], kind: str, name: str) -> dict[str, Any]:
    """The object (dict, or Item's obj) with this kind and name; a deep copy, so tests may mutate it."""
    for obj in objects:
        obj = obj.obj if isinstance(obj, Item) else obj
        if obj.get("kind") == kind and obj["metadata"]["name"] == name:
            return copy.deepcopy(obj)
    raise AssertionError(f"no {kind}/{name} in {[(o.kind, o.name) for o in objects if isinstance(o, Item)]}")


def replace(rendered: list[Item], obj: dict[str, Any]) -> list[Item]:
    """The rendered items with the one of obj's kind and name replaced by obj."""
    key = (obj["kind"], obj["metadata"]["name"])
    return [Item.new(obj) if (item.kind, item.name) == key else item for item in rendered]


def pod(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def dind(deployment: dict[str, Any]) -> dict[str, Any]:
    found = container(pod(deployment), "dind")
    assert found is not None
    return found


def executor(deployment: dict[str, Any]) -> dict[str, Any]:
    found = container(pod(deployment), "executor")
    assert found is not None
    return found


def env(deployment: dict[str, Any]) -> dict[str, Any]:
    """The executor container's env as NAME -> value (or the valueFrom mapping)."""
    return {var["name"]: var.get("value", var.get("valueFrom")) for var in executor(deployment)["env"]}


# What the default spec injects, in order.
DEFAULT_OBJECTS = [
    ("ServiceAccount", "executor-dind"),
    ("ConfigMap", "executor-dind-docker"),
    ("Service", "executor-dind-metrics"),
    ("Deployment", "executor-all"),
    ("StatefulSet", "executor-dind-registry"),
    ("Service", "executor-dind-registry"),
]


def problems(raw: Any) -> list[tuple[str, str]]:
    """The problems validated_spec raises for this raw spec."""
    with pytest.raises(ConfigError) as caught:
        validated_spec(raw)
    return caught.value.problems


def configmap(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "function-input"}, "data": data}


def cm_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_function_config(configmap(**data))
    return caught.value.problems
