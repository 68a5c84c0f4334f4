"""Shared by the control tests: the objects one control makes of the baseline's, and what its check says."""

from __future__ import annotations

from typing import Any

from executor_dind import model
from executor_dind.hardening.common import Control
from executor_dind.plan import with_applied
from executor_dind.results import has_errors

from ..helpers import context, spec


def objects_for(raw: dict[str, Any], namespace: str = "sourcegraph") -> list[dict[str, Any]]:
    return model.build(spec(**raw), context(namespace))


def apply(control: Control, raw: dict[str, Any], namespace: str = "sourcegraph", sg: str = "sourcegraph"):
    """(objects, results): the baseline objects with this one control applied, unless its check found errors."""
    spec_ = spec(**raw)
    ctx = context(namespace, sg)
    objects = tuple(model.build(spec_, ctx))
    results = control.check(spec_, ctx)
    if has_errors(results):
        return list(objects), results
    applied = control.apply(spec_, ctx, objects)
    return list(with_applied(objects, applied)), [*results, *applied.results]
