"""What a render needs of the cluster it is applied to, read from the render's objects as the API server gets them.

Read from the objects, not the config: whatever a control or a later mode (per-job pods) puts in the pod template
is what the kubelet and the scheduler will be asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from executor_dind.podspec import containers, pod_spec
from executor_dind.records import EMPTY, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PSA_PREFIX = "pod-security.kubernetes.io/"
PASSWORD_VARIABLE = "EXECUTOR_FRONTEND_PASSWORD"
# API groups whose objects need CustomResourceDefinitions: KEDA's kinds are plural in lower case (scaledobjects).
CRD_GROUPS = ("keda.sh",)


class Toleration(Record):
    key: str
    value: str
    effect: str
    operator: str = "Equal"

    def tolerates(self, taint: Mapping[str, Any]) -> bool:
        """The kube-scheduler's rule: same key (or any), same effect (or any), and Exists or an equal value."""
        if self.key and self.key != taint.get("key"):
            return False
        if self.effect and self.effect != taint.get("effect"):
            return False
        return self.operator == "Exists" or self.value == taint.get("value", "")


class SecretRef(Record):
    name: str
    key: str


class Needs(Record):
    """namespace: the executors'. node_selector empty: no node pool. runtime_class "": no sandbox asked for."""

    namespace: str
    node_selector: Mapping[str, str] = EMPTY
    tolerations: tuple[Toleration, ...] = ()
    runtime_class: str = ""
    psa_labels: Mapping[str, str] = EMPTY
    secrets: tuple[SecretRef, ...] = ()
    network_policies: tuple[str, ...] = ()
    crds: tuple[str, ...] = ()
    native_sidecar: bool = False


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _password_refs(spec: dict[str, Any]) -> list[SecretRef]:
    refs = []
    for entry, _ in containers(spec, ""):
        for var in entry.get("env") or ():
            ref = _mapping(_mapping(_mapping(var).get("valueFrom")).get("secretKeyRef"))
            if _mapping(var).get("name") == PASSWORD_VARIABLE and ref.get("name"):
                refs.append(SecretRef(str(ref["name"]), str(ref.get("key", ""))))
    return refs


def _executor_pod_specs(objects: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """The pod specs that run an executor (the containers reading the frontend password)."""
    found = []
    for obj in objects:
        located = pod_spec(obj)
        if located is not None and _password_refs(located[0]):
            found.append(located[0])
    return found


def _tolerations(spec: dict[str, Any]) -> tuple[Toleration, ...]:
    return tuple(
        Toleration(
            str(entry.get("key", "")),
            str(entry.get("value", "")),
            str(entry.get("effect", "")),
            str(entry.get("operator", "Equal")),
        )
        for entry in spec.get("tolerations") or ()
        if isinstance(entry, dict)
    )


def _crd(obj: dict[str, Any]) -> str | None:
    group = str(obj.get("apiVersion", "")).partition("/")[0]
    return f"{str(obj['kind']).lower()}s.{group}" if group in CRD_GROUPS else None


def needs(objects: tuple[dict[str, Any], ...], namespace: str) -> Needs:
    """What the render's objects ask of the cluster; the executors' pods agree on the pool and the sandbox (one
    set of controls renders them all), so the first executor pod's say."""
    pods = _executor_pod_specs(objects)
    first = pods[0] if pods else {}
    own_namespace = next(
        (obj for obj in objects if obj["kind"] == "Namespace" and obj["metadata"]["name"] == namespace), {}
    )
    labels = _mapping(_mapping(own_namespace.get("metadata")).get("labels"))
    return Needs(
        namespace=namespace,
        node_selector=MappingProxyType(dict(_mapping(first.get("nodeSelector")))),
        tolerations=_tolerations(first),
        runtime_class=str(first.get("runtimeClassName", "")),
        psa_labels=MappingProxyType({key: value for key, value in labels.items() if key.startswith(PSA_PREFIX)}),
        secrets=tuple(dict.fromkeys(ref for spec in pods for ref in _password_refs(spec))),
        network_policies=tuple(obj["metadata"]["name"] for obj in objects if obj["kind"] == "NetworkPolicy"),
        crds=tuple(sorted({crd for obj in objects if (crd := _crd(obj))})),
        native_sidecar=any(
            _mapping(entry).get("restartPolicy") == "Always"
            for spec in pods
            for entry in spec.get("initContainers") or ()
        ),
    )
