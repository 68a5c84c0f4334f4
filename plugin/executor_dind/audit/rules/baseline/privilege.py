"""EXD007, EXD009, EXD016, EXD017: privilege by effect in the executor pod: the executor container least-privilege,
no other privileged container but dind, no host namespaces, no shared process namespace.

EXD007 is an error because the Deployment's checkov skips are object-wide: they cover the executor container too,
so this rule is what keeps it least-privilege."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind.audit.container_env import ContainerEnv
from executor_dind.audit.dockerd_launch import launches
from executor_dind.audit.rules.baseline.reading import mapping
from executor_dind.audit.rules.gvisor import extra_capabilities, is_privileged
from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod
from executor_dind.krm.item import Item
from executor_dind.podspec import containers, is_dind_container, is_executor_container, role_containers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def executor_not_least_privilege(item: Item, scope: Scope) -> Iterator[Finding]:
    """What the Deployment's object-wide checkov skips no longer check on the executor container."""
    spec, base = executor_pod(item)
    pod_context = mapping(spec.get("securityContext"))
    for entry, path in role_containers(spec, base, "executor"):
        context = mapping(entry.get("securityContext"))
        capabilities = mapping(context.get("capabilities"))
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
        seccomp = mapping(context.get("seccompProfile") or pod_context.get("seccompProfile")).get("type")
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
    selinux = mapping(context.get("seLinuxOptions") or pod_context.get("seLinuxOptions")).get("type")
    if selinux in UNCONFINED_SELINUX_TYPES:
        problems.append(f"SELinux type {selinux}")
    apparmor = mapping(context.get("appArmorProfile") or pod_context.get("appArmorProfile")).get("type")
    annotations = mapping(mapping(_template_metadata(item, spec)).get("annotations"))
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


RULES = (
    Rule(
        "EXD007",
        "executor-not-least-privilege",
        "error",
        "the executor container is not least-privilege (privileged, escalation, root, group 0, capabilities, writable "
        "root, no seccomp, `procMount: Unmasked`, SELinux `spc_t`, AppArmor `Unconfined`): the Deployment's checkov "
        "skips are object-wide and cover it too, so this rule is its check",
        executor_not_least_privilege,
    ),
    Rule(
        "EXD009",
        "host-namespaces",
        "error",
        "hostNetwork (bypasses every NetworkPolicy), hostPID, hostIPC or a hostPort",
        host_namespaces,
        True,
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
)
