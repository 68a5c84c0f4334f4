"""EXD010, EXD018: volumes that hand the pod the node: hostPath (directly or through a bound PersistentVolume)
and storage the node mounts."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind.audit.rules.baseline.reading import mapping
from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod
from executor_dind.krm.item import Item

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
    volume_name = mapping(mapping(claim.obj).get("spec")).get("volumeName") if claim is not None else None
    for candidate in scope.items:
        if candidate.kind != "PersistentVolume":
            continue
        ref = mapping(mapping(candidate.obj).get("spec")).get("claimRef")
        by_ref = mapping(ref).get("name") == str(claim_name) and mapping(ref).get("namespace", "") == item.namespace
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
        claim = mapping(volume.get("persistentVolumeClaim")).get("claimName")
        if claim is None:
            continue
        _, bound = bound_volume(item, scope, claim)
        pv_spec = mapping(bound.obj.get("spec")) if bound is not None else {}
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
        claim = mapping(volume.get("persistentVolumeClaim")).get("claimName")
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
            pv_spec = mapping(bound.obj.get("spec")) if bound is not None else {}
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


RULES = (
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
        "EXD018",
        "node-mounted-volume",
        "error",
        "network or block storage the node mounts (nfs, iscsi, ...), directly or through a bound "
        "PersistentVolume; a claim the render does not hold",
        node_mounted_volume,
    ),
)
