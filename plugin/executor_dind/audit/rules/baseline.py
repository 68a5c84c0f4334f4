"""The baseline's audit rules: the protections every render carries, checked on any rendered executor workload.

Containers are told apart by what they run, not by their names: the executor by its image or its EXECUTOR_*
environment, dind by running dockerd or a dind image. EXD007 is an error because the Deployment's checkov skips
are object-wide: they cover the executor container too, so this rule is what keeps it least-privilege.

Longer than the other modules on purpose: ten small rules that share how dockerd, its flags, daemon.json and
the environment are found; split by rule they would each carry a copy of that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from executor_dind import values
from executor_dind.audit.scope import Finding, Rule, Scope, config_map_data, executor_pod
from executor_dind.krm_io import Item
from executor_dind.podspec import command_words, containers, image_name, role_containers
from executor_dind.values import duration_seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_RUNTIME = "30m"
_LOOPBACK_HOST = r"^(tcp://)?(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/?$|^(unix|fd)://"
DAEMON_JSON = "/etc/docker/daemon.json"
# The dind image's entrypoint (dockerd-entrypoint.sh) run with no arguments or only flags adds these.
ENTRYPOINT_HOSTS = {"": "tcp://0.0.0.0:2375", "tls": "tcp://0.0.0.0:2376"}
# Container runtime sockets, and the node directories that hold them.
RUNTIME_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/var/run/crio/crio.sock",
    "/run/k3s/containerd/containerd.sock",
    "/var/run/cri-dockerd.sock",
)
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"


def _env_value(item: Item, scope: Scope, name: str) -> tuple[Any, Item, str]:
    """An executor env var (or its valueFrom), and the object and field that set it: the workload's env, or
    the data of a ConfigMap it reads through envFrom."""
    spec, base = executor_pod(item)
    for entry, path in role_containers(spec, base, "executor"):
        for index, var in enumerate(entry.get("env") if isinstance(entry.get("env"), list) else []):
            if isinstance(var, dict) and var.get("name") == name:
                return var, item, f"{path}.env[{index}]"
        for source in entry.get("envFrom") if isinstance(entry.get("envFrom"), list) else []:
            ref = source.get("configMapRef") if isinstance(source, dict) else None
            ref_name = ref.get("name", "") if isinstance(ref, dict) else ""
            config_map = scope.config_maps.get((item.namespace, str(ref_name)))
            data = config_map_data(scope, item.namespace, ref_name)
            if name in data and config_map is not None:
                return {"name": name, "value": data[name]}, config_map, f"data.{name}"
    return None, item, ""


def host_flags(words: list[str]) -> tuple[list[str], str]:
    """dockerd's listen addresses in its arguments (`-H x`, `-Hx`, `-H=x`, `--host x`, `--host=x`), and the
    daemon.json it reads (`--config-file`)."""
    hosts, config_file = [], DAEMON_JSON
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        if word in ("-H", "--host"):
            hosts.append(following)
        elif word.startswith("--host="):
            hosts.append(word.split("=", 1)[1])
        elif word.startswith("-H") and not word.startswith("--"):
            hosts.append(word[2:].removeprefix("="))
        elif word == "--config-file":
            config_file = following
        elif word.startswith("--config-file="):
            config_file = word.split("=", 1)[1]
    return hosts, config_file


def dockerd_argvs(entry: dict[str, Any]) -> list[list[str]]:
    """The arguments of each dockerd a container starts, the dind entrypoint's added flags included."""
    found = []
    explicit = isinstance(entry.get("command"), list) and bool(entry.get("command"))
    for words in command_words(entry):
        names = [word.rsplit("/", 1)[-1] for word in words]
        if "dockerd" in names:
            found.append(words[names.index("dockerd") + 1 :])
        elif "dockerd-entrypoint.sh" in names:
            found.append(_entrypoint(entry, words[names.index("dockerd-entrypoint.sh") + 1 :]))
    if not explicit and not found and "dind" in image_name(entry):
        args = entry.get("args") if isinstance(entry.get("args"), list) else []
        found.append(_entrypoint(entry, [str(a) for a in args]))
    return found


