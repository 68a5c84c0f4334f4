"""`executor-dind audit [--format text|results] [PATH...]`: audit executor workloads in rendered manifests."""

from __future__ import annotations

import sys

from executor_dind.audit import audit
from executor_dind.commands import emit, err
from executor_dind.krm.dump import dump
from executor_dind.krm.errors import InputError
from executor_dind.krm.files import read_input
from executor_dind.results import has_errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    try:
        found = read_input(args.paths, resource_list=True, command="audit")
    except InputError as error:
        for message in error.messages:
            err(f"executor-dind: {message}")
        return 1
    except OSError as error:
        err(f"executor-dind: {error}")
        return 1
    if found.resource_list is not None:
        from executor_dind.process import validated

        return emit(validated(found.resource_list, args.allow_none))
    try:
        findings = audit(found.items, args.allow_none)
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
