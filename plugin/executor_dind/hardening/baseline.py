"""Baseline: the protections every render carries (DESIGN §3); the model builds them, these rules audit them.

Rules:
  EXD001 dockerd-exposed        error    dockerd listens beyond loopback, or port 2375 is declared
  EXD002 token-mounted          error    the pod can mount a service-account token
  EXD003 literal-password       error    EXECUTOR_FRONTEND_PASSWORD is a literal value
  EXD004 frontend-url-no-port   error    EXECUTOR_FRONTEND_URL has no port (the executor hangs silently)
  EXD005 unpinned-image         warning  an image is not pinned by digest
  EXD006 no-limits              warning  a container has no CPU or memory limit
  EXD007 executor-not-least-privilege  warning  the executor container may run as root or escalate
  EXD008 short-grace-period     warning  a running job is killed before it can finish on pod termination
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from executor_dind.config import duration_seconds
from executor_dind.hardening.common import Finding, Rule, Scope, executor_pod
from executor_dind.krm_io import Item
from executor_dind.podspec import containers

ID = "baseline"
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
    from urllib.parse import urlsplit

    parsed = urlsplit(url)
    if parsed.port is None and (parsed.hostname or "").startswith("sourcegraph-frontend"):
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
    Rule("EXD001", "dockerd-exposed", "error", "dockerd listens beyond loopback", dockerd_exposed),
    Rule("EXD002", "token-mounted", "error", "service-account token mounted in a privileged pod", token_mounted),
    Rule("EXD003", "literal-password", "error", "literal executor password", literal_password),
    Rule("EXD004", "frontend-url-no-port", "error", "frontend URL without a port", frontend_url_no_port),
    Rule("EXD005", "unpinned-image", "warning", "image not pinned by digest", unpinned_image, True),
    Rule("EXD006", "no-limits", "warning", "container without CPU/memory limits", no_limits, True),
    Rule(
        "EXD007",
        "executor-not-least-privilege",
        "warning",
        "executor container not least-privilege",
        executor_not_least_privilege,
    ),
    Rule("EXD008", "short-grace-period", "warning", "grace period shorter than a job", short_grace_period),
)
