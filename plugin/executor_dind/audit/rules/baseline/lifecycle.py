"""EXD008, EXD011, EXD012, EXD015: how executors stop and scale: the grace period against the job runtime, the
autoscalers' bounds and the Prometheus they query."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind import values
from executor_dind.audit.rules.baseline.reading import executor_vars, mapping
from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod
from executor_dind.krm.item import Item
from executor_dind.values import duration_seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_RUNTIME = "30m"
# Go's time.Duration holds at most this many seconds (int64 nanoseconds).
GO_MAX_DURATION_SECONDS = 9223372036


def _grace_and_runtime(item: Item, scope: Scope) -> tuple[Any, Any, int]:
    """The pod's grace period, the executor's maximum job runtime, and that runtime in seconds."""
    spec, _ = executor_pod(item)
    var = next(executor_vars(item, scope, "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB"), None)
    runtime = (var.value if var is not None else None) or DEFAULT_RUNTIME
    grace = spec.get("terminationGracePeriodSeconds", 30)
    try:
        needed = duration_seconds(runtime)
    except OverflowError:  # more digits than a float holds: longer than any grace period
        needed = GO_MAX_DURATION_SECONDS + 1
    shown = runtime if len(runtime) <= 40 else runtime[:37] + "..."
    return grace, shown, needed


def short_grace_period(item: Item, scope: Scope) -> Iterator[Finding]:
    _, base = executor_pod(item)
    var = next(executor_vars(item, scope, "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB"), None)
    unreadable = values.duration(var.value) if var is not None and var.value is not None else None
    if var is not None and unreadable is not None and not unreadable.endswith("shorter than a second"):
        # The executor cannot start on it: no grace period covers a runtime nobody can read.
        yield Finding(
            var.source, var.field_path, f"EXECUTOR_MAXIMUM_RUNTIME_PER_JOB of {item.describe()}: {unreadable}"
        )
        return
    grace, runtime, needed = _grace_and_runtime(item, scope)
    if isinstance(grace, int) and grace < needed:
        yield Finding(
            item,
            f"{base}.terminationGracePeriodSeconds",
            f"{grace}s is shorter than the maximum job runtime ({runtime}): pod termination kills running jobs",
        )


# KEDA's maxReplicaCount when a ScaledObject or a ScaledJob sets none.
KEDA_DEFAULT_MAX_REPLICAS = 100
KEDA_SCALERS = ("ScaledObject", "ScaledJob")


def unbounded_scaling(item: Item, scope: Scope) -> Iterator[Finding]:
    for scaler in scope.scalers_of(item):
        spec = mapping(scaler.obj.get("spec"))
        field = "maxReplicaCount" if scaler.kind in KEDA_SCALERS else "maxReplicas"
        if not isinstance(spec.get(field), int) or isinstance(spec.get(field), bool):
            default = f" (KEDA's default is {KEDA_DEFAULT_MAX_REPLICAS})" if scaler.kind in KEDA_SCALERS else ""
            yield Finding(
                scaler,
                f"spec.{field}",
                f"{scaler.describe()} scales {item.describe()} with no {field}{default}: a long queue starts "
                "privileged pods without bound; set the most executors this queue may have",
            )


def scale_down_kills_jobs(item: Item, scope: Scope) -> Iterator[Finding]:
    grace, runtime, needed = _grace_and_runtime(item, scope)
    if not isinstance(grace, int) or grace >= needed:
        return
    # A ScaledJob never scales a pod down: its pods end with their job (EXD008 judges the grace period alone).
    for scaler in (scaler for scaler in scope.scalers_of(item) if scaler is not item):
        yield Finding(
            scaler,
            "spec.scaleTargetRef",
            f"{scaler.describe()} scales {item.describe()} down while its grace period ({grace}s) is shorter than "
            f"the maximum job runtime ({runtime}): every scale-down kills running jobs; set "
            "terminationGracePeriodSeconds to at least the runtime",
        )


def _prometheus_addresses(scope: Scope) -> set[str]:
    """The cluster addresses of the render's Prometheus Services (named prometheus, as deploy-sourcegraph-k8s's),
    found once per audit (a scan of every item per executor made the audit quadratic)."""
    memo_key = ("prometheus-addresses", 0)
    if memo_key not in scope.memo:
        scope.memo[memo_key] = _find_prometheus_addresses(scope)
    return scope.memo[memo_key]


def _find_prometheus_addresses(scope: Scope) -> set[str]:
    addresses = set()
    for service in scope.items:
        # Without a namespace the render's is decided at apply time (kubectl -n): nothing to compare with.
        ours = service.kind == "Service" and service.name == "prometheus" and service.namespace
        spec = mapping(service.obj.get("spec")) if ours else {}
        for port in spec.get("ports") if isinstance(spec.get("ports"), list) else []:
            if isinstance(port, dict) and isinstance(port.get("port"), int):
                addresses.add(f"prometheus.{service.namespace}.svc.cluster.local:{port['port']}")
    return addresses


def prometheus_elsewhere(item: Item, scope: Scope) -> Iterator[Finding]:
    """KEDA queries a Prometheus the render does not hold where the render holds one (upstream's `prometheus`)."""
    known = _prometheus_addresses(scope)
    if not known:
        return  # no Prometheus in the render (an external one): nothing to compare with
    for scaler in scope.scalers_of(item):
        triggers = mapping(scaler.obj.get("spec")).get("triggers")
        for index, trigger in enumerate(triggers if isinstance(triggers, list) else []):
            metadata = mapping(trigger.get("metadata")) if isinstance(trigger, dict) else {}
            address = metadata.get("serverAddress")
            if trigger.get("type") != "prometheus" or not isinstance(address, str):
                continue
            _, host, port, _ = values.url_authority(address)
            if f"{host}:{port or 80}" not in known and host.split(".")[0] == "prometheus":
                yield Finding(
                    scaler,
                    f"spec.triggers[{index}].metadata.serverAddress",
                    f"{scaler.describe()} asks Prometheus at {address}, but the render's Prometheus is at "
                    f"{', '.join(sorted(known))}: KEDA would scale on errors; point serverAddress there (with the "
                    "plain autoscaling component, the replacement in docs/autoscaling.md)",
                )


RULES = (
    Rule("EXD008", "short-grace-period", "warning", "the grace period is shorter than a job", short_grace_period),
    Rule(
        "EXD011",
        "unbounded-scaling",
        "warning",
        "a ScaledObject, ScaledJob or HorizontalPodAutoscaler scales executors with no maximum (KEDA's default is 100)",
        unbounded_scaling,
    ),
    Rule(
        "EXD012",
        "scale-down-kills-jobs",
        "warning",
        "executors are autoscaled while their grace period is shorter than a job: every scale-down kills jobs",
        scale_down_kills_jobs,
    ),
    Rule(
        "EXD015",
        "prometheus-elsewhere",
        "error",
        "a ScaledObject over executors queries a Prometheus address the render's Prometheus Service does not have",
        prometheus_elsewhere,
    ),
)
