"""`executor-dind helm-post-render [--config FILE] [KEY=VALUE ...]`: Helm's post-renderer (Helm 3: this command as
the executable; Helm 4: the postrenderer/v1 plugin `install-plugin --helm` writes). The chart's manifests on
stdin, ours on stdout. Neither Helm shows a post-renderer's stderr on success, and Helm 4 not on failure either:
the report also goes to the stderr of the helm process that ran us, and to the file `report_path()` names."""

from __future__ import annotations

import os
import sys

from executor_dind.commands import err

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def report_path() -> str:
    """$XDG_STATE_HOME/executor-dind/helm-post-render.log, by default ~/.local/state/executor-dind/..."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "executor-dind", "helm-post-render.log")


def overrides(config_path: str | None, settings: list[str]) -> dict[str, Any]:
    """The user's spec tree: the config file (ExecutorDind or dotted ConfigMap), then KEY=VALUE on top.

    Raises InputError or ConfigError with what is wrong."""
    from executor_dind.configmap import dotted_tree
    from executor_dind.function_config import parse_function_config
    from executor_dind.helm import merged
    from executor_dind.krm.files import read_config
    from executor_dind.records import ConfigError
    from executor_dind.spec import Spec

    tree: dict[str, Any] = {}
    if config_path:
        config = read_config(config_path)
        parse_function_config(config)  # the file alone is valid, or its own errors are said
        if isinstance(config, dict) and config.get("kind") == "ConfigMap":
            tree = dotted_tree(dict(config.get("data") or {}), Spec, "data")
        elif isinstance(config, dict):
            tree = dict(config.get("spec") or {})
    pairs = {}
    for setting in settings:
        key, equals, value = setting.partition("=")
        if not equals or not key:
            raise ConfigError(
                [("--post-renderer-args", f"{setting!r} is not KEY=VALUE (e.g. hardening.profile=strict)")]
            )
        pairs[key] = value
    return merged(tree, dotted_tree(pairs, Spec, "--post-renderer-args")) if pairs else tree


def _report(lines: list[str], failed: bool) -> None:
    """Every line on our stderr (Helm 3 shows it when we fail), in the report file, and on the helm process's
    stderr whenever helm would not show ours (success; Helm 4, which sets HELM_PLUGIN_NAME, also on failure)."""
    from executor_dind.commands.krm import _relay_to_the_caller

    path = report_path()
    if failed:
        lines = [*lines, f"executor-dind: nothing was emitted; this report is also in {path}"]
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write("".join(line + "\n" for line in lines))
    except OSError as error:
        lines = [*lines, f"executor-dind: warning: {path}: the report cannot be written ({error.strerror})"]
    for line in lines:
        err(line)
    if not failed or os.environ.get("HELM_PLUGIN_NAME"):
        _relay_to_the_caller(tuple(lines))


def run(args: argparse.Namespace) -> int:
    from executor_dind import helm
    from executor_dind.krm.dump import dump
    from executor_dind.krm.errors import InputError
    from executor_dind.records import ConfigError

    try:
        tree = overrides(args.config, args.settings)
    except InputError as error:
        _report([f"executor-dind: error: {message}" for message in error.messages], failed=True)
        return 1
    except ConfigError as error:
        _report([f"executor-dind: error: {path}: {message}" for path, message in error.problems], failed=True)
        return 1
    try:
        result = helm.post_render(sys.stdin.buffer.read(), tree)
    except Exception as error:  # a bug: Helm 4 would drop the CLI's last-resort line, so report it here
        if os.environ.get("EXECUTOR_DIND_DEBUG"):
            raise
        _report([f"executor-dind: internal error: {type(error).__name__}: {error} (please report this)"], failed=True)
        return 1
    if args.emit_config:
        if result.config is None:
            _report(list(result.lines), failed=True)
            return 1
        sys.stdout.write(dump(result.config))
        return 0
    if result.code == 0:
        try:
            sys.stdout.buffer.write(result.output)
            sys.stdout.flush()
        except OSError as error:
            _report([*result.lines, f"executor-dind: error: stdout: cannot be written ({error.strerror})"], True)
            return 1
    _report(list(result.lines), failed=result.code != 0)
    return result.code
