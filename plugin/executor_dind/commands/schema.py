"""`executor-dind schema`: print the JSON Schema of the ExecutorDind config."""

from __future__ import annotations

import json

from executor_dind.function_config import json_schema

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0
