"""`executor-dind render --config CFG [PATH|DIR|-]...`: inject executors into manifests, print the YAML stream."""

from __future__ import annotations

from executor_dind.commands import config_refused, emit, err
from executor_dind.inputs import read_config, read_input
from executor_dind.krm_io import InputError
from executor_dind.process import rendered

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def config_and_items(config_path: str, paths: list[str]) -> tuple[Any, list[Any]] | None:
    """The config file and the manifests, or None once stderr has said why they cannot be read. Files a
    directory held that are not Kubernetes objects are said on stderr, one warning line each."""
    try:
        config = read_config(config_path)
        if config_refused(config, config_path):
            return None
        found = read_input(paths, exclude=(config_path,))
        for note in found.skipped:
            err(f"executor-dind: warning {note}")
        return config, found.items
    except InputError as error:
        for message in error.messages:
            err(f"executor-dind: {message}")
        return None
    except OSError as error:
        err(f"executor-dind: {error}")
        return None


def run(args: argparse.Namespace) -> int:
    loaded = config_and_items(args.config, args.paths)
    if loaded is None:
        return 1
    config, items = loaded
    return emit(rendered(items, config))
