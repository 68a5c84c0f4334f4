"""Baseline: the protections every render carries, whatever the profile (DESIGN §3).

Its apply builds the executor objects (model.py); its check asks of the input what those objects need (a
frontend URL, the password Secret beside the executors, no upstream executor component in the way); its rules
audit any rendered executor workload for the same protections.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from executor_dind import model, values
from executor_dind.discovery import FRONTEND_SERVICE
from executor_dind.hardening import pod_security
from executor_dind.hardening.common import PROFILES, Applied, Control, Finding, Rule, Scope, executor_pod
from executor_dind.krm_io import Item
from executor_dind.naming import PASSWORD_PLACEHOLDER
from executor_dind.podspec import containers
from executor_dind.results import Result, Severity, about
from executor_dind.values import duration_seconds

if TYPE_CHECKING:
    from executor_dind.discovery import Context
    from executor_dind.spec import Spec

DEFAULT_RUNTIME = "30m"
_LOOPBACK_HOST = re.compile(r"^(tcp://)?(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$|^(unix|fd)://")


def _env_value(item: Item, scope: Scope, name: str) -> tuple[Any, Item, str]:
    """An executor env var (or its valueFrom), and the object and field that set it: the workload's env, or
    the data of a ConfigMap it reads through envFrom."""
    spec, base = executor_pod(item)
    for entry, path in containers(spec, base):
        if entry.get("name") != "executor":
            continue
        for index, var in enumerate(entry.get("env") or []):
            if isinstance(var, dict) and var.get("name") == name:
                return var, item, f"{path}.env[{index}]"
        for source in entry.get("envFrom") or []:
            ref = (source or {}).get("configMapRef") or {}
            config_map = scope.config_maps.get((item.namespace, ref.get("name", "")))
            data = (config_map.obj.get("data") or {}) if config_map is not None else {}
            if name in data:
                return {"name": name, "value": data[name]}, config_map, f"data.{name}"
    return None, item, ""


def _dockerd_hosts(item: Item, scope: Scope) -> Iterator[tuple[str, Item, str]]:
    """Each address dockerd listens on, with the object and field that say so (its flags, or daemon.json)."""
    spec, base = executor_pod(item)
    for entry, path in containers(spec, base):
        if entry.get("name") != "dind":
            continue
        argv = [str(a) for a in (entry.get("command") or []) + (entry.get("args") or [])]
        for index, arg in enumerate(argv):
            if arg.startswith(("--host=", "-H=")):
                yield arg.split("=", 1)[1], item, f"{path}.command"
            elif arg in ("--host", "-H") and index + 1 < len(argv):
                yield argv[index + 1], item, f"{path}.command"
        for mount in entry.get("volumeMounts") or []:
            if mount.get("mountPath") != "/etc/docker/daemon.json":
                continue
            volume = next((v for v in spec.get("volumes") or [] if v.get("name") == mount.get("name")), {})
            name = (volume.get("configMap") or {}).get("name", "")
            config_map = scope.config_maps.get((item.namespace, name))
            text = ((config_map.obj.get("data") or {}) if config_map else {}).get(mount.get("subPath", ""), "")
            try:
                hosts = json.loads(text).get("hosts", []) if text else []
            except (ValueError, AttributeError):
                hosts = []
            for host in hosts:
                yield str(host), config_map, f"data.{mount.get('subPath')}"


def dockerd_exposed(item: Item, scope: Scope) -> Iterator[Finding]:
    for host, source, path in _dockerd_hosts(item, scope):
        if not _LOOPBACK_HOST.match(host):
            yield Finding(
                source,
                path,
                f"dockerd of {item.describe()} listens on {host}: any pod that reaches this pod gets an "
                "unauthenticated, privileged Docker API; bind it to tcp://127.0.0.1:2375 only",
            )
    spec, base = executor_pod(item)
    for entry, path in containers(spec, base):
        for index, port in enumerate(entry.get("ports") or []):
            if port.get("containerPort") == 2375:
                yield Finding(item, f"{path}.ports[{index}]", "declares the Docker API port 2375; remove it")


def token_mounted(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    account = spec.get("serviceAccountName") or "default"
    sa = scope.service_accounts.get((item.namespace, account))
    # The pod's own setting wins; unset, the ServiceAccount's applies.
    setting = spec.get("automountServiceAccountToken", sa.obj.get("automountServiceAccountToken") if sa else None)
    if setting is False:
        return
    yield Finding(
        item,
        f"{base}.automountServiceAccountToken",
        f"a privileged pod mounts the token of ServiceAccount {account!r}: code that escapes a job gets "
        "Kubernetes API credentials; set automountServiceAccountToken: false",
    )


def literal_password(item: Item, scope: Scope) -> Iterator[Finding]:
    var, source, path = _env_value(item, scope, "EXECUTOR_FRONTEND_PASSWORD")
    if var is not None and "value" in var:
        yield Finding(source, path, f"the password of {item.describe()} is a literal value; use valueFrom.secretKeyRef")


def frontend_url_no_port(item: Item, scope: Scope) -> Iterator[Finding]:
    var, source, path = _env_value(item, scope, "EXECUTOR_FRONTEND_URL")
    url = (var or {}).get("value")
    if not isinstance(url, str):
        return
    _, host, port = values.url_authority(url)
    if port is None and host.startswith("sourcegraph-frontend"):
        yield Finding(
            source,
            path,
            f"EXECUTOR_FRONTEND_URL {url!r} of {item.describe()} has no port: the frontend Service listens on "
            "30080 and the executor hangs silently at 'Connecting to Sourcegraph instance'",
        )


def unpinned_image(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    for entry, path in containers(spec, base):
        image = str(entry.get("image", ""))
        if "@sha256:" not in image:
            yield Finding(item, f"{path}.image", f"image {image!r} is not pinned by digest")


def no_limits(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    for entry, path in containers(spec, base):
        limits = (entry.get("resources") or {}).get("limits") or {}
        missing = [name for name in ("cpu", "memory") if name not in limits]
        if missing:
            yield Finding(
                item, f"{path}.resources.limits", f"container {entry.get('name')!r} has no {'/'.join(missing)} limit"
            )


def executor_not_least_privilege(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    for entry, path in containers(spec, base):
        if entry.get("name") != "executor":
            continue
        context = entry.get("securityContext") or {}
        pod_context = spec.get("securityContext") or {}
        problems = []
        if context.get("privileged"):
            problems.append("privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation not false")
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            problems.append("runAsNonRoot not set")
        if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
            problems.append("capabilities not dropped")
        if problems:
            yield Finding(
                item,
                f"{path}.securityContext",
                "the executor container needs no privileges but has: " + ", ".join(problems),
            )


def short_grace_period(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    var, _, _ = _env_value(item, scope, "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB")
    runtime = (var or {}).get("value") or DEFAULT_RUNTIME
    grace = spec.get("terminationGracePeriodSeconds", 30)
    needed = duration_seconds(runtime) if isinstance(runtime, str) else 0
    if isinstance(grace, int) and grace < needed:
        yield Finding(
            item,
            f"{base}.terminationGracePeriodSeconds",
            f"{grace}s is shorter than the maximum job runtime ({runtime}): pod termination kills running jobs",
        )


RULES = (
    Rule(
        "EXD001",
        "dockerd-exposed",
        "error",
        "dockerd listens beyond loopback, or port 2375 is declared",
        dockerd_exposed,
    ),
    Rule("EXD002", "token-mounted", "error", "a service-account token is mounted in the privileged pod", token_mounted),
    Rule("EXD003", "literal-password", "error", "the executor password is a literal value", literal_password),
    Rule(
        "EXD004",
        "frontend-url-no-port",
        "error",
        "`EXECUTOR_FRONTEND_URL` has no port (the executor hangs silently)",
        frontend_url_no_port,
    ),
    Rule("EXD005", "unpinned-image", "warning", "an image is not pinned by digest", unpinned_image, True),
    Rule("EXD006", "no-limits", "warning", "a container has no CPU or memory limit", no_limits, True),
    Rule(
        "EXD007",
        "executor-not-least-privilege",
        "warning",
        "the executor container is not least-privilege",
        executor_not_least_privilege,
    ),
    Rule("EXD008", "short-grace-period", "warning", "the grace period is shorter than a job", short_grace_period),
)


def check(spec: Spec, context: Context) -> list[Result]:
    if not context.frontend_url:
        return [
            _spec_result(
                context,
                "spec.frontend.url",
                f"cannot derive the frontend URL: the executors go to namespace {context.namespace!r} but "
                "Sourcegraph's namespace is unknown (no namespaced sourcegraph-frontend Service in the input); "
                "set spec.frontend.url, e.g. http://sourcegraph-frontend.<namespace>.svc.cluster.local:30080",
            )
        ]
    return [
        *_url_results(context),
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
    if not found:
        return [
            _spec_result(
                context,
                "spec.frontend.passwordSecret",
                f"no Secret {name!r} in the input: create it beside the executors with the value of "
                f"executors.accessToken from the site configuration (a secretGenerator in the overlay, or kubectl "
                f"-n {context.namespace or '<namespace>'} create secret generic {name} --from-literal={key}=...)",
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
    rules=RULES,
)
