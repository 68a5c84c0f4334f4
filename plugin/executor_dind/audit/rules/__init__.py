"""The audit's rules, one module per control, each declaring its CONTROL (the control's ID) and its RULES in
one shape; registered here once, in the order of the controls. The audit, docs/reference/rules.md and the
auditExceptions check read RULES."""

from __future__ import annotations

from executor_dind.audit.rules import baseline, gvisor, network_policy, node_pool, pod_security
from executor_dind.audit.scope import Rule

MODULES = (baseline, node_pool, gvisor, network_policy, pod_security)
RULES: dict[str, Rule] = {rule.id: rule for module in MODULES for rule in module.RULES}
# Which control's protection each rule checks, by rule ID.
CONTROL_OF: dict[str, str] = {rule.id: module.CONTROL for module in MODULES for rule in module.RULES}
