"""gVisor sandbox: the pod runs under runsc, so dind's privileges stay inside a user-space kernel (control 2).

The pod gets `runtimeClassName`; dind drops `privileged` for the capability set dockerd needs, which gVisor
intercepts in the sandbox instead of granting on the host. gVisor has no overlay filesystem and no netfilter for
dockerd to program, so dockerd runs with `--storage-driver=vfs --iptables=false --ip6tables=false` on the
sized /var/lib/docker emptyDir, after a start-up script gives job containers outbound NAT through the pod
address. These settings are dockerd flags, not daemon.json keys, so this control and the private registry
(which owns `registry-mirrors` in daemon.json) compose as plain Components in any order. Optionally emits the
RuntimeClass (handler `runsc`); GKE Sandbox provides its own `gvisor` RuntimeClass.

Rules (a sandbox: a RuntimeClass in the output whose handler is runsc, gvisor or kata*; or, absent from the
output, the one named `gvisor` (GKE Sandbox's) or the one the render declares in SANDBOX_ANNOTATION):
  EXD201 privileged-unsandboxed  warning  dind, privileged or with capabilities beyond the runtime default,
                                          runs on the host kernel
  EXD202 sandbox-missing         error    a pod laid out for gVisor (dind's capability set instead of
                                          privileged, or a declared sandbox) runs without one
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from executor_dind.config import Spec
from executor_dind.discovery import Context
from executor_dind.hardening.common import Finding, Rule, Scope, executor_pod
from executor_dind.krm_io import Item
from executor_dind.model import CLUSTER_OBJECT_LABELS, checkov_skip_key, set_checkov_skips
from executor_dind.podspec import container, role_containers
from executor_dind.results import Result

ID = "gvisor"
PROFILES = ("strict",)
GUARANTEES = "a container escape lands in gVisor's user-space kernel, not on the node"
REQUIRES = "nodes with the runsc runtime and a RuntimeClass (GKE Sandbox provides `gvisor`)"
CAPABILITIES = (
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_ADMIN",
    "SYS_CHROOT",
    "SYS_PTRACE",
)
DOCKERD_FLAGS = ("--storage-driver=vfs", "--iptables=false", "--ip6tables=false")
START_SCRIPT = "\n".join(
    (
        "set -eu",
        "# gVisor gives dockerd no netfilter: NAT job traffic to the pod address ourselves.",
        "ip link del docker0 2>/dev/null || true",
        "dev=$(ip route show default | awk '{print $5; exit}')",
        'addr=$(ip -4 addr show dev "$dev" | awk \'/inet /{sub(/\\/.*/, "", $2); print $2; exit}\')',
        "echo 1 > /proc/sys/net/ipv4/ip_forward",
        'iptables-legacy -t nat -A POSTROUTING -o "$dev" -p tcp -j SNAT --to-source "$addr"',
        'iptables-legacy -t nat -A POSTROUTING -o "$dev" -p udp -j SNAT --to-source "$addr"',
        "exec dockerd " + " ".join(DOCKERD_FLAGS),
        "",
    )
)
_FLAG_KEYS = ("storage-driver", "iptables", "ip6tables")
# Written on the Deployment when the RuntimeClass has another name than GKE Sandbox's and is not emitted: the
# user's word that this RuntimeClass is a sandbox, for the audit.
SANDBOX_ANNOTATION = "executor-dind.dev/sandbox-runtime-class"
SANDBOX_HANDLERS = ("runsc", "gvisor")
WELL_KNOWN_SANDBOX = "gvisor"
# containerd's and Docker's default capability set: what a container gets without privileged or add.
RUNTIME_DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "NET_RAW",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
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


def config(spec: Spec) -> Any:
    return spec.hardening.gvisor


def apply(spec: Spec, context: Context, objects: list[dict[str, Any]]) -> list[Result]:
    conflicting = [key for key in _FLAG_KEYS if key in spec.docker.daemon_config]
    if conflicting:
        return [
            Result(
                f"docker.daemonConfig sets {', '.join(conflicting)}, which gVisor mode passes to dockerd as flags "
                "(dockerd refuses a setting given both ways): remove them from daemonConfig",
                field_path="spec.docker.daemonConfig",
            )
        ]
    gvisor = spec.hardening.gvisor
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        pod = obj["spec"]["template"]["spec"]
        pod["runtimeClassName"] = gvisor.runtime_class_name
        dind = container(pod, "dind")
        dind["command"] = ["/bin/sh", "-c", START_SCRIPT]
        # drop ALL first: exactly this set, whatever the runtime's defaults.
        capabilities = {"drop": ["ALL"], "add": list(CAPABILITIES)}
        dind["securityContext"] = {"privileged": False, "capabilities": capabilities}
        skips = dict(CHECKOV_SKIPS)
        if checkov_skip_key("CKV_K8S_31") in obj["metadata"].get("annotations", {}):
            skips["CKV_K8S_31"] = SECCOMP_SKIP  # dind as a plain container (docker.nativeSidecar: false)
        set_checkov_skips(obj, skips, remove=("CKV_K8S_16", "CKV_K8S_28", "CKV_K8S_37"))
        if gvisor.runtime_class_name != WELL_KNOWN_SANDBOX and not gvisor.create_runtime_class:
            obj["metadata"]["annotations"][SANDBOX_ANNOTATION] = gvisor.runtime_class_name
    if gvisor.create_runtime_class:
        objects.append(
            {
                "apiVersion": "node.k8s.io/v1",
                "kind": "RuntimeClass",
                "metadata": {"name": gvisor.runtime_class_name, "labels": dict(CLUSTER_OBJECT_LABELS)},
                "handler": "runsc",
            }
        )
    return []


def sandboxed(item: Item, scope: Scope, spec: dict[str, Any]) -> bool:
    name = spec.get("runtimeClassName")
    if not isinstance(name, str) or not name:
        return False
    runtime_class = scope.runtime_classes.get(name)
    if runtime_class is not None:
        handler = str(runtime_class.obj.get("handler", ""))
        return handler in SANDBOX_HANDLERS or handler.startswith("kata")
    return name in (WELL_KNOWN_SANDBOX, item.annotation(SANDBOX_ANNOTATION))


def _extra_capabilities(entry: dict[str, Any]) -> list[str]:
    context = entry.get("securityContext") if isinstance(entry.get("securityContext"), dict) else {}
    capabilities = context.get("capabilities") if isinstance(context.get("capabilities"), dict) else {}
    added = capabilities.get("add") if isinstance(capabilities.get("add"), list) else []
    return sorted({str(c).upper().removeprefix("CAP_") for c in added} - RUNTIME_DEFAULT_CAPABILITIES)


def _privileged(entry: dict[str, Any]) -> bool:
    context = entry.get("securityContext") if isinstance(entry.get("securityContext"), dict) else {}
    return context.get("privileged") not in (None, False)


def _runtime(spec: dict[str, Any]) -> str:
    name = spec.get("runtimeClassName")
    return f"RuntimeClass {name!r}, which is not a sandbox" if name else "no RuntimeClass"


def privileged_unsandboxed(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    if sandboxed(item, scope, spec):
        return
    for entry, path in role_containers(spec, base, "dind"):
        if _privileged(entry):
            yield Finding(
                item,
                f"{path}.securityContext.privileged",
                f"privileged dind runs untrusted jobs on the host kernel ({_runtime(spec)}): enable "
                "hardening.gvisor (or keep these pods on a dedicated, disposable node pool)",
            )
        elif _extra_capabilities(entry):
            yield Finding(
                item,
                f"{path}.securityContext.capabilities",
                f"dind holds {', '.join(_extra_capabilities(entry))} on the host kernel ({_runtime(spec)}): "
                "as much as privileged dind; run the pod under a gVisor RuntimeClass",
            )


def sandbox_missing(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    if sandboxed(item, scope, spec):
        return
    declared = item.annotation(SANDBOX_ANNOTATION)
    for entry, _ in role_containers(spec, base, "dind"):
        extra = _extra_capabilities(entry)
        if (extra and not _privileged(entry)) or declared:
            reason = f"declares the sandbox {declared!r}" if declared else f"gives dind {', '.join(extra)}"
            yield Finding(
                item,
                f"{base}.runtimeClassName",
                f"the pod is laid out for gVisor (it {reason}) but runs with {_runtime(spec)}: the sandbox is "
                "gone and jobs reach the node's kernel; set runtimeClassName to the gVisor RuntimeClass",
            )
            return


RULES = (
    Rule("EXD201", "privileged-unsandboxed", "warning", "privileged dind without gVisor", privileged_unsandboxed),
    Rule("EXD202", "sandbox-missing", "error", "laid out for gVisor, run without it", sandbox_missing),
)
