"""`executor-dind install-plugin [--plugin-home DIR]`: install the legacy exec plugin for kubectl kustomize."""

from __future__ import annotations

import os
import sys
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

PLUGIN_PATH = ("executor-dind.dev", "v1alpha1", "executordind", "ExecutorDind")


def default_plugin_home() -> Path:
    if os.environ.get("KUSTOMIZE_PLUGIN_HOME"):
        return Path(os.environ["KUSTOMIZE_PLUGIN_HOME"])
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "kustomize" / "plugin"


def run(args: argparse.Namespace) -> int:
    home = Path(args.plugin_home) if args.plugin_home else default_plugin_home()
    target = home.joinpath(*PLUGIN_PATH)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The interpreter that has executor_dind installed, whatever PATH kustomize runs with.
    target.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m executor_dind "$@"\n')
    target.chmod(0o755)
    print(target)
    return 0