def _entrypoint(entry: dict[str, Any], args: list[str]) -> list[str]:
    if args and args[0].rsplit("/", 1)[-1] == "dockerd":
        return args[1:]
    if args and not args[0].startswith("-"):
        return []  # the entrypoint runs some other command
    env = entry.get("env") if isinstance(entry.get("env"), list) else []
    tls_dir = next(
        (v.get("value") for v in env if isinstance(v, dict) and v.get("name") == "DOCKER_TLS_CERTDIR"), "/certs"
    )
    return [f"--host={ENTRYPOINT_HOSTS['tls' if tls_dir else '']}", *args]


def _file_text(item: Item, scope: Scope, entry: dict[str, Any], path: str) -> tuple[str, Item | None, str]:
    """The text of a file a container sees, when a ConfigMap in the output provides it."""
    spec, _ = executor_pod(item)
    listed = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
    volumes = {str(v.get("name")): v for v in listed if isinstance(v, dict)}
    for mount in entry.get("volumeMounts") if isinstance(entry.get("volumeMounts"), list) else []:
        if not isinstance(mount, dict):
            continue
        mount_path = str(mount.get("mountPath", "")).rstrip("/")
        if mount_path == path:
            key = str(mount.get("subPath", ""))
        elif path.startswith(mount_path + "/") and not mount.get("subPath"):
            key = path[len(mount_path) + 1 :]
        else:
            continue
        volume = volumes.get(str(mount.get("name"))) or {}
        sources = [volume.get("configMap")]
        projected = volume.get("projected")
        if isinstance(projected, dict) and isinstance(projected.get("sources"), list):
            sources += [s.get("configMap") for s in projected["sources"] if isinstance(s, dict)]
        for source in sources:
            if not isinstance(source, dict):
                continue
            data_key = key
            for mapping in source.get("items") if isinstance(source.get("items"), list) else []:
                if isinstance(mapping, dict) and mapping.get("path") == key:
                    data_key = str(mapping.get("key"))
            data = config_map_data(scope, item.namespace, source.get("name"))
            if data_key in data:
                return str(data[data_key]), scope.config_maps[(item.namespace, str(source.get("name")))], data_key
    return "", None, ""


def _dockerd_hosts(item: Item, scope: Scope) -> Iterator[tuple[str, Item, str]]:
    """Each address dockerd listens on, with the object and field that say so: its flags (argv, a shell
    script, the dind entrypoint's defaults), DOCKER_HOST, or the daemon.json it reads."""
    spec, base = executor_pod(item)
    for entry, path in role_containers(spec, base, "dind"):
        env = entry.get("env") if isinstance(entry.get("env"), list) else []
        for index, var in enumerate(env):
            if isinstance(var, dict) and var.get("name") == "DOCKER_HOST" and "value" in var:
                yield str(var["value"]), item, f"{path}.env[{index}]"
        for words in dockerd_argvs(entry):
            hosts, config_file = host_flags(words)
            for host in hosts:
                yield host, item, f"{path}.command"
            text, source, key = _file_text(item, scope, entry, config_file)
            try:
                config = json.loads(text) if text else {}
            except ValueError:
                config = {}
            listed = config.get("hosts", []) if isinstance(config, dict) else []
            for host in [listed] if isinstance(listed, str) else listed if isinstance(listed, list) else []:
                assert source is not None
                yield str(host), source, f"data.{key}"


def dockerd_exposed(item: Item, scope: Scope) -> Iterator[Finding]:
    for host, source, path in _dockerd_hosts(item, scope):
        if not re.match(_LOOPBACK_HOST, host):
            yield Finding(
                source,
                path,
                f"dockerd of {item.describe()} listens on {host}: any pod that reaches this pod gets an "
                "unauthenticated, privileged Docker API; bind it to tcp://127.0.0.1:2375 only",
            )
    spec, base = executor_pod(item)
    for entry, path in containers(spec, base):
        for index, port in enumerate(entry.get("ports") if isinstance(entry.get("ports"), list) else []):
            if isinstance(port, dict) and port.get("containerPort") in (2375, 2376):
                number = port["containerPort"]
                yield Finding(item, f"{path}.ports[{index}]", f"declares the Docker API port {number}; remove it")


