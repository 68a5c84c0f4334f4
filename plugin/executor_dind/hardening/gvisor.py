"""gVisor sandbox: the pod runs under runsc, so dind's privileges stay inside a user-space kernel (docs/hardening.md).

The pod gets `runtimeClassName`; dind drops `privileged` for the capability set dockerd needs, which gVisor
intercepts in the sandbox instead of granting on the host. gVisor has no overlay filesystem and no netfilter for
dockerd to program, so dockerd runs with `--storage-driver=vfs --iptables=false --ip6tables=false` on the
sized /var/lib/docker emptyDir, after a start-up script gives job containers outbound NAT through the pod
address. These settings are dockerd flags, not daemon.json keys, so this control and the private registry
(which owns `registry-mirrors` in daemon.json) compose as plain Components in any order. Optionally emits the
RuntimeClass (handler `runsc`); GKE Sandbox provides its own `gvisor` RuntimeClass.
"""

from __future__ import annotations

from executor_dind.checkov import checkov_skip_key, skip_annotations
from executor_dind.deployment import DEFAULT_ROUTE_DEVICE, dockerd_script
from executor_dind.hardening.common import (
    Applied,
    Control,
    Patch,
    container_pointer,
    escape_pointer,
    op,
    pod_pointer,
)
from executor_dind.naming import CLUSTER_OBJECT_LABELS, EXECUTOR_KINDS
from executor_dind.results import Result
from executor_dind.runtimes import (
    HOST_KERNEL_HANDLERS,
    RUNTIME_DEFAULT_CAPABILITIES,
    is_sandbox_handler,
)
from executor_dind.settings import Gvisor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.discovery import Context
    from executor_dind.spec import Spec
DOCKERD_FLAGS = ("--storage-driver=vfs", "--iptables=false", "--ip6tables=false")
_NAT_LINES = (
    "# gVisor gives dockerd no netfilter: NAT job traffic to the pod address ourselves.",
    "ip link del docker0 2>/dev/null || true",
    DEFAULT_ROUTE_DEVICE,
    '[ -n "$dev" ] || { echo "no default route: no interface to NAT job traffic through" >&2; exit 1; }',
    'addr=$(ip -4 addr show dev "$dev" | awk \'/inet /{sub(/\\/.*/, "", $2); print $2; exit}\')',
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
    'iptables-legacy -t nat -A POSTROUTING -o "$dev" -p tcp -j SNAT --to-source "$addr"',
    'iptables-legacy -t nat -A POSTROUTING -o "$dev" -p udp -j SNAT --to-source "$addr"',
)
START_SCRIPT = "\n".join(("set -eu", *_NAT_LINES, "exec dockerd " + " ".join(DOCKERD_FLAGS), ""))


def start_script(spec: Spec) -> str:
    """START_SCRIPT, with the MTU read from the pod interface when docker.mtu is auto."""
    script = dockerd_script(spec, DOCKERD_FLAGS, _NAT_LINES)
    assert script is not None
    return script


_FLAG_KEYS = ("storage-driver", "iptables", "ip6tables")
# dind's set under gVisor: the runtime default plus what dockerd needs for job containers' mounts and network.
CAPABILITIES = tuple(sorted(RUNTIME_DEFAULT_CAPABILITIES | {"NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"}))
# What this control changes in the executor Deployment's checkov skips (see model.CHECKOV_SKIPS).
CHECKOV_SKIPS = {
    "CKV_K8S_20": "dind only (the executor sets allowPrivilegeEscalation false): no_new_privs on dockerd "
    "would be inherited by every job container and break setuid tools in users' job images; the pod runs "
    "in the gVisor sandbox",
    "CKV_K8S_25": "dind only: dockerd needs this explicit set (runtime defaults plus NET_ADMIN, SYS_ADMIN, "
    "SYS_PTRACE; NET_RAW and NET_ADMIN for the start script's NAT) to run job containers without privileged. "
    "gVisor implements them in its user-space kernel, not on the node",
    "CKV_K8S_39": "dind only: dockerd needs SYS_ADMIN to mount job container filesystems; under gVisor it "
    "is a capability of the sandbox's user-space kernel, not of the node",
}
SECCOMP_SKIP = (
    "dind only (the executor sets seccompProfile RuntimeDefault): under gVisor the container's system "
    "calls never reach the node's kernel; gVisor's user-space kernel serves them and runs under its own "
    "seccomp filter"
)


