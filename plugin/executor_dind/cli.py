"""Command line: argument parsing and dispatch. With no subcommand the KRM function (a ResourceList on stdin), or
the legacy exec plugin when argv[1] is a config file; otherwise the subcommand's module under commands/.

Exit codes: 0 success, 1 an error result (bad config, bad input, a failed audit), 2 a usage error.

Over 300 lines because it holds the argparse tree of every subcommand (built only when a subcommand is parsed:
the KRM path never builds it).
"""

from __future__ import annotations

import gc
import os
import sys

from executor_dind import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

# Subcommand -> its module under executor_dind.commands (imported only when chosen).
SUBCOMMANDS = {
    "render": "render",
    "audit": "audit",
    "explain": "explain",
    "init": "init",
    "install-plugin": "install_plugin",
    "schema": "schema",
    "components": "components",
    "migrate": "migrate",
    "helm-post-render": "helm_post_render",
    "doctor": "doctor",
}


def _width() -> int:
    """The help width shutil would give argparse (COLUMNS, else the terminal's, else 80): argparse imports shutil
    for that as soon as an argument is added, and shutil imports bz2 and lzma, ~2 ms a command."""
    try:
        width = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        width = 0
    if width <= 0:
        try:
            width = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            width = 80
    return (width or 80) - 2


def _help_formatter(prog: str) -> argparse.HelpFormatter:
    import argparse

    return argparse.HelpFormatter(prog, width=_width())


def _example_formatter(prog: str) -> argparse.HelpFormatter:
    """A subcommand's help: its epilog's example lines kept as written."""
    import argparse

    return argparse.RawDescriptionHelpFormatter(prog, width=_width())


def _adoption(command: argparse.ArgumentParser, ways: tuple[str, ...], force: str) -> None:
    """The options init and migrate share."""
    from executor_dind.settings import PROFILES

    said = {
        "krm": "krm: the KRM function (kustomize build --enable-alpha-plugins --enable-exec)",
        "legacy": "legacy: the exec plugin (kubectl kustomize --enable-alpha-plugins)",
        "components": "components: plain Kustomize Components (any kustomize, fewer settings)",
    }
    command.add_argument(
        "--way", choices=ways, default="krm", help="; ".join(said[way] for way in ways) + " (default: krm)"
    )
    command.add_argument(
        "--profile",
        choices=PROFILES,
        default="recommended",
        help="the hardening profile (default: recommended)",
    )
    command.add_argument("--dry-run", action="store_true", help="print the diff, write nothing (default: write)")
    command.add_argument("--force", action="store_true", help=f"{force} (default: refuse)")


def _format(command: argparse.ArgumentParser, **formats: str) -> None:
    """--format, each choice with what it prints; the first is the default."""
    said = "; ".join(f"{name}: {what}" for name, what in formats.items())
    command.add_argument(
        "--format", choices=tuple(formats), default=next(iter(formats)), help=f"{said} (default: text)"
    )


