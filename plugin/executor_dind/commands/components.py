"""`executor-dind components --write DIR [--only NAME...]`: write the plain Kustomize Components."""

from __future__ import annotations

import argparse
from pathlib import Path

from executor_dind.commands import err
from executor_dind.components import UnknownComponent, write


def run(args: argparse.Namespace) -> int:
    try:
        written = write(Path(args.write), tuple(args.only or ()))
    except UnknownComponent as error:
        err(f"executor-dind: --only: {error}")
        return 1
    except OSError as error:
        err(f"executor-dind: {args.write}: cannot be written ({error.strerror}): choose a writable directory")
        return 1
    for path in written:
        print(path)
    return 0
