"""Dedicated node pool: executor pods run only on tainted nodes that run nothing else (docs control 1).

Executor pods tolerate the pool's taint and select its nodes (nodeSelector; by default the nodes labelled
<taint.key>=<taint.value>), and spread across nodes. The private registry stays off the pool: it is trusted
infrastructure and should not share a kernel with untrusted jobs.

Rules:
  EXD101 shared-nodes  warning  executor pods may be scheduled on nodes shared with other workloads
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from executor_dind.config import Spec
from executor_dind.discovery import Context
from executor_dind.hardening.common import Finding, Rule, Scope, executor_pod
from executor_dind.krm_io import Item
from executor_dind.results import Result

ID = "nodePool"
PROFILES = ("recommended", "strict")
GUARANTEES = "untrusted jobs share a kernel only with other executor pods, never with Sourcegraph's services"
REQUIRES = "a node pool tainted and labelled <taint.key>=<taint.value> (or the nodeSelector you set)"


def config(spec: Spec) -> Any:
    return spec.hardening.node_pool


def apply(spec: Spec, context: Context, objects: list[dict[str, Any]]) -> list[Result]:
    pool = spec.hardening.node_pool
    selector = dict(pool.node_selector) or {pool.taint.key: pool.taint.value}
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        pod = obj["spec"]["template"]["spec"]
        pod["nodeSelector"] = selector
        pod["tolerations"] = [
            {"key": pool.taint.key, "operator": "Equal", "value": pool.taint.value, "effect": pool.taint.effect}
        ]
        if pool.spread:
            pod["topologySpreadConstraints"] = [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": dict(obj["spec"]["selector"]["matchLabels"])},
                }
            ]
    return []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def shared_nodes(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    affinity = _mapping(_mapping(spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not spec.get("nodeSelector") and not affinity:
        yield Finding(
            item,
            f"{base}.nodeSelector",
            "executor pods can be scheduled on any node, beside Sourcegraph's services: "
            "enable hardening.nodePool (a tainted, dedicated pool)",
        )
    elif not spec.get("tolerations"):
        yield Finding(
            item,
            f"{base}.tolerations",
            "executor pods select nodes but tolerate no taint: other workloads can land on those nodes too",
        )


RULES = (Rule("EXD101", "shared-nodes", "warning", "executor pods on shared nodes", shared_nodes),)
