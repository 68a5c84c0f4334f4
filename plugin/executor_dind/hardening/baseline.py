"""Baseline: the protections every render carries, whatever the profile (docs/hardening.md).

Its apply builds the executor objects (model.py); its check asks of the input what those objects need (a
frontend URL, the password Secret beside the executors, no upstream executor component in the way); its rules
audit any rendered executor workload for the same protections.

Over 300 lines because the baseline owns every field no other control does: its validate holds the spec-only
checks of images, resources, durations, env, autoscaling and isolation, beside its check and apply.
"""

from __future__ import annotations

from collections.abc import Mapping

from executor_dind import model, resources, values
from executor_dind.discovery import FRONTEND_SERVICE
from executor_dind.hardening import pod_security
from executor_dind.hardening.common import Applied, Control
from executor_dind.password import password_problem
from executor_dind.records import nearest
from executor_dind.results import Result, about
from executor_dind.settings import PROFILES
from executor_dind.spec import MANAGED_ENV, QUEUES, Queue, Recycle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.discovery import Context
    from executor_dind.results import Severity
    from executor_dind.spec import Spec


def check(spec: Spec, context: Context) -> list[Result]:
    if not context.frontend_url:
        return [
            _spec_result(
                context,
                "spec.frontend.url",
                f"cannot derive the frontend URL: the executors go to namespace {context.namespace!r} but "
                "Sourcegraph's namespace is unknown (no namespaced sourcegraph-frontend Service in the input); "
                "set spec.frontend.url to the Service's FQDN, "
                "http://sourcegraph-frontend.NAMESPACE.svc.cluster.local:30080 with Sourcegraph's NAMESPACE",
            )
        ]
    return [
        *_url_results(context),
        *_prometheus_results(spec, context),
        *_namespace_results(spec, context),
        *_secret_results(spec, context),
        *_upstream_results(spec, context),
    ]


def _spec_result(context: Context, field_path: str, message: str, severity: Severity = "error") -> Result:
    return Result(message, severity, context.config_ref, field_path)


def _url_results(context: Context) -> list[Result]:
    parts = values.url_parts(context.frontend_url)
    if parts is None or not parts[1].startswith(FRONTEND_SERVICE):
        return []
    scheme, host, port = parts
    if port is None:
        return [
            _spec_result(
                context,
                "spec.frontend.url",
                f"{context.frontend_url!r} has no port: the {FRONTEND_SERVICE} Service listens on its http port "
                "(30080 upstream) and the executor hangs silently at 'Connecting to Sourcegraph instance'; add it, "
                f"e.g. {scheme}://{host}:30080",
            )
        ]
    elsewhere = context.sourcegraph_namespace and context.namespace != context.sourcegraph_namespace
    if host == FRONTEND_SERVICE and elsewhere:
        fqdn = f"{scheme}://{FRONTEND_SERVICE}.{context.sourcegraph_namespace}.svc.cluster.local:{port}"
        return [
            _spec_result(
                context,
                "spec.frontend.url",
                f"{context.frontend_url!r} is the short Service name, which resolves only in Sourcegraph's "
                f"namespace {context.sourcegraph_namespace!r}, but the executors run in {context.namespace!r}: "
                f"use the Service's FQDN, {fqdn}",
            )
        ]
    return []


def _prometheus_results(spec: Spec, context: Context) -> list[Result]:
    """An autoscaled queue needs a Prometheus address KEDA can reach from its own namespace."""
    results = []
    for index, queue in enumerate(spec.queues):
        if queue.autoscaling is not None and not queue.autoscaling.prometheus and not context.prometheus_url:
            results.append(
                _spec_result(
                    context,
                    f"spec.queues[{index}].autoscaling.prometheus",
                    "cannot derive the Prometheus address: KEDA queries it from its own namespace, so it needs the "
                    "prometheus Service's FQDN, and no namespace is known (no namespaced prometheus or "
                    "sourcegraph-frontend Service in the input, no spec.namespace); set it, e.g. "
                    "http://prometheus.NAMESPACE.svc.cluster.local:30090 with NAMESPACE Sourcegraph's",
                )
            )
    return results + _shared_queue_results(spec, context)


