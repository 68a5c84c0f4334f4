"""`executor-dind explain`: what would be injected, the security posture, and a diagram of the network flows."""

from __future__ import annotations

from executor_dind import autoscaling, hardening
from executor_dind.hardening import gvisor, network_policy
from executor_dind.krm.item import Item

TYPE_CHECKING = False
if TYPE_CHECKING:
    from executor_dind.discovery import Context
    from executor_dind.plan import Plan
    from executor_dind.spec import Queue, Spec


def posture(spec: Spec) -> list[tuple[str, str, str, str]]:
    """(control, on/off, what it guarantees, what the cluster must provide) for every control, baseline first."""
    return [
        (control.id, "on" if control.enabled(spec) else "off", control.guarantees, _filled(control.requires, spec))
        for control in hardening.CONTROLS
    ]


def _filled(text: str, spec: Spec) -> str:
    """A control's requirement with this spec's values where the docs name a field (`<taint.key>=<taint.value>`)."""
    import re

    pool = spec.hardening.node_pool
    selector = ",".join(f"{k}={v}" for k, v in pool.node_selector.items()) or f"{pool.taint.key}={pool.taint.value}"
    taint = f"{pool.taint.key}={pool.taint.value}:{pool.taint.effect}"
    placeholder = (
        r"tainted and labelled `<taint\.key>=<taint\.value>`( \(default `[^`]*`\))?( or the nodeSelector you set)?"
    )
    return re.sub(placeholder, f"tainted `{taint}` and labelled `{selector}`", text)


def _scaling(queue: Queue, context: Context) -> str:
    if queue.isolation == "job":
        return (
            f"isolation job: a fresh pod and dockerd per job, no prune sidecar (nothing outlives the job); "
            f"{autoscaling.rule(queue)} (Prometheus {autoscaling.prometheus_address(queue, context)})"
        )
    jobs = f"{queue.maximum_num_jobs} job(s)"
    if queue.autoscaling is None:
        return f"isolation shared; {queue.replicas} replica(s) x {jobs}"
    return (
        f"isolation shared; {autoscaling.rule(queue)} x {jobs} "
        f"(Prometheus {autoscaling.prometheus_address(queue, context)})"
    )


def _recycle(queue: Queue) -> str:
    after = [f"{queue.recycle.after_jobs} jobs" if queue.recycle.after_jobs else "", queue.recycle.after_time]
    return f"; an executor exits after {' or '.join(a for a in after if a)}" if any(after) else ""


def _where(context: Context) -> str:
    if context.namespace:
        return f"namespace {context.namespace}"
    return "the namespace of the sourcegraph-frontend Service (pass the rendered manifests to name it)"


def text(spec: Spec, context: Context, items: list[Item]) -> str:
    lines = [
        f"executor-dind would inject {len(items)} objects into {_where(context)}:",
        *(f"  {item.describe()}" for item in items),
        "",
        f"frontend: {context.frontend_url}",
        "queues:",
    ]
    for queue in spec.queues:
        lines.append(f"  executor-{queue.name}: {', '.join(queue.names)}; {_scaling(queue, context)}{_recycle(queue)}")
    lines += ["images:", *(f"  {role}: {image}" for role, image in spec.images._asdict().items()), ""]
    rows = [("control", "state", "guarantees", "the cluster must provide"), *posture(spec)]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines.append(f"security posture (profile {spec.hardening.profile}):")
    for row in rows:
        lines.append(f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}  [{row[3]}]")
    return "\n".join(lines) + "\n"


def mermaid(spec: Spec, context: Context) -> str:
    """A flowchart of the executor pod and what it may reach: solid allowed, crossed blocked, dotted unrestricted."""
    restricted = network_policy.CONTROL.enabled(spec)
    sandbox = "gVisor sandbox" if gvisor.CONTROL.enabled(spec) else "host kernel"
    port = context.frontend_pod_port
    lines = [
        "flowchart LR",
        f'  subgraph pod["executor pod ({sandbox})"]',
        '    executor["executor (uid 100, no privileges)"]',
        '    dind["dind sidecar (dockerd on 127.0.0.1:2375)"]',
        '    jobs["job containers"]',
        "    executor -- tcp 127.0.0.1:2375 --> dind",
        "    dind --> jobs",
        "  end",
        '  dns["cluster DNS :53"]',
        f'  frontend["sourcegraph-frontend pods :{port}"]',
        '  registry["executor-dind-registry :5000"]',
        '  internet["public internet"]',
        '  metadata["cloud metadata 169.254.169.254"]',
        '  private["private ranges 10/8, 172.16/12, 192.168/16, CGNAT, ULA"]',
        '  sourcegraph["other Sourcegraph services"]',
        '  prometheus["Prometheus"] -- ":6060 metrics" --> executor',
    ]
    allowed = ["dns", "frontend", "internet"] + (["registry"] if spec.private_registry.enabled else [])
    blocked = ["metadata", "private", "sourcegraph"]
    for target in allowed:
        lines.append(f"  pod --> {target}")
    for target in blocked:
        lines.append(f"  pod -- blocked --x {target}" if restricted else f"  pod -. not restricted .-> {target}")
    lines += [
        "  classDef blocked fill:#fdd,stroke:#c00",
        "  classDef open fill:#ffd,stroke:#c90",
        f"  class metadata,private,sourcegraph {'blocked' if restricted else 'open'}",
    ]
    return "\n".join(lines) + "\n"


def explain(spec: Spec, planned: Plan, output_format: str) -> str:
    if output_format == "mermaid":
        return mermaid(spec, planned.context)
    return text(spec, planned.context, [Item.new(obj) for obj in planned.objects])
