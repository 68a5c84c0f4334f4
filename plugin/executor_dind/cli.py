"""Command line: argument parsing and dispatch. With no subcommand the KRM function (a ResourceList on stdin), or
the legacy exec plugin when argv[1] is a config file; otherwise the subcommand's module under commands/.

Exit codes: 0 success, 1 an error result (bad config, bad input, a failed audit), 2 a usage error.
"""

from __future__ import annotations

import gc
import os
import sys

from executor_dind import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

# Subcommand -> its module under executor_dind.commands (imported only when chosen).
SUBCOMMANDS = {
    "render": "render",
    "audit": "audit",
    "explain": "explain",
    "init": "init",
    "install-plugin": "install_plugin",
    "schema": "schema",
    "components": "components",
}


def parser() -> argparse.ArgumentParser:
    import argparse

    top = argparse.ArgumentParser(
        prog="executor-dind",
        description="Sourcegraph executors with a hardened Docker-in-Docker sidecar. With no subcommand: the KRM "
        "function (a ResourceList on stdin, as kustomize --enable-exec and kpt run it), or the legacy "
        "kustomize exec plugin when the first argument is a config file.",
    )
    top.add_argument("--version", action="version", version=f"executor-dind {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    render = sub.add_parser("render", help="inject executors into manifests and print the YAML stream")
    render.add_argument("--config", required=True, help="ExecutorDind (or ConfigMap) config file")
    render.add_argument("paths", nargs="*", default=["-"], help="manifest files or directories, - for stdin")
    audit = sub.add_parser("audit", help="audit executor workloads in rendered manifests (exit 1 on errors)")
    audit.add_argument("--format", choices=("text", "results"), default="text")
    audit.add_argument(
        "--allow-none", action="store_true", help="no executor workload in the input is fine (default: exit 1)"
    )
    audit.add_argument(
        "paths", nargs="*", help="files or directories (default: stdin; a ResourceList makes it a KRM validator)"
    )
    explain = sub.add_parser(
        "explain", help="show what would be injected, the security posture, or a Mermaid diagram of the flows"
    )
    explain.add_argument("--config", required=True, help="ExecutorDind (or ConfigMap) config file")
    explain.add_argument("--format", choices=("text", "mermaid"), default="text")
    explain.add_argument("paths", nargs="*", help="manifests to derive the namespace and frontend from (optional)")
    init = sub.add_parser(
        "init", help="scaffold an overlay in a deploy-sourcegraph-k8s checkout (default: instances/executors)"
    )
    init.add_argument("dir", nargs="?", help="the overlay directory (default: <checkout>/instances/executors)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    install = sub.add_parser("install-plugin", help="install the legacy exec plugin for kubectl kustomize")
    install.add_argument("--plugin-home", help="default: $KUSTOMIZE_PLUGIN_HOME or ~/.config/kustomize/plugin")
    sub.add_parser("schema", help="print the JSON Schema of the ExecutorDind config")
    components = sub.add_parser("components", help="regenerate the plain Kustomize Components")
    components.add_argument("--write", required=True, metavar="DIR", help="the components/ directory")
    return top


def _dispatch(argv: list[str]) -> int:
    if argv and argv[0] not in SUBCOMMANDS and not argv[0].startswith("-") and os.path.isfile(argv[0]):
        from executor_dind.commands import krm

        return krm.legacy_plugin(argv[0])
    if not argv:
        from executor_dind.commands import krm

        return krm.function()
    args = parser().parse_args(argv)
    if args.command is None:
        from executor_dind.commands import krm

        return krm.function()
    import importlib

    return importlib.import_module(f"executor_dind.commands.{SUBCOMMANDS[args.command]}").run(args)


def main(argv: list[str] | None = None) -> int:
    # A short-lived process: the cyclic collector only costs time here.
    gc.disable()
    try:
        return _dispatch(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        return 130
    except UnicodeError as error:  # undecodable bytes in a file or on stdin
        sys.stderr.write(f"executor-dind: error: the input is not valid UTF-8 ({error.reason})\n")
        return 1
    except Exception as error:  # the last line of defence: a bug must not reach users as a traceback
        if os.environ.get("EXECUTOR_DIND_DEBUG"):
            raise
        sys.stderr.write(f"executor-dind: internal error: {type(error).__name__}: {error} (please report this)\n")
        return 1