def parser() -> argparse.ArgumentParser:
    import argparse

    top = argparse.ArgumentParser(
        formatter_class=_help_formatter,
        prog="executor-dind",
        description="Sourcegraph executors with a hardened Docker-in-Docker sidecar. With no subcommand: the KRM "
        "function (a ResourceList on stdin, as kustomize --enable-exec and kpt run it), or the legacy "
        "kustomize exec plugin when the first argument is a config file.",
    )
    top.add_argument("--version", action="version", version=f"executor-dind {__version__}")
    subcommands = top.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return subcommands.add_parser(name, formatter_class=_example_formatter, **kwargs)

    render = command(
        "render",
        help="inject executors into manifests and print the YAML stream",
        epilog="example: executor-dind render --config executor-dind.yaml base/ > rendered.yaml",
    )
    render.add_argument("--config", required=True, help="ExecutorDind (or ConfigMap) config file (required)")
    render.add_argument(
        "paths", nargs="*", default=["-"], help="manifest files or directories, - for stdin (default: stdin)"
    )
    audit = command(
        "audit",
        help="audit executor workloads in rendered manifests (exit 1 on errors)",
        epilog="example: kustomize build --enable-alpha-plugins --enable-exec instances/my | executor-dind audit",
    )
    audit.add_argument(
        "--config",
        help="the ExecutorDind (or ConfigMap) config the render was made with: what the audit allows beyond the "
        "defaults (allowedCIDRs, DNS pods, nodeLocalIP, the gVisor RuntimeClass, auditOutOfScope; default: none)",
    )
    _format(audit, text="one line a finding", results="a KRM results list in YAML")
    audit.add_argument(
        "--allow-none", action="store_true", help="no executor workload in the input is fine (default: exit 1)"
    )
    audit.add_argument(
        "paths", nargs="*", help="files or directories (default: stdin; a ResourceList makes it a KRM validator)"
    )
    explain = command(
        "explain",
        help="show what would be injected, the security posture, or a Mermaid diagram of the flows",
        epilog="example: executor-dind explain --config instances/my/executor-dind.yaml rendered.yaml",
    )
    explain.add_argument("--config", required=True, help="ExecutorDind (or ConfigMap) config file (required)")
    _format(explain, text="what is injected and the security posture", mermaid="a diagram of the flows")
    explain.add_argument(
        "paths", nargs="*", help="manifests to derive the namespace and frontend from (default: none, the config's)"
    )
    init = command(
        "init",
        help="add executors to an instance of a deploy-sourcegraph-k8s checkout (--into), or to a copy (--from)",
        epilog="examples: executor-dind init --into instances/my-instance --dry-run\n"
        "          executor-dind init --from instances/template instances/executors --profile baseline",
    )
    init.add_argument(
        "dir", nargs="?", help="with --from: the new instance (default: instances/executors beside the source)"
    )
    init.add_argument(
        "--into", metavar="INSTANCE", help="edit this instance's kustomization.yaml in place (default: use --from)"
    )
    init.add_argument(
        "--from",
        dest="source",
        metavar="INSTANCE",
        help="copy this instance and add executors (default: instances/template, or the only instance)",
    )
    _adoption(init, ("krm", "legacy", "components"), "replace files of ours that differ (never others' content)")
    init.add_argument("--namespace", help="the executors' own namespace (default: Sourcegraph's; strict needs one)")
    migrate = command(
        "migrate",
        help="replace upstream components/executors/dind in an instance with executor-dind",
        description="The upstream component's settings move into executor-dind.yaml, which the KRM function or "
        "the legacy plugin reads (plain components cannot: add those with `executor-dind init --way components`).",
        epilog="example: executor-dind migrate instances/my-instance --dry-run",
    )
    migrate.add_argument("instance", help="the instance directory (instances/NAME)")
    _adoption(migrate, ("krm", "legacy"), "replace an existing executor-dind.yaml")
    install = command(
        "install-plugin",
        help="install the legacy exec plugin for kubectl kustomize, or (--helm) the Helm 4 post-renderer plugin",
        epilog="examples: executor-dind install-plugin && kubectl kustomize --enable-alpha-plugins instances/my\n"
        "          executor-dind install-plugin --helm && helm template x CHART --post-renderer executor-dind",
    )
    install.add_argument(
        "--plugin-home",
        help="default: $KUSTOMIZE_PLUGIN_HOME or ~/.config/kustomize/plugin; with --helm: the first entry of "
        "$HELM_PLUGINS, else $HELM_DATA_HOME/plugins or ~/.local/share/helm/plugins",
    )
    install.add_argument(
        "--helm",
        action="store_true",
        help="write the Helm 4 postrenderer/v1 plugin executor-dind (default: the kustomize plugin)",
    )
    helm = command(
        "helm-post-render",
        help="Helm post-renderer: replace the sourcegraph-executor dind chart's executors with executor-dind's",
        epilog="examples: helm template x CHART --post-renderer executor-dind --post-renderer-args "
        "hardening.profile=strict (Helm 4)\n"
        "          helm template x CHART --post-renderer executor-dind --post-renderer-args helm-post-render (Helm 3)",
    )
    helm.add_argument(
        "--config", help="ExecutorDind (or ConfigMap) file merged over what the chart's objects say (default: none)"
    )
    helm.add_argument(
        "--emit-config",
        action="store_true",
        help="print the merged ExecutorDind config, not the render (default: the render)",
    )
    helm.add_argument(
        "settings", nargs="*", metavar="KEY=VALUE", help="dotted spec keys, e.g. hardening.profile=strict"
    )
    command(
        "schema",
        help="print the JSON Schema of the ExecutorDind config",
        epilog="example: executor-dind schema > executor-dind.schema.json",
    )
    components = command(
        "components",
        help="write the plain Kustomize Components (vendor them into a checkout)",
        epilog="example: executor-dind components --write components --only executor-dind hardening/node-pool",
    )
    components.add_argument("--write", required=True, metavar="DIR", help="the components/ directory (required)")
    components.add_argument(
        "--only", nargs="+", metavar="NAME", help="only these, e.g. executor-dind (default: every component)"
    )
    doctor = command(
        "doctor",
        help="check a live cluster, read-only, for what the render needs (exit 1 when a check fails)",
        description="Reads the cluster through your kubectl (get and list only): the node pool, the gVisor\n"
        "RuntimeClass, the namespace's Pod Security labels, the password Secret, the NetworkPolicies, KEDA's\n"
        "CRDs and the Kubernetes version. Each check prints pass, fail (with the fix) or note; exit 0 when\n"
        "all pass, 1 when one fails, 2 when nothing could be checked.",
        epilog="example: executor-dind doctor --config instances/my/executor-dind.yaml --context production",
    )
    doctor.add_argument("--config", required=True, help="ExecutorDind (or ConfigMap) config file (required)")
    doctor.add_argument(
        "--kubeconfig", help="kubectl's --kubeconfig (default: kubectl's, $KUBECONFIG or ~/.kube/config)"
    )
    doctor.add_argument("--context", help="kubectl's --context (default: the kubeconfig's current context)")
    doctor.add_argument(
        "paths",
        nargs="*",
        help="the instance's manifests, to derive the namespace as render does, - for stdin (default: none, the "
        "config's spec.namespace)",
    )
    command("help", help="this usage, or a command's: executor-dind help COMMAND")
    return top


