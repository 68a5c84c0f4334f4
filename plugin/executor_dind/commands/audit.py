"""`executor-dind audit [--config CFG] [--format text|results] [PATH...]`: audit executor workloads in rendered
manifests. What the audit allows beyond the defaults (allowedCIDRs, the DNS pods, the sandbox RuntimeClass,
policy kinds out of scope) comes from CFG, the config the render was made with, never from the manifests."""

from __future__ import annotations

import sys

from executor_dind.audit import audit
from executor_dind.audit.allowances import DEFAULT, Allowances
from executor_dind.commands import emit, err
from executor_dind.krm.dump import dump
from executor_dind.krm.errors import InputError
from executor_dind.krm.files import read_input
from executor_dind.results import has_errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def _allowances(config_path: str | None) -> Allowances | None:
    """The auditor's allowances from its config file (the defaults without one); None once stderr said why not."""
    if not config_path:
        return DEFAULT
    from executor_dind.function_config import parse_function_config
    from executor_dind.krm.files import read_config
    from executor_dind.records import ConfigError

    try:
        return Allowances.of(parse_function_config(read_config(config_path)))
    except InputError as error:
        for message in error.messages:
            err(f"executor-dind: {message}")
    except ConfigError as error:
        for path, problem in error.problems:
            err(f"executor-dind: {config_path}: {path}: {problem}")
    except OSError as error:
        err(f"executor-dind: {error}")
    return None


def run(args: argparse.Namespace) -> int:
    allowances = _allowances(args.config)
    if allowances is None:
        return 1
    try:
        found = read_input(
            args.paths, resource_list=True, command="audit", exclude=(args.config,) if args.config else (), build=True
        )
    except InputError as error:
        for message in error.messages:
            err(f"executor-dind: {message}")
        return 1
    except OSError as error:
        err(f"executor-dind: {error}")
        return 1
    if found.resource_list is not None:
        from executor_dind.process import validated

        return emit(validated(found.resource_list, args.allow_none, allowances))
    try:
        findings = audit(found.items, args.allow_none, allowances=allowances)
    except InputError as error:  # a workload the audit must read cannot be built
        for message in error.messages:
            err(f"executor-dind: {message}")
        return 1
    if args.format == "results":
        sys.stdout.write(dump({"results": [f.to_krm() for f in findings]}))
    else:
        for finding in findings:
            print(finding.line())
    return 1 if has_errors(findings) else 0