def _shared_queue_results(spec: Spec, context: Context) -> list[Result]:
    """A queue served by an autoscaled Deployment and another one: KEDA counts the other's jobs too."""
    results = []
    for index, queue in enumerate(spec.queues):
        if queue.autoscaling is None:
            continue
        others = [
            f"executor-{other.name}"
            for other in spec.queues
            if other is not queue and set(other.names) & set(queue.names)
        ]
        if others:
            results.append(
                _spec_result(
                    context,
                    f"spec.queues[{index}].autoscaling",
                    f"executor-{queue.name} scales on the queued jobs of {', '.join(queue.names)}, which "
                    f"{', '.join(others)} also {'serves' if len(others) == 1 else 'serve'}: each Deployment scales "
                    "up for the same jobs; serve each queue from one Deployment when it is autoscaled",
                    "warning",
                )
            )
    return results


def _namespace_results(spec: Spec, context: Context) -> list[Result]:
    namespace = context.namespace
    if not namespace or namespace == context.sourcegraph_namespace or namespace in context.namespaces:
        return []
    if pod_security.CONTROL.enabled(spec):
        return []  # it creates the Namespace
    return [
        _spec_result(
            context,
            "spec.namespace",
            f"the executors' namespace {namespace!r} is not Sourcegraph's, not a Namespace in the input, and not "
            "created by executor-dind (hardening.podSecurity is off): create it (kubectl create namespace "
            f"{namespace}) or enable hardening.podSecurity, or the executors' objects fail to apply",
            "warning",
        )
    ]


# A file, not --from-literal: a token typed on the command line stays in the shell's history.
_FROM_FILE = "--from-file={key}=TOKEN_FILE, a file outside git holding the token"


def _secret_results(spec: Spec, context: Context) -> list[Result]:
    name = spec.frontend.password_secret.name
    key = spec.frontend.password_secret.key
    found = context.secrets
    in_namespace = f" -n {context.namespace}" if context.namespace else ""
    if not found:
        return [
            _spec_result(
                context,
                "spec.frontend.passwordSecret",
                f"no Secret {name!r} in the input: create it beside the executors with the value of "
                f"executors.accessToken from the site configuration (a secretGenerator in the overlay, or kubectl"
                f"{in_namespace} create secret generic {name} {_FROM_FILE.format(key=key)})",
                "warning",
            )
        ]
    beside = [item for item in found if item.namespace == context.namespace]
    if not beside:
        elsewhere = ", ".join(sorted({item.namespace or "(none)" for item in found}))
        return [
            about(
                found[0],
                f"the executors' password Secret {name!r} is in namespace {elsewhere}, not in {context.namespace!r} "
                "where the executors run: create it there too (e.g. a secretGenerator in the executors' overlay, "
                f"or kubectl -n {context.namespace} create secret generic {name} {_FROM_FILE.format(key=key)})",
                "warning",
            )
        ]
    results = []
    for item in beside:
        what = password_problem(item, key)
        if what:
            results.append(
                about(
                    item,
                    f"the executors' password (key {key!r}) {what}: put the value of executors.accessToken from the "
                    "site configuration there (the executors cannot authenticate otherwise)",
                    field_path=f"data.{key}",
                )
            )
    return results


def _upstream_results(spec: Spec, context: Context) -> list[Result]:
    if not context.upstream or spec.replace_upstream:
        return []
    names = ", ".join(item.describe() for item in context.upstream)
    return [
        about(
            context.upstream[0],
            "the input already has the upstream components/executors/dind objects "
            f"({names}): remove that component (and its private-docker-registry) from your kustomization, "
            "or set spec.replaceUpstream: true to have executor-dind remove them",
        )
    ]


def _is_value_from(value: Any) -> bool:
    if not (isinstance(value, Mapping) and set(value) == {"valueFrom"} and isinstance(value["valueFrom"], Mapping)):
        return False
    sources = value["valueFrom"]
    return (
        len(sources) == 1 and set(sources) <= values.ENV_SOURCES and isinstance(next(iter(sources.values())), Mapping)
    )


