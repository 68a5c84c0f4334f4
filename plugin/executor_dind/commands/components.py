"""`executor-dind components --write DIR [--only NAME...]`: write the plain Kustomize Components."""

from __future__ import annotations

from pathlib import Path

from executor_dind.commands import failed
from executor_dind.components import UnknownComponent, write

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    try:
        written = write(Path(args.write), tuple(args.only or ()))
    except (UnknownComponent, OSError) as error:
        return failed(error)
    for path in written:
        print(path)
    return 0
