"""`executor-dind init [DIR] [--force]`: scaffold an overlay in a deploy-sourcegraph-k8s checkout."""

from __future__ import annotations

from pathlib import Path

from executor_dind.commands import err
from executor_dind.scaffold import ScaffoldError, scaffold

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    try:
        written = scaffold(Path(args.dir) if args.dir else None, Path.cwd(), args.force)
    except ScaffoldError as error:
        err(f"executor-dind: {error}")
        return 1
    for path in written:
        print(path)
    err(
        f"executor-dind: next: put executors.accessToken into {written[0].parent}/executor-password.txt, then "
        f"kustomize build --enable-alpha-plugins --enable-exec {written[0].parent}"
    )
    return 0
