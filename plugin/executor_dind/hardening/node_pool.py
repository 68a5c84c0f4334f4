"""Dedicated node pool: executor pods run only on tainted nodes that run nothing else (docs/hardening.md).

Executor pods tolerate the pool's taint and select its nodes (nodeSelector; by default the nodes labelled
<taint.key>=<taint.value>), and spread across nodes. The private registry stays off the pool: it is trusted
infrastructure and should not share a kernel with untrusted jobs.
"""

from __future__ import annotations

from executor_dind.hardening.common import Applied, Control, Patch, op, pod_pointer
from executor_dind.naming import EXECUTOR_KINDS, executor_pod_selector
from executor_dind.settings import NodePool

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.discovery import Context
    from executor_dind.spec import Spec


def apply(spec: Spec, context: Context, objects: tuple[dict[str, Any], ...]) -> Applied:
    pool = spec.hardening.node_pool
    patches = []
    for obj in objects:
        if obj["kind"] not in EXECUTOR_KINDS:
            continue
        pod = pod_pointer(obj)
        ops = [
            op("add", f"{pod}/nodeSelector", dict(pool.node_selector) or {pool.taint.key: pool.taint.value}),
            op(
                "add",
                f"{pod}/tolerations",
                [{"key": pool.taint.key, "operator": "Equal", "value": pool.taint.value, "effect": pool.taint.effect}],
            ),
        ]
        if pool.spread:
            spread = {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": executor_pod_selector(obj["metadata"]["name"])},
            }
            ops.append(op("add", f"{pod}/topologySpreadConstraints", [spread]))
        patches.append(Patch(obj["kind"], obj["metadata"]["name"], tuple(ops)))
    return Applied(patches=tuple(patches))


CONTROL = Control(
    id="nodePool",
    profiles=("recommended", "strict"),
    does="tolerations for the taint, nodeSelector (default `<taint.key>=<taint.value>`), spread across nodes; "
    "the registry stays off the pool",
    guarantees="untrusted jobs share a kernel only with other executor pods, never with Sourcegraph's services",
    requires="a node pool tainted and labelled `<taint.key>=<taint.value>` "
    "(default `executor-dind.dev/untrusted=true`) or the nodeSelector you set, ideally recycled often",
    settings=NodePool,
    apply=apply,
)
