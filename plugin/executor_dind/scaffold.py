"""`executor-dind init`: add executors to an instance of a deploy-sourcegraph-k8s checkout.

`--into instances/NAME` edits that instance's kustomization in place (a ruamel.yaml round trip: every comment,
key order and quote style stays), adding only our entries: the transformer (KRM function or legacy plugin) or our
components, and the password Secret's generator; our components go before `components/utils/endpoints`, which
upstream requires to stay last. `--from instances/NAME` copies that instance (the template's `*.template.yaml`
renamed as upstream instructs) into a new one and does the same there, so it builds exactly that instance plus the
executors. The password file is git-ignored and starts as a placeholder: a real password never lands in a file we
write, and an existing one is never replaced.
"""

from __future__ import annotations

import difflib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from executor_dind.function_config import json_schema
from executor_dind.naming import PASSWORD_PLACEHOLDER
from executor_dind.spec import API_VERSION, KIND

FRONTEND_SERVICE = Path("base/sourcegraph/frontend/sourcegraph-frontend.Service.yaml")
TEMPLATE = Path("instances/template/kustomization.template.yaml")
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CONFIG_FILE = "executor-dind.yaml"
SCHEMA_FILE = "executor-dind.schema.json"
PASSWORD_FILE = "executor-password.txt"
ENDPOINTS = "components/utils/endpoints"
SECRET_GENERATOR = {"name": "executor-secret", "files": [f"password={PASSWORD_FILE}"]}
WAYS = ("krm", "legacy", "components")
# The plain components each profile turns on, under the checkout's components/ (vendored there by init).
PROFILE_COMPONENTS = {
    "baseline": ("executor-dind", "executor-dind/private-registry"),
    "recommended": (
        "executor-dind",
        "executor-dind/private-registry",
        "hardening/node-pool",
        "hardening/network-policy",
    ),
}


class ScaffoldError(Exception):
    pass


@dataclass(frozen=True)
class Options:
    way: str = "krm"
    profile: str = "recommended"
    namespace: str = ""
    force: bool = False


@dataclass(frozen=True)
class Change:
    """One file init writes: its text before (None: a new file) and after."""

    path: Path
    before: str | None
    after: str

    def diff(self, root: Path) -> str:
        name = os.path.relpath(self.path, root)
        if self.path.name == SCHEMA_FILE or "/components/" in f"/{name}":
            state = "new file" if self.before is None else "replaced file"
            return f"{state}: {name} ({self.after.count(chr(10))} lines)\n"
        before = (self.before or "").splitlines(keepends=True)
        source = f"a/{name}" if self.before is not None else "/dev/null"
        return "".join(difflib.unified_diff(before, self.after.splitlines(keepends=True), source, f"b/{name}"))


def find_checkout(start: Path) -> Path:
    """The deploy-sourcegraph-k8s checkout containing start (walking up)."""
    for directory in (start, *start.parents):
        if (directory / "base" / "sourcegraph").is_dir() and (directory / "components").is_dir():
            return directory
    raise ScaffoldError(
        f"{start} is not inside a deploy-sourcegraph-k8s checkout (no base/sourcegraph and components/ found "
        "walking up): run init from the checkout, or pass a directory inside it"
    )


def frontend_port(checkout: Path) -> int:
    try:
        service = yaml.safe_load((checkout / FRONTEND_SERVICE).read_text()) or {}
        ports = service["spec"]["ports"]
        return next(int(p["port"]) for p in ports if p.get("name") == "http")
    except (OSError, yaml.YAMLError, KeyError, TypeError, StopIteration, ValueError):
        return 30080


def config_text(checkout: Path, options: Options, sourcegraph_namespace: str = "") -> str:
    port = frontend_port(checkout)
    function = (
        "  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: executor-dind\n"
        if options.way == "krm"
        else ""
    )
    if options.namespace and sourcegraph_namespace:
        namespace = f"  namespace: {options.namespace}   # the executors' own namespace\n"
        frontend = (
            f"  # Sourcegraph's namespace is the instance's, {sourcegraph_namespace}; its frontend listens on {port}.\n"
            f"  frontend:\n    url: http://sourcegraph-frontend.{sourcegraph_namespace}.svc.cluster.local:{port}\n"
        )
    elif options.namespace:
        namespace = f"  namespace: {options.namespace}   # the executors' own namespace\n"
        frontend = "  # frontend.url: derived from the sourcegraph-frontend Service (its FQDN, another namespace)\n"
    else:
        namespace = ""
        frontend = (
            f"  # Found in this checkout: the sourcegraph-frontend Service listens on {port}.\n"
            f"  frontend:\n    url: http://sourcegraph-frontend:{port}\n"
        )
    return (
        f"# yaml-language-server: $schema={SCHEMA_FILE}\n"
        f"apiVersion: {API_VERSION}\n"
        f"kind: {KIND}\n"
        "metadata:\n"
        "  name: executors\n"
        f"{function}"
        "spec:\n"
        f"{namespace}{frontend}"
        "  queues:\n"
        "    - name: all\n"
        "      queueNames: [batches, codeintel]\n"
        "  hardening:\n"
        f"    profile: {options.profile}   # baseline | recommended | strict\n"
    )


