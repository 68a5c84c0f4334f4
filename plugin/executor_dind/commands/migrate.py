"""`executor-dind migrate instances/NAME [--dry-run]`: replace upstream components/executors/dind with ours."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from executor_dind.commands import err, failed
from executor_dind.commands.init import BUILD, cluster_needs
from executor_dind.migrate import migrate
from executor_dind.scaffold import Options, ScaffoldError, write


def run(args: argparse.Namespace) -> int:
    options = Options(way=args.way, profile=args.profile, force=args.force)
    try:
        checkout, changes, migration, prune = migrate(Path(args.instance), options)
        if args.dry_run:
            sys.stdout.write("".join(change.diff(checkout) for change in changes))
            sys.stdout.flush()
        else:
            write(changes)
    except (ScaffoldError, OSError) as error:
        return failed(error)
    out = sys.stderr if args.dry_run else sys.stdout
    for line in migration.mapped:
        out.write(f"mapped: {line}\n")
    for line in migration.unmapped:
        out.write(f"not mapped: {line}\n")
    for path in migration.consumed:
        out.write(f"commented out: patch {path} (its settings are in executor-dind.yaml)\n")
    for change in changes:
        if change.note:
            err(f"executor-dind: {os.path.relpath(change.path)}: {change.note}")
    relative = os.path.relpath(Path(args.instance).resolve())
    if args.dry_run:
        err("executor-dind: dry run: nothing was written")
        return 0
    for change in changes:
        out.write(f"wrote: {os.path.relpath(change.path)}\n")
    err(f"executor-dind: next: {BUILD[options.way].format(dir=relative)} | kubectl apply -f -, then prune:")
    for command in prune:
        err(f"executor-dind:   {command}")
    for need in cluster_needs(options.profile):
        err(f"executor-dind: the {options.profile} profile needs {need}")
    return 0
