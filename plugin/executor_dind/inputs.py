"""What the input of a command is — a ResourceList, a YAML stream, files, directories — decided in one place."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NamedTuple

from executor_dind import krm_io

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
NOT_RESOURCES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization", "Kptfile"})


class Input(NamedTuple):
    """The items read; resource_list is set when stdin held one ResourceList (kpt validator mode)."""

    items: list[krm_io.Item]
    resource_list: krm_io.ResourceList | None = None


def _stdin_text() -> str:
    return sys.stdin.buffer.read().decode("utf-8")


def manifest_texts(paths: list[str]) -> list[tuple[str, str]]:
    """(source, text) of each path: `-` is stdin, a directory its manifest files (recursively)."""
    texts = []
    for raw in paths:
        if raw == "-":
            texts.append(("stdin", _stdin_text()))
            continue
        path = Path(raw)
        files = sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES) if path.is_dir() else [path]
        for file in files:
            if file.name not in NOT_RESOURCES:
                texts.append((str(file), file.read_text()))
    return texts


def read_input(paths: list[str], resource_list: bool = False) -> Input:
    """Items from paths (default stdin). resource_list: stdin may be one ResourceList, whose items are read.

    Raises krm_io.InputError (or OSError, UnicodeDecodeError) with what is wrong and where.
    """
    paths = paths or ["-"]
    if resource_list and paths == ["-"]:
        text = _stdin_text()
        if krm_io.is_resource_list(text):
            found = krm_io.read_resource_list(text)
            return Input(found.items, found)
        return Input(krm_io.read_stream(text))
    return Input([item for source, text in manifest_texts(paths) for item in krm_io.read_stream(text, source)])


def read_config(path: str) -> Any:
    """The config file given to render, explain or the legacy plugin, parsed (not yet validated)."""
    import yaml

    try:
        return krm_io.load(Path(path).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise krm_io.InputError(f"{path}: cannot read the config: {str(error).splitlines()[0]}") from None