def validate(spec: Spec, path: str) -> list[tuple[str, str]]:
    """The spec's problems across fields (each value alone was valid), at their config fields."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, queue in enumerate(spec.queues):
        where = f"{path}.queues[{i}]"
        if len(f"executor-{queue.name}") > values.LABEL_MAX:
            problems.append(
                (
                    f"{where}.name",
                    f"{queue.name!r} is too long: executor-<name> is a label value, at most 63 characters",
                )
            )
        if queue.name in seen:
            problems.append((f"{where}.name", f"duplicate queue name {queue.name!r}"))
        seen.add(queue.name)
        if not queue.queue_names and queue.name not in QUEUES:
            problems.append(
                (
                    f"{where}.queueNames",
                    f"is required because the name {queue.name!r} is not itself a queue "
                    f"(set queueNames to a list of {', '.join(QUEUES)})",
                )
            )
        if len(set(queue.queue_names)) != len(queue.queue_names):
            problems.append((f"{where}.queueNames", "lists a queue twice"))
        if queue.replicas > 1000 or queue.maximum_num_jobs < 1:
            problems.append((where, "replicas must be at most 1000 and maximumNumJobs at least 1"))
        problems.extend(_autoscaling_problems(spec, queue, where))
        problems.extend(_isolation_problems(spec, queue, where))
        executor = resources.merged(resources.DEFAULT_EXECUTOR_RESOURCES, queue.resources)
        problems.extend(
            resources.requirement_problems(executor, f"{where}.resources", resources.DEFAULT_EXECUTOR_RESOURCES)
        )
        for name, value in queue.env.items():
            if name in MANAGED_ENV:
                problems.append(
                    (f"{where}.env.{name}", "is set by executor-dind; use the structured spec field instead")
                )
            elif not isinstance(name, str) or not values.env_name(name):
                problems.append((f"{where}.env.{name}", "is not a valid environment variable name"))
            elif not isinstance(value, str) and not _is_value_from(value):
                sources = ", ".join(sorted(values.ENV_SOURCES))
                problems.append(
                    (
                        f"{where}.env.{name}",
                        f"must be a string or {{valueFrom: {{X: {{...}}}}}} with X one of {sources}",
                    )
                )
            elif not isinstance(value, str):
                [(source, ref)] = value["valueFrom"].items()
                message = values.env_source(source, ref)
                if message:
                    problems.append((f"{where}.env.{name}.valueFrom.{source}", message))
    if not spec.queues:
        problems.append((f"{path}.queues", "must list at least one queue"))
    dind = resources.dind_resources(spec)
    unset = resources.dind_resources(spec._replace(docker=spec.docker._replace(resources={})))
    problems.extend(resources.requirement_problems(dind, f"{path}.docker.resources", unset))
    if spec.storage.type == "ephemeral" and not spec.storage.size:
        problems.append(
            (
                f"{path}.storage.size",
                "is required with storage.type: ephemeral (each pod gets a volume of that size: it costs money)",
            )
        )
    if spec.docker.daemon_config:  # the key table is imported only for a config that sets keys
        from executor_dind.daemon_keys import DAEMON_KEYS, value_problem

        for key, value in spec.docker.daemon_config.items():
            if key not in DAEMON_KEYS:
                problems.append(
                    (
                        f"{path}.docker.daemonConfig.{key}",
                        "is not a daemon.json key dockerd reads (it would be ignored, or refused at start)"
                        + nearest(str(key), sorted(DAEMON_KEYS)),
                    )
                )
            elif message := value_problem(key, value):
                problems.append((f"{path}.docker.daemonConfig.{key}", message))
    if "hosts" in spec.docker.daemon_config:
        problems.append(
            (
                f"{path}.docker.daemonConfig.hosts",
                "must not be set: dockerd listens on 127.0.0.1:2375 only (an unauthenticated privileged API)",
            )
        )
    if spec.docker.mtu != "auto" and not 576 <= spec.docker.mtu <= 9000:
        problems.append((f"{path}.docker.mtu", "must be between 576 and 9000, or auto"))
    if spec.docker.mtu == "auto" and "mtu" in spec.docker.daemon_config:
        problems.append(
            (f"{path}.docker.daemonConfig.mtu", "conflicts with docker.mtu: auto (dockerd refuses it both ways)")
        )
    if spec.docker.mtu == "auto" and "default-network-opts" in spec.docker.daemon_config:
        problems.append(
            (
                f"{path}.docker.daemonConfig.default-network-opts",
                "conflicts with docker.mtu: auto (the start script passes the bridge MTU as --default-network-opt "
                "and dockerd refuses a setting given both ways): set docker.mtu to a number to use this key",
            )
        )
    return problems


def _autoscaling_problems(spec: Spec, queue: Queue, where: str) -> list[tuple[str, str]]:
    scaling = queue.autoscaling
    if scaling is None:
        return []
    problems = []
    if not 1 <= scaling.max_replicas <= 1000:
        problems.append((f"{where}.autoscaling.maxReplicas", "must be between 1 and 1000"))
    elif scaling.min_replicas > scaling.max_replicas:
        problems.append((f"{where}.autoscaling.minReplicas", f"must be at most maxReplicas ({scaling.max_replicas})"))
    if scaling.jobs_per_replica is not None and not 1 <= scaling.jobs_per_replica <= queue.maximum_num_jobs:
        problems.append(
            (
                f"{where}.autoscaling.jobsPerReplica",
                f"must be between 1 and maximumNumJobs ({queue.maximum_num_jobs}): a pod takes no more jobs than that",
            )
        )
    runtime = values.duration_seconds(spec.maximum_runtime_per_job)
    if spec.grace_period_seconds < runtime:
        problems.append(
            (
                f"{where}.autoscaling",
                f"KEDA scales executors down while they run jobs: terminationGracePeriodSeconds "
                f"({spec.grace_period_seconds}) must cover maximumRuntimePerJob ({spec.maximum_runtime_per_job} = "
                f"{runtime}s), or every scale-down kills running jobs; raise it or leave it unset",
            )
        )
    return problems


def _isolation_problems(spec: Spec, queue: Queue, where: str) -> list[tuple[str, str]]:
    """What `isolation: job` (a KEDA ScaledJob, one pod per job) cannot do, at the field that asks it."""
    if queue.isolation != "job":
        return []
    why = "with isolation: job each pod takes one job and exits"
    problems = []
    if queue.autoscaling is None:
        problems.append(
            (
                f"{where}.autoscaling",
                "is required with isolation: job: KEDA creates a pod per queued job, at most "
                "autoscaling.maxReplicas at once (e.g. autoscaling: {maxReplicas: 10})",
            )
        )
    else:
        if queue.autoscaling.min_replicas:
            problems.append(
                (
                    f"{where}.autoscaling.minReplicas",
                    f"must be 0 with isolation: job: a warm pod would idle until its dequeue window ends ({why})",
                )
            )
        if queue.autoscaling.jobs_per_replica not in (None, 1):
            problems.append((f"{where}.autoscaling.jobsPerReplica", f"must be unset or 1 ({why})"))
    if queue.maximum_num_jobs not in (1, Queue._field_defaults["maximum_num_jobs"]):
        problems.append((f"{where}.maximumNumJobs", f"must be unset or 1 ({why})"))
    if queue.recycle != Recycle():
        problems.append((f"{where}.recycle", f"must be unset: {why}, so there is nothing to recycle"))
    if not spec.docker.native_sidecar:
        problems.append(
            (
                f"{where}.isolation",
                "job needs docker.nativeSidecar: true: a plain dind container never exits, so the Job never "
                "completes; with the native sidecar the kubelet stops dind when the executor exits",
            )
        )
    return problems


def apply(spec: Spec, context: Context, objects: tuple[dict[str, Any], ...]) -> Applied:
    return Applied(added=tuple(model.build(spec, context)))


CONTROL = Control(
    id="baseline",
    profiles=PROFILES,
    does="the executor objects with dockerd on loopback only, no API token, a non-root executor, limits, pinned images",
    guarantees="dockerd on loopback only, no API token, non-root executor, limits, pinned images",
    requires="nothing (Kubernetes >= 1.29 for the native sidecar)",
    settings=None,
    check=check,
    validate=validate,
    apply=apply,
)