def validate(spec: Spec, path: str) -> list[tuple[str, str]]:
    """daemon.json keys gVisor mode passes to dockerd as flags (dockerd refuses a setting given both ways)."""
    if not CONTROL.enabled(spec):
        return []
    return [
        (
            f"{path}.docker.daemonConfig.{key}",
            "gVisor mode passes this to dockerd as a flag (dockerd refuses a setting given both ways): remove it "
            "from daemonConfig",
        )
        for key in _FLAG_KEYS
        if key in spec.docker.daemon_config
    ]


def check(spec: Spec, context: Context) -> list[Result]:
    """A runtimeClassName that names a handler running containers on the node's kernel (runc, crun, ...) gives dind
    SYS_ADMIN, NET_ADMIN and SYS_PTRACE on the node: refused unless the input's RuntimeClass of that name, or
    the one this control emits, runs a sandbox."""
    gvisor = spec.hardening.gvisor
    name = gvisor.runtime_class_name
    if gvisor.create_runtime_class or name not in HOST_KERNEL_HANDLERS:
        return []
    handler = context.runtime_classes.get(name)
    if handler is not None and is_sandbox_handler(handler):
        return []
    shown = f"the input's RuntimeClass {name!r} has handler {handler!r}" if handler is not None else "no sandbox"
    return [
        Result(
            f"{name!r} runs containers on the node's kernel ({shown}): dind would hold SYS_ADMIN, NET_ADMIN and "
            "SYS_PTRACE on the node with no sandbox; name the gVisor RuntimeClass (e.g. gvisor, handler runsc), or "
            "set runtimeClassName: gvisor with createRuntimeClass: true",
            "error",
            context.config_ref,
            "spec.hardening.gvisor.runtimeClassName",
        )
    ]


def _annotation_ops(obj: dict[str, Any], skips: dict[str, str], removed: tuple[str, ...]) -> list[dict[str, Any]]:
    """Ops that drop the skips privileged dind needed and carry the ones the sandboxed capability set needs."""
    annotations = obj["metadata"].get("annotations") or {}
    where = "/metadata/annotations/"
    ops = [
        op("remove", where + escape_pointer(checkov_skip_key(check_id)))
        for check_id in removed
        if checkov_skip_key(check_id) in annotations
    ]
    for key, value in skip_annotations(skips).items():
        ops.append(op("replace" if key in annotations else "add", where + escape_pointer(key), value))
    return ops


def _executor_patch(spec: Spec, obj: dict[str, Any]) -> Patch:
    skips = dict(CHECKOV_SKIPS)
    if not spec.docker.native_sidecar:
        skips["CKV_K8S_31"] = SECCOMP_SKIP  # checkov sees dind only as a plain container
    dind = container_pointer(obj, "dind")
    ops = [
        *_annotation_ops(obj, skips, removed=("CKV_K8S_16", "CKV_K8S_28", "CKV_K8S_37")),
        op("replace", f"{dind}/command", ["/bin/sh", "-c", start_script(spec)]),
        op("replace", f"{dind}/securityContext/privileged", False),
        # drop ALL first: exactly this set, whatever the runtime's defaults.
        op("add", f"{dind}/securityContext/capabilities", {"drop": ["ALL"], "add": list(CAPABILITIES)}),
        op("add", f"{pod_pointer(obj)}/runtimeClassName", spec.hardening.gvisor.runtime_class_name),
    ]
    return Patch(obj["kind"], obj["metadata"]["name"], tuple(ops))


def runtime_class(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": name, "labels": dict(CLUSTER_OBJECT_LABELS)},
        "handler": "runsc",
    }


def apply(spec: Spec, context: Context, objects: tuple[dict[str, Any], ...]) -> Applied:
    gvisor = spec.hardening.gvisor
    patches = tuple(_executor_patch(spec, obj) for obj in objects if obj["kind"] in EXECUTOR_KINDS)
    added = (runtime_class(gvisor.runtime_class_name),) if gvisor.create_runtime_class else ()
    return Applied(added=added, patches=patches)


CONTROL = Control(
    id="gvisor",
    profiles=("strict",),
    does="`runtimeClassName`; dind gets a capability set instead of `privileged`; dockerd runs with "
    "`--storage-driver=vfs --iptables=false --ip6tables=false` after a script sets up NAT; optional RuntimeClass "
    "(handler `runsc`)",
    guarantees="a container escape lands in gVisor's user-space kernel, not on the node",
    requires="nodes with the runsc runtime and a RuntimeClass (GKE Sandbox provides `gvisor`)",
    settings=Gvisor,
    check=check,
    validate=validate,
    apply=apply,
)
