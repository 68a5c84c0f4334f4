"""No subcommand: the KRM function (a ResourceList on stdin), or the legacy exec plugin (argv[1] a config file)."""

from __future__ import annotations

import sys

from executor_dind.commands import emit, err
from executor_dind.process import process


def function() -> int:
    return emit(process(sys.stdin.buffer.read(), "krm"))


def legacy_plugin(config_path: str) -> int:
    """kustomize passes the plugin config file and a YAML stream of its resources."""
    from executor_dind.inputs import read_config
    from executor_dind.krm_io import InputError

    try:
        config = read_config(config_path)
    except InputError as error:
        err(f"executor-dind: {error}")
        return 1
    return emit(process(sys.stdin.buffer.read(), "stream", config))
