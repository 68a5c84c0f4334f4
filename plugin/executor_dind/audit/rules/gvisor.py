"""The gVisor control's audit rules: privileged or capable dind without a sandbox, and a sandbox gone missing."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod
from executor_dind.krm.item import Item
from executor_dind.podspec import role_containers
from executor_dind.runtimes import RUNTIME_DEFAULT_CAPABILITIES, SANDBOX_HANDLERS, WELL_KNOWN_SANDBOX

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONTROL = "gvisor"


def sandboxed(item: Item, scope: Scope, spec: dict[str, Any]) -> bool:
    name = spec.get("runtimeClassName")
    if not isinstance(name, str) or not name:
        return False
    runtime_class = scope.runtime_classes.get(name)
    if runtime_class is not None:
        handler = str(runtime_class.obj.get("handler", ""))
        return handler in SANDBOX_HANDLERS or handler.startswith("kata")
    # The auditor's word (its config's runtimeClassName) that this RuntimeClass is a sandbox; never the item's.
    return name in (WELL_KNOWN_SANDBOX, scope.allowances.sandbox_runtime_class)


def extra_capabilities(entry: dict[str, Any]) -> list[str]:
    """The capabilities a container adds beyond the runtime default."""
    context = entry.get("securityContext") if isinstance(entry.get("securityContext"), dict) else {}
    capabilities = context.get("capabilities") if isinstance(context.get("capabilities"), dict) else {}
    added = capabilities.get("add") if isinstance(capabilities.get("add"), list) else []
    return sorted({str(c).upper().removeprefix("CAP_") for c in added} - RUNTIME_DEFAULT_CAPABILITIES)


def is_privileged(entry: dict[str, Any]) -> bool:
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
        if is_privileged(entry):
            yield Finding(
                item,
                f"{path}.securityContext.privileged",
                f"privileged dind runs untrusted jobs on the host kernel ({_runtime(spec)}): enable "
                "hardening.gvisor (or keep these pods on a dedicated, disposable node pool)",
            )
        elif extra_capabilities(entry):
            yield Finding(
                item,
                f"{path}.securityContext.capabilities",
                f"dind holds {', '.join(extra_capabilities(entry))} on the host kernel ({_runtime(spec)}): "
                "as much as privileged dind; run the pod under a gVisor RuntimeClass",
            )


def sandbox_missing(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    if sandboxed(item, scope, spec):
        return
    for entry, _ in role_containers(spec, base, "dind"):
        extra = extra_capabilities(entry)
        if extra and not is_privileged(entry):
            yield Finding(
                item,
                f"{base}.runtimeClassName",
                f"the pod is laid out for gVisor (it gives dind {', '.join(extra)}) but runs with {_runtime(spec)}: "
                "the sandbox is gone and jobs reach the node's kernel; set runtimeClassName to the gVisor "
                "RuntimeClass",
            )
            return


RULES = (
    Rule(
        "EXD201",
        "privileged-unsandboxed",
        "warning",
        "dind, privileged or with capabilities beyond the runtime default, without a sandbox RuntimeClass",
        privileged_unsandboxed,
    ),
    Rule(
        "EXD202",
        "sandbox-missing",
        "error",
        "a pod laid out for gVisor (dind's capability set) runs without one "
        "(`runtimeClassName` removed, `runc`, a RuntimeClass whose handler is no sandbox)",
        sandbox_missing,
    ),
)
