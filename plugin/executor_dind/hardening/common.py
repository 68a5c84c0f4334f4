"""What every control module shares: the control record, what `apply` returns, and JSON-patch helpers."""

from __future__ import annotations

from collections.abc import Callable

from executor_dind.podspec import pod_spec
from executor_dind.records import Record
from executor_dind.results import Result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.discovery import Context
    from executor_dind.spec import Spec


class Patch(Record):
    """RFC 6902 operations on one of the objects built so far, addressed by kind and name."""

    kind: str
    name: str
    ops: tuple[dict[str, Any], ...]


class Applied(Record):
    """What a control changes: objects it adds, patches to objects built before it, and what it says."""

    added: tuple[dict[str, Any], ...] = ()
    patches: tuple[Patch, ...] = ()
    results: tuple[Result, ...] = ()


def no_check(spec: Spec, context: Context) -> list[Result]:
    return []


def no_validate(spec: Spec, path: str) -> list[tuple[str, str]]:
    return []


class Control(Record):
    """One hardening control (or the baseline), as each module declares it in its CONTROL.

    settings: the control's own record under spec.hardening.<id> (None: the control is always on).
    validate: problems of the spec alone, each at its config field (under path: `spec`, or `data` for a
    ConfigMap), run when the config is parsed, whether the control is on or not.
    check: problems of this spec with this input, found before anything is built.
    apply: what the control adds and changes, given the objects built by the controls before it.
    """

    id: str
    profiles: tuple[str, ...]
    does: str
    guarantees: str
    requires: str
    settings: type | None
    apply: Callable[[Spec, Context, tuple[dict[str, Any], ...]], Applied]
    check: Callable[[Spec, Context], list[Result]] = no_check
    validate: Callable[[Spec, str], list[tuple[str, str]]] = no_validate

    def settings_of(self, spec: Spec) -> Any:
        return None if self.settings is None else getattr(spec.hardening, snake_case(self.id))

    def enabled(self, spec: Spec) -> bool:
        """An explicit `enabled:` wins over the profile."""
        settings = self.settings_of(spec)
        if settings is None:
            return True
        return settings.enabled if settings.enabled is not None else spec.hardening.profile in self.profiles


def snake_case(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def op(operation: str, path: str, value: Any = None) -> dict[str, Any]:
    return {"op": operation, "path": path} if operation == "remove" else {"op": operation, "path": path, "value": value}


def escape_pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def pod_pointer(obj: dict[str, Any]) -> str:
    """The JSON pointer of a workload's pod spec: a Deployment's, a ScaledJob's under its jobTargetRef."""
    located = pod_spec(obj)
    assert located is not None, obj.get("kind")
    return "/" + located[1].replace(".", "/")


def container_pointer(obj: dict[str, Any], name: str) -> str:
    """The JSON pointer of a workload's container (or init container) with this name."""
    pod = pod_spec(obj)
    assert pod is not None, obj.get("kind")
    for key in ("initContainers", "containers"):
        for index, candidate in enumerate(pod[0].get(key) or []):
            if candidate.get("name") == name:
                return f"{pod_pointer(obj)}/{key}/{index}"
    raise LookupError(name)
