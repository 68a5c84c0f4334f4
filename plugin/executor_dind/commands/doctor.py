"""`executor-dind doctor --config CFG [--kubeconfig PATH] [--context NAME] [PATH...]`: read-only checks of the
cluster the render is for. Exit 0 when every check passes, 1 when one fails, 2 when the config, the manifests or
the cluster connection cannot be used."""

from __future__ import annotations

import os
import shutil
import sys

from executor_dind import function
from executor_dind.commands import err
from executor_dind.commands.render import config_and_items
from executor_dind.doctor.checks import Query, diagnose, queries
from executor_dind.doctor.kubectl import Kubectl, read, read_all
from executor_dind.doctor.needs import needs
from executor_dind.krm.errors import InputError
from executor_dind.results import sort_results

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

USAGE_ERROR = 2


def _planned(args: argparse.Namespace) -> Any:
    """The render's plan, or None once stderr has said why there is none."""
    # No manifests named: an empty file, never a wait on stdin.
    loaded = config_and_items(args.config, args.paths or [os.devnull])
    if loaded is None:
        return None
    config, items = loaded
    try:
        outcome = function.run(items, config, config_file=args.config)
    except InputError as error:
        for message in error.messages:
            err(f"executor-dind: {message}")
        return None
    if outcome.failed or outcome.plan is None:
        for result in sort_results(outcome.results):
            if result.severity == "error":
                err(result.line())
        return None
    if not outcome.plan.context.namespace:
        err(
            f"executor-dind: doctor: {args.config}: spec.namespace is not set and no manifests name Sourcegraph's "
            "namespace: set spec.namespace, or pass the instance's manifests (executor-dind doctor --config "
            f"{args.config} rendered.yaml)"
        )
        return None
    return outcome.plan


def _kubectl(args: argparse.Namespace) -> Kubectl | None:
    binary = shutil.which("kubectl")
    if binary is None:
        err("executor-dind: doctor: kubectl is not on PATH: install kubectl, the doctor reads the cluster through it")
        return None
    if args.kubeconfig and not os.path.isfile(args.kubeconfig):
        err(f"executor-dind: doctor: --kubeconfig {args.kubeconfig}: no such file: name your kubeconfig file")
        return None
    return Kubectl(binary, args.kubeconfig or "", args.context or "")


def run(args: argparse.Namespace) -> int:
    plan = _planned(args)
    if plan is None:
        return USAGE_ERROR
    kubectl = _kubectl(args)
    if kubectl is None:
        return USAGE_ERROR
    # The server's version first: the one read any user may make, so its failure means no cluster to check.
    version = read(kubectl, Query("version"))
    if version.error:
        where = f" of context {kubectl.context}" if kubectl.context else ""
        err(
            f"executor-dind: doctor: cannot reach the cluster{where}: {version.error}: check --kubeconfig and "
            "--context (kubectl cluster-info)"
        )
        return USAGE_ERROR
    wanted = needs(plan.objects, plan.context.namespace)
    answers = {
        Query("version"): version,
        **read_all(kubectl, tuple(q for q in queries(wanted) if q.resource != "version")),
    }
    lines = diagnose(wanted, answers)
    counts = {status: sum(line.status == status for line in lines) for status in ("pass", "fail", "note")}
    out = [line.text() for line in lines]
    notes = f"{counts['note']} note{'' if counts['note'] == 1 else 's'}"
    out.append(f"doctor: {counts['pass']} passed, {counts['fail']} failed, {notes} (namespace {wanted.namespace})")
    sys.stdout.write("\n".join(out) + "\n")
    return 1 if counts["fail"] else 0
