"""`executor-dind init [--into instances/NAME | --from instances/NAME [DIR]]`: add executors to an instance."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from executor_dind.commands import err, failed
from executor_dind.scaffold import (
    PASSWORD_FILE,
    Change,
    Options,
    ScaffoldError,
    default_source,
    find_checkout,
    from_changes,
    into,
    write,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

TAINT = "executor-dind.dev/untrusted"
BUILD = {
    "krm": "kustomize build --enable-alpha-plugins --enable-exec {dir}",
    "legacy": "executor-dind install-plugin && kubectl kustomize --enable-alpha-plugins {dir}",
    "components": "kubectl kustomize {dir}",
}


def cluster_needs(profile: str) -> list[str]:
    """What the profile's controls need from the cluster, and the command that checks it."""
    needs = []
    if profile in ("recommended", "strict"):
        needs.append(
            f"a node pool labelled {TAINT}=true and tainted {TAINT}=true:NoSchedule "
            f"(check: kubectl get nodes -l {TAINT}=true)"
        )
    if profile == "strict":
        needs.append("gVisor on those nodes and its RuntimeClass gvisor (check: kubectl get runtimeclass gvisor)")
    return needs


def _changes(args: argparse.Namespace, options: Options) -> tuple[Path, Path, list[Change]]:
    if args.into:
        if args.source or args.dir:
            raise ScaffoldError("--into edits an existing instance: it takes no --from and no DIR")
        instance = Path(args.into)
        checkout, changes = into(instance, options)
        return checkout, instance.resolve(), changes
    start = Path(args.source or args.dir or Path.cwd())
    checkout = find_checkout(next(p for p in (start.resolve(), *start.resolve().parents) if p.exists()))
    source = Path(args.source) if args.source else default_source(checkout)
    target = Path(args.dir) if args.dir else source.resolve().parent / "executors"
    _, changes = from_changes(source, target, options)
    return checkout, target.resolve(), changes


def run(args: argparse.Namespace) -> int:
    options = Options(way=args.way, profile=args.profile, namespace=args.namespace or "", force=args.force)
    try:
        checkout, instance, changes = _changes(args, options)
        for change in changes:
            if change.note:
                err(f"executor-dind: {os.path.relpath(change.path)}: {change.note}")
        if args.dry_run:
            sys.stdout.write("".join(change.diff(checkout) for change in changes))
            err(f"executor-dind: dry run: {len(changes)} file(s) would be written; nothing was")
            return 0
        written = write(changes)
    except (ScaffoldError, OSError) as error:
        return failed(error)
    for path in written:
        print(path)
    if not written:
        err(f"executor-dind: {instance} already has executors: nothing to do")
    relative = os.path.relpath(instance)
    err(
        f"executor-dind: next: put executors.accessToken into {relative}/{PASSWORD_FILE}, then "
        + BUILD[options.way].format(dir=relative)
    )
    if options.way == "krm":
        err(
            "executor-dind: upstream's `kubectl kustomize` cannot run a KRM function (it stops at \"external plugins "
            'disabled"): build with the command above'
        )
    for need in cluster_needs(options.profile):
        err(f"executor-dind: the {options.profile} profile needs {need}")
    return 0
