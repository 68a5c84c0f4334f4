"""Command line: the KRM function (ResourceList on stdin), the legacy exec plugin (argv[1] is a config file), and
the subcommands. Only this module reads the environment, stdin and files; everything else is pure.

Exit codes: 0 success, 1 an error result (bad config, bad input, a failed audit), 2 a usage error.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, Any

from executor_dind import __version__

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

PLUGIN_PATH = ("executor-dind.dev", "v1alpha1", "executordind", "ExecutorDind")
SUBCOMMANDS = ("render", "audit", "explain", "init", "install-plugin", "schema", "components")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
NOT_RESOURCES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization", "Kptfile"})


def _err(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


def _results_stderr(results: list[Any]) -> None:
    from executor_dind.results import sort_results

    for result in sort_results(results):
        _err(result.line())


def krm_main(stdin: bytes) -> int:
    """KRM function: one ResourceList in, one out; results in it, a one-line summary on stderr."""
    from executor_dind import function, krm_io
    from executor_dind.results import Result, has_errors, sort_results, summary

    try:
        resource_list = krm_io.read_resource_list(krm_io.decode(stdin))
    except krm_io.InputError as error:
        resource_list = error.resource_list or krm_io.ResourceList("config.kubernetes.io/v1", [])
        results = [Result(message) for message in error.messages]
    else:
        try:
            outcome = function.run(resource_list.items, resource_list.function_config, file_paths=True)
        except krm_io.InputError as error:  # an item the function had to read cannot be built
            outcome = function.Outcome(resource_list.items, [Result(message) for message in error.messages])
        except Exception as error:  # a bug, or items of a shape nobody expected: still answer with a result
            if os.environ.get("EXECUTOR_DIND_DEBUG"):
                raise
            message = f"internal error: {type(error).__name__}: {error} (please report this)"
            outcome = function.Outcome(resource_list.items, [Result(message.replace("\n", " "))])
        results = outcome.results
        if not outcome.failed:
            resource_list.items = outcome.items
    output = None
    if not has_errors(results):
        resource_list.results = [result.to_krm() for result in sort_results(results)]
        try:
            output = krm_io.write_resource_list(resource_list)
        except krm_io.InputError as error:  # a kept item that must be dumped cannot be
            results = [*results, *(Result(message) for message in error.messages)]
    if output is None:
        # The input as it came, with the results: never fewer or other items than were sent.
        resource_list.results = [result.to_krm() for result in sort_results(results)]
        output = krm_io.write_failure(resource_list)
    sys.stdout.write(output)
    if has_errors(results):
        _err(summary(results))
        return 1
    return 0


def _load_config_file(path: Path) -> Any:
    from executor_dind import krm_io

    try:
        data = path.read_bytes()
    except OSError as error:
        raise krm_io.InputError(f"{path}: cannot read the config: {error}") from None
    return krm_io.read_config(krm_io.decode(data, str(path)), str(path))


def _run_stream(config: Any, items: list[Any]) -> int:
    from executor_dind import function, krm_io
    from executor_dind.results import summary

    try:
        outcome = function.run(items, config)
        output = None if outcome.failed else krm_io.write_stream(outcome.items)
    except krm_io.InputError as error:  # an item that had to be read or written out cannot be
        for message in error.messages:
            _err(f"executor-dind: error: {message}")
        return 1
    if output is None:
        _results_stderr(outcome.results)
        _err(summary(outcome.results))
        return 1
    sys.stdout.write(output)
    return 0


def legacy_main(config_path: str, stdin: bytes) -> int:
    """Legacy exec plugin: kustomize passes the plugin config file and a YAML stream of its resources."""
    from pathlib import Path

    from executor_dind import krm_io

    try:
        config = _load_config_file(Path(config_path))
        items = krm_io.read_stream(krm_io.decode(stdin))
    except krm_io.InputError as error:
        for message in error.messages:
            _err(f"executor-dind: {message}")
        return 1
    return _run_stream(config, items)


def _manifest_texts(paths: list[str]) -> list[tuple[str, str]]:
    from pathlib import Path

    from executor_dind.krm_io import decode

    texts = []
    for raw in paths:
        if raw == "-":
            texts.append(("stdin", decode(sys.stdin.buffer.read())))
            continue
        path = Path(raw)
        files = sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES) if path.is_dir() else [path]
        for file in files:
            if file.name not in NOT_RESOURCES:
                texts.append((str(file), decode(file.read_bytes(), str(file))))
    return texts


def _read_items(paths: list[str]) -> list[Any]:
    from executor_dind import krm_io

    items = []
    for source, text in _manifest_texts(paths):
        items.extend(krm_io.read_stream(text, source))
    return items


def _config_and_items(config_path: str, paths: list[str]) -> tuple[Any, list[Any]] | None:
    """The config file and the manifests, or None once stderr has said why they cannot be read."""
    from pathlib import Path

    from executor_dind import krm_io

    try:
        return _load_config_file(Path(config_path)), _read_items(paths)
    except krm_io.InputError as error:
        for message in error.messages:
            _err(f"executor-dind: {message}")
        return None
    except OSError as error:
        _err(f"executor-dind: {error}")
        return None


def cmd_render(args: argparse.Namespace) -> int:
    loaded = _config_and_items(args.config, args.paths)
    return 1 if loaded is None else _run_stream(*loaded)


def cmd_audit(args: argparse.Namespace) -> int:
    from executor_dind import krm_io
    from executor_dind.audit import audit
    from executor_dind.results import has_errors

    paths = args.paths or ["-"]
    if paths == ["-"]:
        try:
            text = krm_io.decode(sys.stdin.buffer.read())
        except krm_io.InputError as error:
            _err(f"executor-dind: {error}")
            return 1
        if "ResourceList" in text[:4096]:
            try:
                resource_list = krm_io.read_resource_list(text)
            except krm_io.InputError:
                pass
            else:
                return _audit_resource_list(resource_list)
        sources = [("stdin", text)]
    else:
        try:
            sources = _manifest_texts(paths)
        except (OSError, krm_io.InputError) as error:
            _err(f"executor-dind: {error}")
            return 1
    try:
        items = [item for source, text in sources for item in krm_io.read_stream(text, source)]
    except krm_io.InputError as error:
        _err(f"executor-dind: {error}")
        return 1
    findings = audit(items)
    if args.format == "results":
        sys.stdout.write(krm_io.dump({"results": [f.to_krm() for f in findings]}))
    else:
        for finding in findings:
            print(finding.line())
    return 1 if has_errors(findings) else 0


def _audit_resource_list(resource_list: Any) -> int:
    """As a kpt validator: items unchanged, findings as results."""
    from executor_dind import krm_io
    from executor_dind.audit import audit
    from executor_dind.results import has_errors, summary

    findings = audit(resource_list.items)
    resource_list.results = [finding.to_krm() for finding in findings]
    sys.stdout.write(krm_io.write_resource_list(resource_list))
    if has_errors(findings):
        _err(summary(findings))
        return 1
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from executor_dind.config import ConfigError, parse_function_config
    from executor_dind.discovery import discover
    from executor_dind.explain import explain
    from executor_dind.function import build_objects, config_results
    from executor_dind.results import has_errors

    loaded = _config_and_items(args.config, args.paths)
    if loaded is None:
        return 1
    config, items = loaded
    try:
        spec = parse_function_config(config)
    except ConfigError as error:
        _results_stderr(config_results(error, config))
        return 1
    found = discover(spec, items)
    results = list(found.results)
    if found.context is not None:
        objects, control_results, _ = build_objects(spec, found.context)
        results.extend(control_results)
    if found.context is None or has_errors(results):
        _results_stderr(results)
        return 1
    sys.stdout.write(explain(spec, found.context, objects, args.format))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from executor_dind.scaffold import ScaffoldError, scaffold

    try:
        written = scaffold(Path(args.dir) if args.dir else None, Path.cwd(), args.force)
    except ScaffoldError as error:
        _err(f"executor-dind: {error}")
        return 1
    for path in written:
        print(path)
    _err(
        f"executor-dind: next: put executors.accessToken into {written[0].parent}/executor-password.txt, then "
        f"kustomize build --enable-alpha-plugins --enable-exec {written[0].parent}"
    )
    return 0


def default_plugin_home() -> Path:
    from pathlib import Path

    if os.environ.get("KUSTOMIZE_PLUGIN_HOME"):
        return Path(os.environ["KUSTOMIZE_PLUGIN_HOME"])
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "kustomize" / "plugin"


def cmd_install_plugin(args: argparse.Namespace) -> int:
    from pathlib import Path

    home = Path(args.plugin_home) if args.plugin_home else default_plugin_home()
    target = home.joinpath(*PLUGIN_PATH)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The interpreter that has executor_dind installed, whatever PATH kustomize runs with.
    target.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m executor_dind "$@"\n')
    target.chmod(0o755)
    print(target)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from executor_dind.config import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_components(args: argparse.Namespace) -> int:
    from pathlib import Path

    from executor_dind.components import write

    for path in write(Path(args.write)):
        print(path)
    return 0


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
    render.set_defaults(handler=cmd_render)
    audit = sub.add_parser("audit", help="audit executor workloads in rendered manifests (exit 1 on errors)")
    audit.add_argument("--format", choices=("text", "results"), default="text")
    audit.add_argument(
        "paths", nargs="*", help="files or directories (default: stdin; a ResourceList makes it a KRM validator)"
    )
    audit.set_defaults(handler=cmd_audit)
    explain = sub.add_parser(
        "explain", help="show what would be injected, the security posture, or a Mermaid diagram of the flows"
    )
    explain.add_argument("--config", required=True, help="ExecutorDind (or ConfigMap) config file")
    explain.add_argument("--format", choices=("text", "mermaid"), default="text")
    explain.add_argument("paths", nargs="*", help="manifests to derive the namespace and frontend from (optional)")
    explain.set_defaults(handler=cmd_explain)
    init = sub.add_parser(
        "init", help="scaffold an overlay in a deploy-sourcegraph-k8s checkout (default: instances/executors)"
    )
    init.add_argument("dir", nargs="?", help="the overlay directory (default: <checkout>/instances/executors)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.set_defaults(handler=cmd_init)
    install = sub.add_parser("install-plugin", help="install the legacy exec plugin for kubectl kustomize")
    install.add_argument("--plugin-home", help="default: $KUSTOMIZE_PLUGIN_HOME or ~/.config/kustomize/plugin")
    install.set_defaults(handler=cmd_install_plugin)
    schema = sub.add_parser("schema", help="print the JSON Schema of the ExecutorDind config")
    schema.set_defaults(handler=cmd_schema)
    components = sub.add_parser("components", help="regenerate the plain Kustomize Components")
    components.add_argument("--write", required=True, metavar="DIR", help="the components/ directory")
    components.set_defaults(handler=cmd_components)
    return top


def main(argv: list[str] | None = None) -> int:
    # A short-lived process: the cyclic collector only costs time here.
    gc.disable()
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] not in SUBCOMMANDS and not argv[0].startswith("-") and os.path.isfile(argv[0]):
            return legacy_main(argv[0], sys.stdin.buffer.read())
        if not argv:
            return krm_main(sys.stdin.buffer.read())
        args = parser().parse_args(argv)
        if args.command is None:
            return krm_main(sys.stdin.buffer.read())
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except UnicodeError as error:  # undecodable bytes read (strict), or written back (surrogateescape)
        _err(f"executor-dind: error: the input is not valid UTF-8 ({error.reason})")
        return 1
    except Exception as error:  # the last line of defence: a bug must not reach users as a traceback
        if os.environ.get("EXECUTOR_DIND_DEBUG"):
            raise
        _err(f"executor-dind: internal error: {type(error).__name__}: {error} (please report this)")
        return 1
