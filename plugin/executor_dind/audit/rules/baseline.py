"""The baseline's audit rules: the protections every render carries, checked on any rendered executor workload.

Containers are told apart by what they run, not by their names: the executor by its image or its EXECUTOR_*
environment, dind by running dockerd or a dind image. EXD007 is an error because the Deployment's checkov skips
are object-wide: they cover the executor container too, so this rule is what keeps it least-privilege.

Longer than the other modules on purpose: small rules that share how the pod's containers, volumes and
environment are read (container_env, dockerd_launch, pod_files read them as the kubelet, the shell and dockerd do).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from executor_dind import values
from executor_dind.audit.container_env import ContainerEnv, EnvVar, object_data
from executor_dind.audit.dockerd_launch import config_hosts, host_flags, launches
from executor_dind.audit.pod_files import read_file
from executor_dind.audit.rules.gvisor import extra_capabilities, is_privileged
from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod
from executor_dind.krm.item import Item
from executor_dind.naming import NOT_PASSWORDS
from executor_dind.podspec import containers, is_dind_container, is_executor_container, role_containers
from executor_dind.values import duration_seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_RUNTIME = "30m"
_HUGE_PORT = re.compile(r"\s*[A-Za-z][-+.A-Za-z0-9]*://[^/:?#\s]*:0*[1-9][0-9]{5,}")
# What Go's url.Parse takes as an authority: the port, if any, ASCII digits up to the path, query or fragment.
_PARSABLE_AUTHORITY = re.compile(r"\s*[A-Za-z][-+.A-Za-z0-9]*://[^/:?#\s]*(:[0-9]*)?([/?#]|$)")
# Go's time.Duration holds at most this many seconds (int64 nanoseconds).
GO_MAX_DURATION_SECONDS = 9223372036
_LOOPBACK_HOST = r"^(tcp://)?(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/?$|^(unix|fd)://"
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


def executor_vars(item: Item, scope: Scope, name: str) -> Iterator[EnvVar]:
    """The variable as each executor container gets it (unset ones skipped)."""
    spec, base = executor_pod(item)
    for entry, path in role_containers(spec, base, "executor"):
        var = ContainerEnv(item, scope, entry, path).get(name)
        if var is not None:
            yield var


def _listens_beyond_loopback(item: Item, host: str, source: Item, path: str) -> Iterator[Finding]:
    if not re.match(_LOOPBACK_HOST, host):
        yield Finding(
            source,
            path,
            f"dockerd of {item.describe()} listens on {host}: any pod that reaches this pod gets an "
            "unauthenticated, privileged Docker API; bind it to tcp://127.0.0.1:2375 only",
        )


def _cannot_determine(item: Item, path: str, why: str) -> Finding:
    return Finding(
        item,
        path,
        f"cannot determine the addresses dockerd of {item.describe()} listens on: {why}; give dockerd its flags "
        "and daemon.json in the render (command, args, a ConfigMap)",
    )


def dockerd_exposed(item: Item, scope: Scope) -> Iterator[Finding]:
    """Each address dockerd listens on as the kubelet, the shell and dockerd read the pod: its flags (argv, a
    shell script, the dind entrypoint's defaults), DOCKER_HOST, and the daemon.json it reads, merged."""
    spec, base = executor_pod(item)
    # Every container: the kubelet or the shell may name dockerd through a variable, whatever the image.
    for entry, path in containers(spec, base):
        env = ContainerEnv(item, scope, entry, path)
        started = launches(entry, env)
        docker_host = env.get("DOCKER_HOST") if started or is_dind_container(entry) else None
        if docker_host is not None and docker_host.value is None:
            yield _cannot_determine(item, docker_host.field_path, f"DOCKER_HOST: {docker_host.why}")
        elif docker_host is not None:
            yield from _listens_beyond_loopback(
                item, str(docker_host.value), docker_host.source, docker_host.field_path
            )
        for launch in started:
            if launch.why:
                yield _cannot_determine(item, f"{path}.command", launch.why)
                continue
            hosts, config_file, explicit = host_flags(launch.words)
            for host in hosts:
                yield from _listens_beyond_loopback(item, host, item, f"{path}.command")
            read = read_file(item, scope, spec, entry, env, config_file)
            written = explicit or (
                launch.script is not None and ("daemon.json" in launch.script or config_file in launch.script)
            )
            if read.why or (read.text is None and written):
                why = read.why or "no ConfigMap or Secret in the render provides it: something running writes it"
                yield _cannot_determine(item, f"{path}.volumeMounts", f"dockerd reads {config_file}, but {why}")
            elif read.text is not None and read.source is not None:
                for host in config_hosts(read.text) or []:
                    yield from _listens_beyond_loopback(item, host, read.source, read.field_path)
    for entry, path in containers(spec, base):
        for index, port in enumerate(entry.get("ports") if isinstance(entry.get("ports"), list) else []):
            if isinstance(port, dict) and port.get("containerPort") in (2375, 2376):
                number = port["containerPort"]
                yield Finding(item, f"{path}.ports[{index}]", f"declares the Docker API port {number}; remove it")


def _token_secret(scope: Scope, namespace: str, name: Any) -> Item | None:
    held = scope.secrets.get((namespace, str(name)))
    if held is not None and (
        held.obj.get("type") == TOKEN_SECRET_TYPE or held.annotation("kubernetes.io/service-account.name")
    ):
        return held
    return None


def _token_references(item: Item, scope: Scope) -> Iterator[tuple[str, str]]:
    """(field, what) for each way a service-account token Secret reaches a container: a secret volume, a
    projected token or secret, an env secretKeyRef, an envFrom secretRef."""
    spec, base = executor_pod(item)
    for index, volume in enumerate(spec.get("volumes") if isinstance(spec.get("volumes"), list) else []):
        if not isinstance(volume, dict):
            continue
        where = f"{base}.volumes[{index}]"
        named = f"volume {volume.get('name')!r} mounts"
        secret = _mapping(volume.get("secret"))
        if _token_secret(scope, item.namespace, secret.get("secretName", "")) is not None:
            yield where, f"{named} the service-account token Secret {secret.get('secretName')!r}"
        sources = _mapping(volume.get("projected")).get("sources")
        for source in sources if isinstance(sources, list) else []:
            if isinstance(source, dict) and "serviceAccountToken" in source:
                yield where, f"{named} a projected service-account token"
            projected_secret = _mapping(_mapping(source).get("secret"))
            if _token_secret(scope, item.namespace, projected_secret.get("name", "")) is not None:
                yield where, f"{named} the service-account token Secret {projected_secret.get('name')!r}"
    for entry, path in containers(spec, base):
        for index, var in enumerate(entry.get("env") if isinstance(entry.get("env"), list) else []):
            ref = _mapping(_mapping(_mapping(var).get("valueFrom")).get("secretKeyRef"))
            if ref and _token_secret(scope, item.namespace, ref.get("name", "")) is not None:
                what = f"env {_mapping(var).get('name')!r} of {entry.get('name')!r} reads"
                yield f"{path}.env[{index}]", f"{what} the service-account token Secret {ref.get('name')!r}"
        for index, source in enumerate(entry.get("envFrom") if isinstance(entry.get("envFrom"), list) else []):
            ref = _mapping(_mapping(source).get("secretRef"))
            if ref and _token_secret(scope, item.namespace, ref.get("name", "")) is not None:
                what = f"envFrom of {entry.get('name')!r} reads"
                yield f"{path}.envFrom[{index}]", f"{what} the service-account token Secret {ref.get('name')!r}"


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
    for field, what in _token_references(item, scope):
        yield Finding(item, field, f"{what}: code that escapes a job gets Kubernetes API credentials; remove it")


def literal_password(item: Item, scope: Scope) -> Iterator[Finding]:
    """The password as the kubelet resolves it: from a Secret, or it is a literal by some name."""
    for var in executor_vars(item, scope, "EXECUTOR_FRONTEND_PASSWORD"):
        if var.origin == "secret":
            continue
        if var.origin == "value":
            what = f"the password of {item.describe()} is a literal value"
        elif var.holder is not None:
            what = f"the password of {item.describe()} comes from {var.holder.describe()}, a literal by another name"
        else:
            what = f"cannot determine that the password of {item.describe()} comes from a Secret: {var.why}"
        yield Finding(var.source, var.field_path, f"{what}; use valueFrom.secretKeyRef")


def frontend_url_no_port(item: Item, scope: Scope) -> Iterator[Finding]:
    for var in executor_vars(item, scope, "EXECUTOR_FRONTEND_URL"):
        url = var.value
        if url is None:
            yield Finding(
                var.source,
                var.field_path,
                f"cannot determine EXECUTOR_FRONTEND_URL of {item.describe()}: {var.why}; set it in the render",
            )
            continue
        # A port of more digits than any port has (leading zeros aside) is out of range, as Go's net reads it;
        # it is never handed to int().
        huge = _HUGE_PORT.match(url) is not None
        _, host, port = values.url_authority(url) if not huge else ("", "", 65536)
        shown = url if len(url) <= 80 else url[:77] + "..."
        if _PARSABLE_AUTHORITY.match(url) is None:
            yield Finding(
                var.source,
                var.field_path,
                f"EXECUTOR_FRONTEND_URL {shown!r} of {item.describe()} is no URL the executor can read (its host or "
                "port is not host[:digits]): the executor cannot connect; use the frontend Service's URL and port "
                "(30080)",
            )
        elif port is not None and not 0 < port < 65536:
            yield Finding(
                var.source,
                var.field_path,
                f"EXECUTOR_FRONTEND_URL {shown!r} of {item.describe()} has a port outside 1-65535: the executor "
                "cannot connect; use the frontend Service's port (30080)",
            )
        elif port is None and host.startswith("sourcegraph-frontend"):
            yield Finding(
                var.source,
                var.field_path,
                f"EXECUTOR_FRONTEND_URL {shown!r} of {item.describe()} has no port: the frontend Service listens "
                "on 30080 and the executor hangs silently at 'Connecting to Sourcegraph instance'",
            )


def unpinned_image(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    for entry, path in containers(spec, base):
        image = str(entry.get("image", ""))
        malformed = values.image(image)
        if malformed is not None:
            # A digest the runtime cannot read pins nothing (and the kubelet cannot pull the image at all).
            yield Finding(item, f"{path}.image", f"image is not pinned by digest: {malformed}")
        elif "@" not in image:
            yield Finding(
                item,
                f"{path}.image",
                f"image {image!r} is not pinned by digest: a tag can be moved to other content; pin it as "
                f"{image}@sha256:DIGEST (`docker buildx imagetools inspect {image}` prints the digest; for "
                "executor-dind's own images, in spec.images)",
            )


def no_limits(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    # Ephemeral containers take no resources: the API server refuses them there.
    for entry, path in containers(spec, base, ("initContainers", "containers")):
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
        problems += _confinement_lifted(item, spec, entry, context, pod_context)
        if problems:
            yield Finding(
                item,
                f"{path}.securityContext",
                "the executor container needs no privileges but has: " + ", ".join(problems),
            )


APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
# SELinux types that lift confinement: the super-privileged container type and the unconfined ones.
UNCONFINED_SELINUX_TYPES = frozenset({"spc_t", "unconfined_t", "container_runtime_t"})


def _confinement_lifted(
    item: Item, spec: dict[str, Any], entry: dict[str, Any], context: dict[str, Any], pod_context: dict[str, Any]
) -> list[str]:
    """What lifts the kernel's confinement of a container or gives it root's group, as the kubelet applies the
    container's securityContext over the pod's (and the AppArmor annotation where no field is set)."""
    problems = []
    if context.get("procMount") == "Unmasked":
        problems.append("procMount Unmasked")
    selinux = _mapping(context.get("seLinuxOptions") or pod_context.get("seLinuxOptions")).get("type")
    if selinux in UNCONFINED_SELINUX_TYPES:
        problems.append(f"SELinux type {selinux}")
    apparmor = _mapping(context.get("appArmorProfile") or pod_context.get("appArmorProfile")).get("type")
    annotations = _mapping(_mapping(_template_metadata(item, spec)).get("annotations"))
    if apparmor == "Unconfined" or (
        apparmor is None and annotations.get(APPARMOR_ANNOTATION + str(entry.get("name"))) == "unconfined"
    ):
        problems.append("AppArmor Unconfined")
    if context.get("runAsGroup", pod_context.get("runAsGroup")) == 0:
        problems.append("runAsGroup 0")
    groups = pod_context.get("supplementalGroups")
    if pod_context.get("fsGroup") == 0 or (isinstance(groups, list) and 0 in groups):
        problems.append("group 0 (fsGroup or supplementalGroups)")
    return problems


def _template_metadata(item: Item, spec: dict[str, Any]) -> Any:
    """The metadata beside the pod spec: the pod template's (or the Pod's own)."""
    node: Any = item.obj
    for key in executor_pod(item)[1].split(".")[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    return node.get("metadata") if isinstance(node, dict) else None


def _runs_dockerd(item: Item, scope: Scope, entry: dict[str, Any], path: str) -> bool:
    return bool(launches(entry, ContainerEnv(item, scope, entry, path)))


def privileged_container(item: Item, scope: Scope) -> Iterator[Finding]:
    """Privilege by effect in every container of the pod but the one that runs dockerd (and the executor, which
    EXD007 holds to least privilege)."""
    spec, base = executor_pod(item)
    for entry, path in containers(spec, base):
        if is_executor_container(entry) and not is_dind_container(entry):
            continue
        added = extra_capabilities(entry)
        held = "is privileged" if is_privileged(entry) else f"adds {', '.join(added)}" if added else ""
        if held and not _runs_dockerd(item, scope, entry, path):
            container_name = f"container {entry.get('name')!r} of {item.describe()}"
            yield Finding(
                item,
                f"{path}.securityContext",
                f"{container_name} {held} but runs no dockerd: only dind needs privileges, and this container hands "
                "them to whatever it runs; remove them",
            )


def shared_process_namespace(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    if spec.get("shareProcessNamespace") is True:
        yield Finding(
            item,
            f"{base}.shareProcessNamespace",
            "shareProcessNamespace: true lets every container of the pod see and signal dockerd, which runs as root "
            "with dind's privileges, and reach its filesystem through /proc; remove it",
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


def _host_path_finding(item: Item, field: str, volume_name: Any, node_path: Any, via: str = "") -> Finding:
    node_path = str(node_path or "").rstrip("/") or "/"
    sockets = [s for s in RUNTIME_SOCKETS if s == node_path or s.startswith(node_path.rstrip("/") + "/")]
    what = f"the node's container runtime socket ({sockets[0]})" if sockets else f"the node's {node_path}"
    return Finding(
        item, field, f"volume {volume_name!r} mounts {what}{via}: a job that reaches it controls the node; remove it"
    )


def bound_volume(item: Item, scope: Scope, claim_name: Any) -> tuple[Item | None, Item | None]:
    """The PersistentVolumeClaim of this name in the workload's namespace and the PersistentVolume it binds (by
    the claim's volumeName or the volume's claimRef), as far as the render holds them."""
    claims = [i for i in scope.items if i.kind == "PersistentVolumeClaim" and i.namespace == item.namespace]
    claim = next((i for i in claims if i.name == str(claim_name)), None)
    volume_name = _mapping(_mapping(claim.obj).get("spec")).get("volumeName") if claim is not None else None
    for candidate in scope.items:
        if candidate.kind != "PersistentVolume":
            continue
        ref = _mapping(_mapping(candidate.obj).get("spec")).get("claimRef")
        by_ref = _mapping(ref).get("name") == str(claim_name) and _mapping(ref).get("namespace", "") == item.namespace
        if (volume_name and candidate.name == volume_name) or by_ref:
            return claim, candidate
    return claim, None


def host_path(item: Item, scope: Scope) -> Iterator[Finding]:
    """hostPath volumes, directly or through the PersistentVolume a mounted claim binds (a `local` one too)."""
    spec, base = executor_pod(item)
    volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
    for index, volume in enumerate(volumes):
        if not isinstance(volume, dict):
            continue
        if isinstance(volume.get("hostPath"), dict):
            host = volume["hostPath"]
            yield _host_path_finding(item, f"{base}.volumes[{index}].hostPath", volume.get("name"), host.get("path"))
        claim = _mapping(volume.get("persistentVolumeClaim")).get("claimName")
        if claim is None:
            continue
        _, bound = bound_volume(item, scope, claim)
        pv_spec = _mapping(bound.obj.get("spec")) if bound is not None else {}
        for kind in ("hostPath", "local"):
            if isinstance(pv_spec.get(kind), dict):
                via = f" through claim {claim!r} bound to {bound.describe() if bound else ''} ({kind})"
                where = f"{base}.volumes[{index}].persistentVolumeClaim"
                yield _host_path_finding(item, where, volume.get("name"), pv_spec[kind].get("path"), via)


# Volume types the node itself mounts (network and block storage): the node's kernel and credentials serve them.
NODE_MOUNTED_VOLUMES = (
    "nfs",
    "iscsi",
    "rbd",
    "cephfs",
    "glusterfs",
    "fc",
    "flexVolume",
    "flocker",
    "cinder",
    "awsElasticBlockStore",
    "gcePersistentDisk",
    "azureDisk",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "photonPersistentDisk",
)


def node_mounted_volume(item: Item, scope: Scope) -> Iterator[Finding]:
    """Network and block storage the node mounts for the pod, directly or through a bound PersistentVolume; and a
    claim the render does not hold, whose volume cannot be determined."""
    spec, base = executor_pod(item)
    volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
    for index, volume in enumerate(volumes):
        if not isinstance(volume, dict):
            continue
        where = f"{base}.volumes[{index}]"
        kind = next((k for k in NODE_MOUNTED_VOLUMES if k in volume), None)
        via = ""
        claim = _mapping(volume.get("persistentVolumeClaim")).get("claimName")
        if claim is not None:
            held, bound = bound_volume(item, scope, claim)
            if held is None and bound is None:
                yield Finding(
                    item,
                    f"{where}.persistentVolumeClaim",
                    f"cannot determine what volume {volume.get('name')!r} mounts: claim {claim!r} is not in the "
                    "render; put the claim (and a bound volume) in the render, or use an emptyDir",
                )
                continue
            pv_spec = _mapping(bound.obj.get("spec")) if bound is not None else {}
            kind = next((k for k in NODE_MOUNTED_VOLUMES if k in pv_spec), None)
            via = f" through claim {claim!r} bound to {bound.describe() if bound else ''}"
            where += ".persistentVolumeClaim"
        if kind is not None:
            yield Finding(
                item,
                where,
                f"volume {volume.get('name')!r} is {kind} storage the node mounts{via}: jobs reach storage shared "
                "beyond this pod, served by the node's kernel and credentials; use an emptyDir",
            )


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
        spec = _mapping(scaler.obj.get("spec"))
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


def bad_password(item: Item, scope: Scope) -> Iterator[Finding]:
    """The password as the kubelet reads it from the render's Secret: empty, a placeholder or an example is none."""
    for var in executor_vars(item, scope, "EXECUTOR_FRONTEND_PASSWORD"):
        if var.origin != "secret" or var.holder is None:
            continue
        value = (var.value or "").strip()
        problem = NOT_PASSWORDS.get(value, "" if value else "is empty")
        if var.value is None and var.key in object_data(var.holder):
            problem = "is not valid base64 (the API server refuses the Secret)"
        elif var.value is None:
            problem = "is missing (the Secret has no such key; the kubelet cannot start the executor)"
        if problem:
            yield Finding(
                var.holder,
                f"data.{var.key}",
                f"the password of {item.describe()} (Secret {var.holder.name!r}, key {var.key!r}) {problem}: "
                "put the value of executors.accessToken from the site configuration there",
            )


def password_not_rendered(item: Item, scope: Scope) -> Iterator[Finding]:
    """A Secret the render does not hold is made by hand or by GitOps beside it: the audit cannot see its value."""
    for var in executor_vars(item, scope, "EXECUTOR_FRONTEND_PASSWORD"):
        if var.origin != "secret" or var.holder is not None or not var.field_path.endswith("secretKeyRef"):
            continue
        name, where = var.holder_name, f" -n {item.namespace}" if item.namespace else ""
        yield Finding(
            var.source,
            var.field_path,
            f"the password Secret {name!r} of {item.describe()} is not in the render, so its value is not checked: "
            f"make sure it exists beside the executors with the value of executors.accessToken (kubectl{where} get "
            f"secret {name}), or generate it in the overlay",
        )


def _prometheus_addresses(scope: Scope) -> set[str]:
    """The cluster addresses of the render's Prometheus Services (named prometheus, as deploy-sourcegraph-k8s's)."""
    addresses = set()
    for service in scope.items:
        # Without a namespace the render's is decided at apply time (kubectl -n): nothing to compare with.
        ours = service.kind == "Service" and service.name == "prometheus" and service.namespace
        spec = _mapping(service.obj.get("spec")) if ours else {}
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
        triggers = _mapping(scaler.obj.get("spec")).get("triggers")
        for index, trigger in enumerate(triggers if isinstance(triggers, list) else []):
            metadata = _mapping(trigger.get("metadata")) if isinstance(trigger, dict) else {}
            address = metadata.get("serverAddress")
            if trigger.get("type") != "prometheus" or not isinstance(address, str):
                continue
            _, host, port = values.url_authority(address)
            if f"{host}:{port or 80}" not in known and host.split(".")[0] == "prometheus":
                yield Finding(
                    scaler,
                    f"spec.triggers[{index}].metadata.serverAddress",
                    f"{scaler.describe()} asks Prometheus at {address}, but the render's Prometheus is at "
                    f"{', '.join(sorted(known))}: KEDA would scale on errors; point serverAddress there (with the "
                    "plain autoscaling component, the replacement in docs/autoscaling.md)",
                )


CONTROL = "baseline"
RULES = (
    Rule(
        "EXD001",
        "dockerd-exposed",
        "error",
        "dockerd listens beyond loopback (`-H`, `-Hx`, `--host[=]x`, after `$(VAR)` and `sh -c` expansion, "
        "`DOCKER_HOST`, daemon.json `hosts` from a ConfigMap, Secret or projected volume, the dind image's "
        "entrypoint), port 2375/2376 is declared, or what dockerd reads cannot be determined",
        dockerd_exposed,
    ),
    Rule(
        "EXD002",
        "token-mounted",
        "error",
        "a service-account token reaches the pod (automount, a projected token, a token Secret as a volume, a "
        "projected secret, `secretKeyRef` or `envFrom`)",
        token_mounted,
    ),
    Rule(
        "EXD003",
        "literal-password",
        "error",
        "the executor password comes from no Secret (a literal, a ConfigMap, or undetermined)",
        literal_password,
    ),
    Rule(
        "EXD004",
        "frontend-url-no-port",
        "error",
        "`EXECUTOR_FRONTEND_URL` has no port or one outside 1-65535 (the executor hangs), or cannot be determined",
        frontend_url_no_port,
    ),
    Rule("EXD005", "unpinned-image", "warning", "an image is not pinned by digest", unpinned_image, True),
    Rule("EXD006", "no-limits", "warning", "a container has no CPU or memory limit", no_limits, True),
    Rule(
        "EXD007",
        "executor-not-least-privilege",
        "error",
        "the executor container is not least-privilege (privileged, escalation, root, group 0, capabilities, writable "
        "root, no seccomp, `procMount: Unmasked`, SELinux `spc_t`, AppArmor `Unconfined`): the Deployment's checkov "
        "skips are object-wide and cover it too, so this rule is its check",
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
        "a hostPath volume, directly or through a bound PersistentVolume (`hostPath`, `local`), above all the node's "
        "container runtime socket",
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
    Rule(
        "EXD013",
        "bad-password",
        "error",
        "the executor password's Secret is empty, init's placeholder, upstream's example, or lacks its key",
        bad_password,
    ),
    Rule(
        "EXD014",
        "password-not-rendered",
        "warning",
        "the executor password's Secret is not in the render (its value cannot be checked)",
        password_not_rendered,
    ),
    Rule(
        "EXD015",
        "prometheus-elsewhere",
        "error",
        "a ScaledObject over executors queries a Prometheus address the render's Prometheus Service does not have",
        prometheus_elsewhere,
    ),
    Rule(
        "EXD016",
        "privileged-container",
        "error",
        "a container other than the one running dockerd (init, sidecar, ephemeral) is privileged or adds "
        "capabilities beyond the runtime default",
        privileged_container,
    ),
    Rule(
        "EXD017",
        "shared-process-namespace",
        "error",
        "`shareProcessNamespace`: every container sees and signals dockerd",
        shared_process_namespace,
    ),
    Rule(
        "EXD018",
        "node-mounted-volume",
        "error",
        "network or block storage the node mounts (nfs, iscsi, ...), directly or through a bound "
        "PersistentVolume; a claim the render does not hold",
        node_mounted_volume,
    ),
)
