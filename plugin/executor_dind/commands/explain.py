"""`executor-dind explain --config CFG [--format text|mermaid] [PATH...]`: what would be injected, and why."""

from __future__ import annotations

import sys

from executor_dind import function
from executor_dind.commands import emit, err
from executor_dind.commands.render import config_and_items
from executor_dind.explain import explain
from executor_dind.function_config import parse_function_config
from executor_dind.krm.errors import InputError
from executor_dind.process import input_failure, warnings
from executor_dind.results import sort_results

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    """The verdict is the function's (checks, the upstream conflict, the self-audit); the report is its plan's."""
    loaded = config_and_items(args.config, args.paths)
    if loaded is None:
        return 1
    config, items = loaded
    try:
        outcome = function.run(items, config, config_file=args.config)
    except InputError as error:  # an item the function had to read cannot be built
        return emit(input_failure(error))
    if outcome.failed or outcome.plan is None:
        for result in sort_results(outcome.results):
            err(result.line())
        return 1
    sys.stdout.write(explain(parse_function_config(config), outcome.plan, args.format))
    for line in warnings(outcome.results):
        err(line)
    return 0
