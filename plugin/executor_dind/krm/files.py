"""What the input of a command is — a ResourceList, a YAML stream, files, directories — decided in one place."""

from __future__ import annotations

import os
import sys

from executor_dind.krm.consumer import duplicate_objects
from executor_dind.krm.errors import InputError
from executor_dind.krm.item import Item, ResourceList
from executor_dind.krm.read import is_resource_list, read_config_text, read_resource_list, read_stream, refuse
from executor_dind.krm.text import decode
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
NOT_RESOURCES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization", "Kptfile"})


class Input(Record):
    """The items read; resource_list is set when stdin held one ResourceList (kpt validator mode); skipped says
    which files of a directory were left out, and why (one warning line each)."""

    items: list[Item]
    resource_list: ResourceList | None = None
    skipped: tuple[str, ...] = ()


def _stdin_text() -> str:
    return decode(sys.stdin.buffer.read())


# What a command reading a kustomization directory tells the user to run instead: render takes the manifests of
# a kustomization without executors; the audit takes the build with them, so with the flags that run the function.
BUILD_FIRST = {
    "render": "kustomize build {root} | executor-dind render --config CFG -",
    "audit": "kustomize build --enable-alpha-plugins --enable-exec {root} | executor-dind audit",
}


def _directory_files(root: str, exclude: frozenset[str], command: str) -> list[str]:
    """A directory's manifests: YAML and JSON files, not under dot-directories (.github, .git), not the config;
    in path order. (os.walk, not pathlib: pathlib costs the render path ~2 ms of imports.)"""
    kustomization = next((name for name in NOT_RESOURCES if os.path.isfile(os.path.join(root, name))), None)
    if kustomization is not None and kustomization != "Kptfile":
        raise InputError(
            f"{root} is a kustomization ({kustomization}): {command} reads manifests, not kustomizations; "
            f"build it first: {BUILD_FIRST[command].format(root=root)}"
        )
    files = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        for name in names:
            if name.startswith(".") or os.path.splitext(name)[1] not in MANIFEST_SUFFIXES or name in NOT_RESOURCES:
                continue
            path = os.path.join(directory, name)
            if os.path.realpath(path) not in exclude and os.path.isfile(path):
                files.append(path)
    return sorted(files, key=lambda path: path.split(os.sep))


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def read_input(
    paths: list[str],
    resource_list: bool = False,
    exclude: tuple[str, ...] = (),
    command: str = "render",
    build: bool = False,
) -> Input:
    """Items from paths (default stdin). resource_list: stdin may be one ResourceList, whose items are read.
    exclude: files a directory scan leaves out (the config file). Documents in a directory's files that are not
    Kubernetes objects (no apiVersion or kind: a JSON Schema, a CI workflow) are skipped, and said. build: streams
    are read for their objects only (read_stream's build: nothing is written back).

    Raises InputError (or OSError) with what is wrong and where.
    """
    paths = paths or ["-"]
    if resource_list and paths == ["-"]:
        text = _stdin_text()
        if is_resource_list(text):
            found = read_resource_list(text)
            return Input(found.items, found)
        return Input(read_stream(text, build=build))
    excluded = frozenset(os.path.realpath(path) for path in exclude)
    items: list[Item] = []
    skipped: list[str] = []
    for raw in paths:
        if raw == "-":
            items.extend(read_stream(_stdin_text(), "stdin", build))
            continue
        path = os.path.normpath(raw)
        if not os.path.isdir(path):
            items.extend(read_stream(decode(_read_bytes(path), path), path, build))
            continue
        for file in _directory_files(path, excluded, command):
            found = read_stream(decode(_read_bytes(file), file), file, build)
            objects = [item for item in found if item.api_version and item.kind]
            if len(objects) < len(found):
                skipped.append(
                    f"{file}: skipped {len(found) - len(objects)} document(s) that are not Kubernetes "
                    "objects (no apiVersion or kind)"
                )
            items.extend(objects)
    refuse(duplicate_objects(items))  # across files: each file's own were refused as it was read
    return Input(items, skipped=tuple(skipped))


def read_config(path: str) -> Any:
    """The config file given to render, explain or the legacy plugin, parsed (not yet validated)."""
    try:
        data = _read_bytes(path)
    except OSError as error:
        raise InputError(f"{path}: cannot read the config: {error}") from None
    return read_config_text(decode(data, path), path)
