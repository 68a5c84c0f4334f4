"""The hardening controls, in the manner of yamllint's rules/: one module each, registered in one table.

Each control module declares ID (its key under spec.hardening), PROFILES (the profiles that turn it on),
GUARANTEES and REQUIRES (for docs and `explain`), `config(spec)`, `apply(spec, context, objects)` (mutates the
objects it is given, may append new ones, returns results) and RULES (audit rules). `baseline` has only rules:
the model builds what it audits.
"""

from __future__ import annotations

from types import ModuleType

from executor_dind.config import Spec
from executor_dind.hardening import baseline, gvisor, network_policy, node_pool, pod_security
from executor_dind.hardening.common import Rule

CONTROLS: dict[str, ModuleType] = {
    node_pool.ID: node_pool,
    gvisor.ID: gvisor,
    network_policy.ID: network_policy,
    pod_security.ID: pod_security,
}
RULES: dict[str, Rule] = {rule.id: rule for module in (baseline, *CONTROLS.values()) for rule in module.RULES}


def get(control_id: str) -> ModuleType:
    if control_id not in CONTROLS:
        raise ValueError(f"no such hardening control: {control_id!r}")
    return CONTROLS[control_id]


def enabled(spec: Spec) -> list[ModuleType]:
    """The controls on for this spec: an explicit `enabled:` wins over the profile."""
    chosen = []
    for module in CONTROLS.values():
        explicit = module.config(spec).enabled
        if explicit or (explicit is None and spec.hardening.profile in module.PROFILES):
            chosen.append(module)
    return chosen
