"""`executor-dind components --write DIR`: regenerate the plain Kustomize Components."""

from __future__ import annotations

from pathlib import Path

from executor_dind.components import write

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    for path in write(Path(args.write)):
        print(path)
    return 0