def round_trip(text: str, path: Path):
    """A ruamel.yaml loader/dumper keeping the file's indentation, and the loaded document."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.util import load_yaml_guess_indent

    try:
        doc, indent, offset = load_yaml_guess_indent(text)
    except YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ScaffoldError(f"{path}: not valid YAML ({problem}): fix it, then run again") from None
    if not isinstance(doc, CommentedMap):
        raise ScaffoldError(f"{path}: not a Kustomization (a YAML mapping): point at an instance's kustomization")
    loader = YAML()
    loader.preserve_quotes = True
    loader.width = 4096
    # ruamel guesses the sequences' layout ("  - x": element at 4, dash at 2); mappings nest by 2 in kustomizations.
    loader.indent(mapping=2, sequence=indent or 2, offset=offset or 0)
    doc = loader.load(text)
    return loader, doc


def dumped(loader, doc) -> str:
    out = io.StringIO()
    loader.dump(doc, out)
    return out.getvalue()


def add_entry(doc, field: str, value: str | dict, path: Path) -> bool:
    """Add value to the list doc[field] unless it is there (a generator by name); components before endpoints."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    entries = doc.get(field)
    if entries is None:
        doc[field] = CommentedSeq([_commented(value)])
        return True
    if not isinstance(entries, list):
        raise ScaffoldError(f"{path}: `{field}` is not a list: make it one, then run again")
    key = value["name"] if isinstance(value, dict) else value
    if any((e.get("name") if isinstance(e, CommentedMap) else e) == key for e in entries):
        return False
    at = next((i for i, e in enumerate(entries) if isinstance(e, str) and e.rstrip("/").endswith(ENDPOINTS)), None)
    entries.insert(len(entries) if at is None else at, _commented(value))
    return True


def _commented(value: str | dict):
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, str):
        return value
    return CommentedMap((k, CommentedSeq(v) if isinstance(v, list) else v) for k, v in value.items())


def kustomization_of(instance: Path) -> Path:
    for name in KUSTOMIZATION_NAMES:
        if (instance / name).is_file():
            return instance / name
    if (instance / "kustomization.template.yaml").is_file():
        raise ScaffoldError(
            f"{instance} is the template (kustomization.template.yaml): make an instance of it with "
            f"`executor-dind init --from {instance}`"
        )
    raise ScaffoldError(f"{instance} has no kustomization.yaml: pass an instance directory (instances/NAME)")


def _components_entries(checkout: Path, instance: Path, options: Options) -> list[str]:
    if options.profile not in PROFILE_COMPONENTS:
        raise ScaffoldError(
            f"--profile {options.profile} needs the executors' own namespace, which a plain component cannot "
            "know: use --way krm (or legacy) with --namespace NAME"
        )
    relative = os.path.relpath(checkout / "components", instance)
    return [f"{relative}/{name}" for name in PROFILE_COMPONENTS[options.profile]]


def _vendored(checkout: Path, options: Options) -> list[Change]:
    from executor_dind.components import rendered

    names = PROFILE_COMPONENTS[options.profile]
    changes = []
    for directory, files in rendered(names).items():
        for name, text in files.items():
            path = checkout / "components" / directory / name
            before = path.read_text() if path.exists() else None
            if before != text:
                changes.append(Change(path, before, text))
    return changes


def into_changes(checkout: Path, instance: Path, kustomization: Path, text: str, options: Options) -> list[Change]:
    """What adding executors to the instance writes (nothing for what is already there)."""
    loader, doc = round_trip(text, kustomization)
    if options.way == "components":
        for entry in _components_entries(checkout, instance, options):
            add_entry(doc, "components", entry, kustomization)
    else:
        add_entry(doc, "transformers", CONFIG_FILE, kustomization)
    add_entry(doc, "secretGenerator", dict(SECRET_GENERATOR), kustomization)
    changes = [Change(kustomization, text, dumped(loader, doc))]
    ours = {}
    if options.way != "components":
        namespace = doc.get("namespace") if isinstance(doc.get("namespace"), str) else ""
        ours = {
            CONFIG_FILE: config_text(checkout, options, namespace),
            SCHEMA_FILE: json.dumps(json_schema(), indent=2) + "\n",
        }
    if not (instance / PASSWORD_FILE).exists():  # never replace a real password, not even with --force
        ours[PASSWORD_FILE] = PASSWORD_PLACEHOLDER + "\n"
    for name, after in ours.items():
        path = instance / name
        changes.append(Change(path, path.read_text() if path.exists() else None, after))
    ignore = instance / ".gitignore"
    ignored = ignore.read_text() if ignore.exists() else ""
    if PASSWORD_FILE not in ignored.splitlines():
        separator = "" if not ignored or ignored.endswith("\n") else "\n"
        changes.append(Change(ignore, ignored if ignore.exists() else None, f"{ignored}{separator}{PASSWORD_FILE}\n"))
    if options.way == "components":
        changes += _vendored(checkout, options)
    return [change for change in changes if change.before != change.after]


