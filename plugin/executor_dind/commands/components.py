"""`executor-dind components --write DIR`: regenerate the plain Kustomize Components."""

from __future__ import annotations

import argparse
from pathlib import Path

from executor_dind.components import write


def run(args: argparse.Namespace) -> int:
    for path in write(Path(args.write)):
        print(path)
    return 0
