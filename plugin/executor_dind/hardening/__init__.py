"""The hardening controls, in the manner of yamllint's rules/: one module each, baseline included, each
declaring one `CONTROL` record (hardening/common.py), registered in one table in the order they apply."""

from __future__ import annotations

from executor_dind.hardening import baseline, gvisor, network_policy, node_pool, pod_security
from executor_dind.hardening.common import Control

TYPE_CHECKING = False
if TYPE_CHECKING:
    from executor_dind.spec import Spec

CONTROLS: tuple[Control, ...] = (
    baseline.CONTROL,
    node_pool.CONTROL,
    gvisor.CONTROL,
    network_policy.CONTROL,
    pod_security.CONTROL,
)
BY_ID: dict[str, Control] = {control.id: control for control in CONTROLS}


def get(control_id: str) -> Control:
    if control_id not in BY_ID:
        raise ValueError(f"no such hardening control: {control_id!r}")
    return BY_ID[control_id]


def enabled(spec: Spec) -> tuple[Control, ...]:
    """The controls on for this spec, baseline first, in the order they apply."""
    return tuple(control for control in CONTROLS if control.enabled(spec))
