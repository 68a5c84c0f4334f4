"""`executor-dind explain --config CFG [--format text|mermaid] [PATH...]`: what would be injected, and why."""

from __future__ import annotations

import argparse
import sys

from executor_dind.commands import err
from executor_dind.commands.render import config_and_items
from executor_dind.explain import explain
from executor_dind.function_config import config_ref, config_results, parse_function_config
from executor_dind.plan import plan
from executor_dind.process import warnings
from executor_dind.records import ConfigError
from executor_dind.results import sort_results


def run(args: argparse.Namespace) -> int:
    loaded = config_and_items(args.config, args.paths)
    if loaded is None:
        return 1
    config, items = loaded
    try:
        spec = parse_function_config(config)
    except ConfigError as error:
        results = config_results(error, config)
    else:
        planned = plan(spec, items, config_ref(config))
        if not planned.failed:
            sys.stdout.write(explain(spec, planned, args.format))
            for line in warnings(planned.results):
                err(line)
            return 0
        results = list(planned.results)
    for result in sort_results(results):
        err(result.line())
    return 1