class _RenderArgs:
    """What argparse makes of `render --config CFG [PATH ...]`."""

    command = "render"

    def __init__(self, config: str, paths: list[str]) -> None:
        self.config, self.paths = config, paths


def _plain_render(argv: list[str]) -> _RenderArgs | None:
    """`render --config CFG [PATH ...]` read without argparse, which with gettext costs render ~4 ms of its
    ~45 (docs/evidence-performance.md); None for any other shape (options, `--`, help, errors): argparse reads those."""
    if argv[:2] != ["render", "--config"] or len(argv) < 3 or argv[2].startswith("-"):
        return None
    paths = argv[3:]
    if any(path.startswith("-") and path != "-" for path in paths):
        return None
    return _RenderArgs(argv[2], paths or ["-"])


def _help(topic: list[str]) -> int:
    """`executor-dind help [COMMAND]`: the usage, on stdout."""
    if topic and topic[0] in SUBCOMMANDS:
        return _dispatch([topic[0], "--help"])
    if topic:
        sys.stderr.write(f"executor-dind: help: no command {topic[0]!r}: choose among {', '.join(SUBCOMMANDS)}\n")
        return 2
    sys.stdout.write(parser().format_help())
    return 0


def _dispatch(argv: list[str]) -> int:
    if argv[:1] == ["help"]:
        return _help(argv[1:])
    if argv and argv[0] not in SUBCOMMANDS and not argv[0].startswith("-") and os.path.isfile(argv[0]):
        from executor_dind.commands import krm

        return krm.legacy_plugin(argv[0])
    if not argv:
        from executor_dind.commands import krm

        return krm.function()
    args = _plain_render(argv) or parser().parse_args(argv)
    if args.command is None:
        from executor_dind.commands import krm

        return krm.function()
    # __import__, not importlib.import_module: importing importlib (and its warnings) costs a command ~0.5 ms.
    name = f"executor_dind.commands.{SUBCOMMANDS[args.command]}"
    __import__(name)
    return sys.modules[name].run(args)


def _run(argv: list[str]) -> int:
    try:
        return _dispatch(argv)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as cat does, with SIGPIPE's status
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        return 141
    except UnicodeError as error:  # undecodable bytes in a file or on stdin
        sys.stderr.write(f"executor-dind: error: the input is not valid UTF-8 ({error.reason})\n")
        return 1
    except Exception as error:  # the last line of defence: a bug must not reach users as a traceback
        if os.environ.get("EXECUTOR_DIND_DEBUG"):
            raise
        sys.stderr.write(f"executor-dind: internal error: {type(error).__name__}: {error} (please report this)\n")
        return 1


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown, which frees every object of the composed input one
    by one: ~10 ms of a KRM run over the upstream base (docs/evidence-performance.md). Every file we write is
    closed by then; only the standard streams are left to flush, and a failed flush is a failed run."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        code = code or 1
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """The console script's entry point. Called with argv (tests, embedding) it returns the exit code; as the
    process itself (argv None) it exits with it at once."""
    # A short-lived process: the cyclic collector only costs time here.
    gc.disable()
    code = _run(sys.argv[1:] if argv is None else argv)
    if argv is None:
        _exit_now(code)
    return code
