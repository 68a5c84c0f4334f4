"""The baseline's audit rules: the protections every render carries, checked on any rendered executor workload;
one module per rule family, each declaring its RULES, gathered here in the order of their IDs.

Containers are told apart by what they run, not by their names: the executor by its image or its EXECUTOR_*
environment, dind by running dockerd or a dind image. The pod's containers, volumes and environment are read as
the kubelet, the shell and dockerd read them (audit/container_env, dockerd_launch, pod_files)."""

from __future__ import annotations

from executor_dind.audit.rules.baseline import (
    dockerd,
    executor_env,
    host_volumes,
    images_and_limits,
    lifecycle,
    privilege,
    tokens,
)
from executor_dind.audit.scope import Rule

FAMILIES = (dockerd, tokens, executor_env, images_and_limits, privilege, host_volumes, lifecycle)
CONTROL = "baseline"
RULES: tuple[Rule, ...] = tuple(
    sorted((rule for family in FAMILIES for rule in family.RULES), key=lambda rule: rule.id)
)
