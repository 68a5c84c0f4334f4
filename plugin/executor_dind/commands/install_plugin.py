"""`executor-dind install-plugin [--helm] [--plugin-home DIR]`: install the legacy exec plugin for kubectl kustomize,
or with --helm the Helm 4 post-renderer plugin (a postrenderer/v1 plugin directory named executor-dind)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

PLUGIN_PATH = ("executor-dind.dev", "v1alpha1", "executordind", "ExecutorDind")
HELM_PLUGIN = "executor-dind"


def default_plugin_home() -> Path:
    if os.environ.get("KUSTOMIZE_PLUGIN_HOME"):
        return Path(os.environ["KUSTOMIZE_PLUGIN_HOME"])
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "kustomize" / "plugin"


def default_helm_plugins() -> Path:
    """Where Helm looks for plugins: $HELM_PLUGINS (its first entry), else Helm's data home's plugins/."""
    listed = [entry for entry in os.environ.get("HELM_PLUGINS", "").split(os.pathsep) if entry]
    if listed:
        return Path(listed[0])
    data_home = os.environ.get("HELM_DATA_HOME") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share"), "helm"
    )
    return Path(data_home) / "plugins"


def _launcher() -> str:
    # The interpreter that has executor_dind installed, whatever PATH the caller runs with.
    return f'#!/bin/sh\nexec "{sys.executable}" -m executor_dind'


def helm_plugin(home: Path) -> Path:
    from executor_dind import __version__

    target = home / HELM_PLUGIN
    target.mkdir(parents=True, exist_ok=True)
    # Helm splits `command` on spaces: a launcher inside the plugin directory keeps the interpreter's path whole.
    launcher = target / "post-render"
    launcher.write_text(f'{_launcher()} helm-post-render "$@"\n')
    launcher.chmod(0o755)
    (target / "plugin.yaml").write_text(
        "apiVersion: v1\n"
        f"name: {HELM_PLUGIN}\n"
        f"version: {__version__}\n"
        "type: postrenderer/v1\n"
        "runtime: subprocess\n"
        "runtimeConfig:\n"
        "  platformCommand:\n"
        "    - command: ${HELM_PLUGIN_DIR}/post-render\n"
    )
    return target


def run(args: argparse.Namespace) -> int:
    if args.helm:
        print(helm_plugin(Path(args.plugin_home) if args.plugin_home else default_helm_plugins()))
        return 0
    home = Path(args.plugin_home) if args.plugin_home else default_plugin_home()
    target = home.joinpath(*PLUGIN_PATH)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f'{_launcher()} "$@"\n')
    target.chmod(0o755)
    print(target)
    return 0
