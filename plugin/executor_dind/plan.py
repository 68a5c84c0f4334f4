"""The one pipeline behind every way of use, `explain` and the components: spec and items in, a Plan out.

discover (what the input says) -> check (every problem, before anything is built) -> apply each enabled control
in order (baseline builds the objects, the others add objects and patch them). Pure: nothing here mutates its
inputs, and no node of the spec is shared with an object.
"""

from __future__ import annotations

from executor_dind import hardening
from executor_dind.discovery import Context, discover
from executor_dind.hardening.common import Applied, Control
from executor_dind.records import Record
from executor_dind.results import has_errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.krm.item import Item
    from executor_dind.results import ResourceRef, Result
    from executor_dind.spec import Spec


class Step(Record):
    control: Control
    applied: Applied


class Plan(Record):
    context: Context
    objects: tuple[dict[str, Any], ...]
    controls: tuple[Control, ...]
    results: tuple[Result, ...]
    steps: tuple[Step, ...] = ()

    @property
    def failed(self) -> bool:
        return has_errors(self.results)


# Cluster-scoped objects the namespaced ones need: emitted first, so one `kubectl apply` of the stream succeeds.
PREREQUISITE_KINDS = ("Namespace", "RuntimeClass")


def prerequisites_first(objects: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
    return tuple(sorted(objects, key=lambda obj: obj["kind"] not in PREREQUISITE_KINDS))


def check(spec: Spec, context: Context, controls: tuple[Control, ...]) -> list[Result]:
    return [result for control in controls for result in control.check(spec, context)]


def with_applied(objects: tuple[dict[str, Any], ...], applied: Applied) -> tuple[dict[str, Any], ...]:
    """The objects with a control's patches applied (to copies) and its new objects appended."""
    if not applied.patches:
        return (*objects, *applied.added)
    import jsonpatch

    ops: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for patch in applied.patches:
        ops.setdefault((patch.kind, patch.name), []).extend(patch.ops)
    patched = []
    for obj in objects:
        target = ops.pop((obj["kind"], obj["metadata"]["name"]), None)
        patched.append(obj if target is None else jsonpatch.apply_patch(obj, target))
    assert not ops, f"patches for objects that do not exist: {sorted(ops)}"
    return (*patched, *applied.added)


def plan(spec: Spec, items: list[Item], config_ref: ResourceRef | None = None) -> Plan:
    found = discover(spec, items, config_ref)
    planned = plan_for(spec, found.context)
    return planned._replace(results=(*found.results, *planned.results))


def plan_for(spec: Spec, context: Context) -> Plan:
    """The plan once the input is known: check everything, then apply each enabled control in order."""
    controls = hardening.enabled(spec)
    results = check(spec, context, controls)
    if has_errors(results):
        return Plan(context, (), controls, tuple(results))
    objects: tuple[dict[str, Any], ...] = ()
    steps = []
    for control in controls:
        applied = control.apply(spec, context, objects)
        objects = with_applied(objects, applied)
        results.extend(applied.results)
        steps.append(Step(control, applied))
    return Plan(context, prerequisites_first(objects), controls, tuple(results), tuple(steps))