def _check(options: Options) -> None:
    if options.profile == "strict" and not options.namespace and options.way != "components":
        raise ScaffoldError(
            "--profile strict puts the executors in a namespace of their own (Pod Security Admission): "
            "pass --namespace NAME"
        )
    if options.namespace and options.way == "components":
        raise ScaffoldError("--namespace needs --way krm or legacy: the plain components render into Sourcegraph's")


def refuse_overwrites(changes: list[Change], kustomization: Path, options: Options) -> None:
    """Files of ours that exist and would change: only with --force (the kustomization is edited, never replaced)."""
    replaced = [
        c.path for c in changes if c.before is not None and c.path != kustomization and c.path.name != ".gitignore"
    ]
    if replaced and not options.force:
        names = ", ".join(str(path) for path in replaced)
        raise ScaffoldError(
            f"{names} already exist and differ from what init writes: pass --force to replace them "
            "(the kustomization keeps everything else it holds)"
        )


def into(instance: Path, options: Options) -> tuple[Path, list[Change]]:
    """init --into: the checkout and the changes."""
    _check(options)
    instance = instance.resolve()
    checkout = find_checkout(instance)
    kustomization = kustomization_of(instance)
    try:
        text = kustomization.read_text()
    except (OSError, UnicodeError) as error:
        raise ScaffoldError(f"{kustomization}: cannot be read ({error})") from None
    changes = into_changes(checkout, instance, kustomization, text, options)
    refuse_overwrites(changes, kustomization, options)
    return checkout, changes


def default_source(checkout: Path) -> Path:
    instances = checkout / "instances"
    if (instances / "template").is_dir():
        return instances / "template"
    found = sorted(p for p in instances.iterdir() if p.is_dir()) if instances.is_dir() else []
    if len(found) == 1:
        return found[0]
    raise ScaffoldError(
        f"{instances} has no template and {len(found)} instances: name the one to start from with --from instances/NAME"
    )


def from_changes(source: Path, target: Path, options: Options) -> tuple[Path, list[Change]]:
    """init --from SOURCE [TARGET]: a copy of the source instance, with executors."""
    _check(options)
    source, target = source.resolve(), target.resolve()
    checkout = find_checkout(source)
    if not source.is_dir():
        raise ScaffoldError(f"{source} is not a directory: pass --from instances/NAME")
    if target.parent != source.parent:
        raise ScaffoldError(
            f"{target} must be beside {source} (in {source.parent}): the instance's relative paths must still resolve"
        )
    if any(target.glob("*")):
        if not options.force or not any((target / name).is_file() for name in KUSTOMIZATION_NAMES):
            raise ScaffoldError(
                f"{target} already exists: add executors to it with `executor-dind init --into {target}`, "
                "or choose another directory"
            )
        return into(target, options)
    copies = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source)
        name = relative.name.replace(".template.yaml", ".yaml")
        copies[target / relative.parent / name] = path.read_text()
    kustomization = next((target / n for n in KUSTOMIZATION_NAMES if target / n in copies), None)
    if kustomization is None:
        raise ScaffoldError(f"{source} has no kustomization.yaml (or kustomization.template.yaml) to start from")
    text = copies.pop(kustomization)
    edited = into_changes(checkout, target, kustomization, text, options)
    changes = [Change(path, None, text) for path, text in copies.items()]
    for change in edited:
        changes.append(Change(change.path, None, change.after) if change.path.parent == target else change)
    if all(change.path != kustomization for change in changes):
        changes.append(Change(kustomization, None, text))
    return checkout, changes


def write(changes: list[Change]) -> list[Path]:
    for change in changes:
        change.path.parent.mkdir(parents=True, exist_ok=True)
        if change.path.name == PASSWORD_FILE:
            # Created owner-only before anything is written into it.
            change.path.touch(mode=0o600, exist_ok=True)
            change.path.chmod(0o600)
        change.path.write_text(change.after)
    return [change.path for change in changes]
