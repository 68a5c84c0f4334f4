"""EXD002: a service-account token reaches the pod, by any path."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind.audit.rules.baseline.reading import mapping
from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod
from executor_dind.krm.item import Item
from executor_dind.podspec import containers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"


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
        secret = mapping(volume.get("secret"))
        if _token_secret(scope, item.namespace, secret.get("secretName", "")) is not None:
            yield where, f"{named} the service-account token Secret {secret.get('secretName')!r}"
        sources = mapping(volume.get("projected")).get("sources")
        for source in sources if isinstance(sources, list) else []:
            if isinstance(source, dict) and "serviceAccountToken" in source:
                yield where, f"{named} a projected service-account token"
            projected_secret = mapping(mapping(source).get("secret"))
            if _token_secret(scope, item.namespace, projected_secret.get("name", "")) is not None:
                yield where, f"{named} the service-account token Secret {projected_secret.get('name')!r}"
    for entry, path in containers(spec, base):
        for index, var in enumerate(entry.get("env") if isinstance(entry.get("env"), list) else []):
            ref = mapping(mapping(mapping(var).get("valueFrom")).get("secretKeyRef"))
            if ref and _token_secret(scope, item.namespace, ref.get("name", "")) is not None:
                what = f"env {mapping(var).get('name')!r} of {entry.get('name')!r} reads"
                yield f"{path}.env[{index}]", f"{what} the service-account token Secret {ref.get('name')!r}"
        for index, source in enumerate(entry.get("envFrom") if isinstance(entry.get("envFrom"), list) else []):
            ref = mapping(mapping(source).get("secretRef"))
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


RULES = (
    Rule(
        "EXD002",
        "token-mounted",
        "error",
        "a service-account token reaches the pod (automount, a projected token, a token Secret as a volume, a "
        "projected secret, `secretKeyRef` or `envFrom`)",
        token_mounted,
    ),
)
