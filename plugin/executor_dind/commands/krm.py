"""No subcommand: the KRM function (a ResourceList on stdin), or the legacy exec plugin (argv[1] a config file)."""

from __future__ import annotations

import sys

from executor_dind.commands import emit, err
from executor_dind.process import process


def function() -> int:
    """The KRM function; a person who typed the bare command (stdin a terminal, or closed) gets the usage. Empty
    stdin stays the KRM error a caller parses (kpt and kustomize always send a ResourceList)."""
    import os

    if sys.stdin is None or sys.stdin.isatty():
        return usage()
    return emit(process(sys.stdin.buffer.read(), "krm", debug=bool(os.environ.get("EXECUTOR_DIND_DEBUG"))))


def usage() -> int:
    from executor_dind.cli import parser

    err(
        parser().format_help().rstrip()
        + "\n\nexecutor-dind: no ResourceList on stdin: with no command it is a KRM function that kustomize or kpt "
        "runs; pick a command above (`executor-dind COMMAND --help`), or `executor-dind init --into instances/NAME`"
    )
    return 2


def legacy_plugin(config_path: str) -> int:
    """kustomize passes the plugin config file and a YAML stream of its resources."""
    from executor_dind.krm.errors import InputError
    from executor_dind.krm.files import read_config

    try:
        config = read_config(config_path)
    except InputError as error:
        err(f"executor-dind: {error}")
        return 1
    processed = process(sys.stdin.buffer.read(), "stream", config, config_path)
    if processed.code == 0 and processed.messages:
        _relay_to_the_caller(processed.messages)
    return emit(processed)


def _relay_to_the_caller(lines: tuple[str, ...]) -> None:
    """kustomize and kubectl keep a legacy plugin's stderr in a buffer they show only when it fails: on success
    the warnings also go to the stderr of the kustomize process that ran us, which is the user's, unless that is
    already where our stderr goes (a plugin run by hand)."""
    import os

    caller = f"/proc/{os.getppid()}/fd/2"
    try:
        theirs, ours = os.stat(caller), os.fstat(2)
        if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino):
            return
        with open(caller, "a", encoding="utf-8") as stream:
            stream.write("".join(line + "\n" for line in lines))
    except OSError:
        pass  # no /proc, or not ours to write to: the lines still go to our own stderr
