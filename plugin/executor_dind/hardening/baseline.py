"""Baseline: the protections every render carries, whatever the profile (DESIGN §3).

Its apply builds the executor objects (model.py); its check asks of the input what those objects need (a
frontend URL, the password Secret beside the executors, no upstream executor component in the way); its rules
audit any rendered executor workload for the same protections.
"""

from __future__ import annotations

from executor_dind import model, values
from executor_dind.discovery import FRONTEND_SERVICE
from executor_dind.hardening import pod_security
from executor_dind.hardening.common import Applied, Control
from executor_dind.krm_io import Item
from executor_dind.naming import PASSWORD_PLACEHOLDER
from executor_dind.results import Result, about
from executor_dind.settings import PROFILES

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


def _secret_value(item: Item, key: str) -> str | None:
    """The Secret's value for key (data is base64, stringData plain); None when it holds no such key."""
    obj = item.obj if isinstance(item.obj, dict) else {}
    string_data = obj.get("stringData") if isinstance(obj.get("stringData"), dict) else {}
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    if isinstance(string_data.get(key), str):
        return string_data[key]
    if isinstance(data.get(key), str):
        import base64
        import binascii

        try:
            return base64.b64decode(data[key], validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None
    return None


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
                f"{in_namespace} create secret generic {name} --from-literal={key}=...)",
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
                f"or kubectl -n {context.namespace} create secret generic {name} --from-literal=password=...)",
                "warning",
            )
        ]
    results = []
    for item in beside:
        value = _secret_value(item, key)
        if value is not None and value.strip() in ("", PASSWORD_PLACEHOLDER):
            what = "is empty" if not value.strip() else "still holds the placeholder `executor-dind init` wrote"
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
    apply=apply,
)