def token_mounted(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    account = str(spec.get("serviceAccountName") or "default")
    sa = scope.service_accounts.get((item.namespace, account))
    # The pod's own setting wins; unset, the ServiceAccount's applies.
    setting = spec.get("automountServiceAccountToken", sa.obj.get("automountServiceAccountToken") if sa else None)
    if setting is not False:
        yield Finding(
            item,
            f"{base}.automountServiceAccountToken",
            f"a privileged pod mounts the token of ServiceAccount {account!r}: code that escapes a job gets "
            "Kubernetes API credentials; set automountServiceAccountToken: false",
        )
    volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
    for index, volume in enumerate(volumes):
        if not isinstance(volume, dict):
            continue
        projected = volume.get("projected") if isinstance(volume.get("projected"), dict) else {}
        sources = projected.get("sources") if isinstance(projected.get("sources"), list) else []
        secret = volume.get("secret") if isinstance(volume.get("secret"), dict) else {}
        held = scope.secrets.get((item.namespace, str(secret.get("secretName", ""))))
        what = ""
        if any(isinstance(source, dict) and "serviceAccountToken" in source for source in sources):
            what = "a projected service-account token"
        elif held is not None and (
            held.obj.get("type") == TOKEN_SECRET_TYPE or held.annotation("kubernetes.io/service-account.name")
        ):
            what = f"the service-account token Secret {held.name!r}"
        if what:
            yield Finding(
                item,
                f"{base}.volumes[{index}]",
                f"volume {volume.get('name')!r} mounts {what}: code that escapes a job gets Kubernetes API "
                "credentials; remove it",
            )


def literal_password(item: Item, scope: Scope) -> Iterator[Finding]:
    var, source, path = _env_value(item, scope, "EXECUTOR_FRONTEND_PASSWORD")
    if var is not None and "value" in var:
        yield Finding(source, path, f"the password of {item.describe()} is a literal value; use valueFrom.secretKeyRef")


def frontend_url_no_port(item: Item, scope: Scope) -> Iterator[Finding]:
    var, source, path = _env_value(item, scope, "EXECUTOR_FRONTEND_URL")
    url = var.get("value") if isinstance(var, dict) else None
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
        resources = entry.get("resources") if isinstance(entry.get("resources"), dict) else {}
        limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
        missing = [name for name in ("cpu", "memory") if name not in limits]
        if missing:
            yield Finding(
                item, f"{path}.resources.limits", f"container {entry.get('name')!r} has no {'/'.join(missing)} limit"
            )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def executor_not_least_privilege(item: Item, scope: Scope) -> Iterator[Finding]:
    """What the Deployment's object-wide checkov skips no longer check on the executor container."""
    spec, base = executor_pod(item)
    pod_context = _mapping(spec.get("securityContext"))
    for entry, path in role_containers(spec, base, "executor"):
        context = _mapping(entry.get("securityContext"))
        capabilities = _mapping(context.get("capabilities"))
        problems = []
        if context.get("privileged") is not False and context.get("privileged") is not None:
            problems.append("privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation not false")
        if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
            problems.append("runAsNonRoot not set")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            problems.append("runAsUser 0")
        drop = capabilities.get("drop") if isinstance(capabilities.get("drop"), list) else []
        if "ALL" not in drop:
            problems.append("capabilities not dropped")
        if capabilities.get("add"):
            problems.append(f"capabilities added ({', '.join(map(str, capabilities['add']))})")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append("root filesystem writable")
        seccomp = _mapping(context.get("seccompProfile") or pod_context.get("seccompProfile")).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append("no seccomp profile")
        if problems:
            yield Finding(
                item,
                f"{path}.securityContext",
                "the executor container needs no privileges but has: " + ", ".join(problems),
            )


def host_namespaces(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    effects = {
        "hostNetwork": "the node's network: every NetworkPolicy is bypassed and node-local services are reachable",
        "hostPID": "the node's process table: node processes can be inspected and signalled",
        "hostIPC": "the node's IPC namespace",
    }
    for field, effect in effects.items():
        if spec.get(field) is True:
            yield Finding(item, f"{base}.{field}", f"{field}: true puts the pod in {effect}; remove it")
    for entry, path in containers(spec, base):
        for index, port in enumerate(entry.get("ports") if isinstance(entry.get("ports"), list) else []):
            if isinstance(port, dict) and port.get("hostPort"):
                yield Finding(
                    item,
                    f"{path}.ports[{index}].hostPort",
                    f"hostPort {port['hostPort']} opens the pod on the node's address, past every NetworkPolicy; "
                    "remove it",
                )


def host_path(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
    for index, volume in enumerate(volumes):
        if not isinstance(volume, dict) or not isinstance(volume.get("hostPath"), dict):
            continue
        node_path = str(volume["hostPath"].get("path", "")).rstrip("/") or "/"
        sockets = [s for s in RUNTIME_SOCKETS if s == node_path or s.startswith(node_path.rstrip("/") + "/")]
        what = f"the node's container runtime socket ({sockets[0]})" if sockets else f"the node's {node_path}"
        yield Finding(
            item,
            f"{base}.volumes[{index}].hostPath",
            f"volume {volume.get('name')!r} mounts {what}: a job that reaches it controls the node; remove it",
        )


def _grace_and_runtime(item: Item, scope: Scope) -> tuple[Any, Any, int]:
    """The pod's grace period, the executor's maximum job runtime, and that runtime in seconds."""
    spec, _ = executor_pod(item)
    var, _, _ = _env_value(item, scope, "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB")
    runtime = (var.get("value") if isinstance(var, dict) else None) or DEFAULT_RUNTIME
    grace = spec.get("terminationGracePeriodSeconds", 30)
    return grace, runtime, duration_seconds(runtime) if isinstance(runtime, str) else 0


def short_grace_period(item: Item, scope: Scope) -> Iterator[Finding]:
    _, base = executor_pod(item)
    grace, runtime, needed = _grace_and_runtime(item, scope)
    if isinstance(grace, int) and grace < needed:
        yield Finding(
            item,
            f"{base}.terminationGracePeriodSeconds",
            f"{grace}s is shorter than the maximum job runtime ({runtime}): pod termination kills running jobs",
        )


# KEDA's maxReplicaCount when a ScaledObject sets none.
KEDA_DEFAULT_MAX_REPLICAS = 100


def unbounded_scaling(item: Item, scope: Scope) -> Iterator[Finding]:
    for scaler in scope.scalers_of(item):
        spec = _mapping(scaler.obj.get("spec"))
        field = "maxReplicaCount" if scaler.kind == "ScaledObject" else "maxReplicas"
        if not isinstance(spec.get(field), int) or isinstance(spec.get(field), bool):
            default = f" (KEDA's default is {KEDA_DEFAULT_MAX_REPLICAS})" if scaler.kind == "ScaledObject" else ""
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
    for scaler in scope.scalers_of(item):
        yield Finding(
            scaler,
            "spec.scaleTargetRef",
            f"{scaler.describe()} scales {item.describe()} down while its grace period ({grace}s) is shorter than "
            f"the maximum job runtime ({runtime}): every scale-down kills running jobs; set "
            "terminationGracePeriodSeconds to at least the runtime",
        )


CONTROL = "baseline"
RULES = (
    Rule(
        "EXD001",
        "dockerd-exposed",
        "error",
        "dockerd listens beyond loopback (`-H`, `-Hx`, `--host[=]x`, in `sh -c`, `DOCKER_HOST`, daemon.json `hosts`, "
        "the dind image's entrypoint), or port 2375/2376 is declared",
        dockerd_exposed,
    ),
    Rule(
        "EXD002",
        "token-mounted",
        "error",
        "a service-account token reaches the pod (automount, a projected token, a token Secret volume)",
        token_mounted,
    ),
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
        "error",
        "the executor container is not least-privilege (privileged, escalation, root, capabilities, writable root, no "
        "seccomp): the Deployment's checkov skips are object-wide and cover it too, so this rule is its check",
        executor_not_least_privilege,
    ),
    Rule("EXD008", "short-grace-period", "warning", "the grace period is shorter than a job", short_grace_period),
    Rule(
        "EXD009",
        "host-namespaces",
        "error",
        "hostNetwork (bypasses every NetworkPolicy), hostPID, hostIPC or a hostPort",
        host_namespaces,
        True,
    ),
    Rule(
        "EXD010",
        "host-path",
        "error",
        "a hostPath volume, above all the node's container runtime socket",
        host_path,
        True,
    ),
    Rule(
        "EXD011",
        "unbounded-scaling",
        "warning",
        "a ScaledObject or HorizontalPodAutoscaler scales executors with no maximum (KEDA's default is 100)",
        unbounded_scaling,
    ),
    Rule(
        "EXD012",
        "scale-down-kills-jobs",
        "warning",
        "executors are autoscaled while their grace period is shorter than a job: every scale-down kills jobs",
        scale_down_kills_jobs,
    ),
)
