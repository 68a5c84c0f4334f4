"""`executor-dind init`: add executors to an instance of a deploy-sourcegraph-k8s checkout.

`--into instances/NAME` edits that instance's kustomization in place (a ruamel.yaml round trip: every comment,
key order and quote style stays), adding only our entries: the transformer (KRM function or legacy plugin) or our
components, and the password Secret's generator; our components go before `components/utils/endpoints`, which
upstream requires to stay last. `--from instances/NAME` copies that instance (the template's `*.template.yaml`
renamed as upstream instructs) into a new one and does the same there, so it builds exactly that instance plus the
executors. The password file is git-ignored and starts as a placeholder: a real password never lands in a file we
write, and an existing one is never replaced.

Over 300 lines because init's two modes (--into, --from) share every edit they make to a user's files (the ruamel
round trip, the password adoption, the refusal to overwrite): kept together, each edit is written once.
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
from executor_dind.naming import NOT_PASSWORDS, PASSWORD_PLACEHOLDER
from executor_dind.spec import API_VERSION, KIND

FRONTEND_SERVICE = Path("base/sourcegraph/frontend/sourcegraph-frontend.Service.yaml")
TEMPLATE = Path("instances/template/kustomization.template.yaml")
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CONFIG_FILE = "executor-dind.yaml"
SCHEMA_FILE = "executor-dind.schema.json"
PASSWORD_FILE = "executor-password.txt"
# With --namespace: a builtin transformer moving the generated password Secret into the executors' namespace. It
# runs after the kustomization's `namespace:` (which overrides a generator's own), before executor-dind.
SECRET_NAMESPACE_FILE = "executor-secret-namespace.yaml"
# After executor-dind: a builtin transformer that fails the build when executor-dind did not run (kustomize
# --enable-alpha-plugins without --enable-exec drops a KRM function without a word, exit 0).
MUST_RUN_FILE = "executor-dind-must-run.yaml"
MUST_RUN_TEXT = """\
# Written by `executor-dind init`: fails the build ("nothing selected by ServiceAccount...executor-dind") when
# executor-dind did not run, so a build without the executors never looks like one with them. Build with
#   kustomize build --enable-alpha-plugins --enable-exec DIR   (KRM function)
#   kubectl kustomize --enable-alpha-plugins DIR                (legacy plugin, after executor-dind install-plugin)
apiVersion: builtin
kind: ReplacementTransformer
metadata:
  name: executor-dind-must-run
replacements:
  - source:
      kind: ServiceAccount
      name: executor-dind
      fieldPath: metadata.name
    targets:
      - select:
          kind: ServiceAccount
          name: executor-dind
        fieldPaths:
          - metadata.name
"""
ENDPOINTS = "components/utils/endpoints"
SECRET_NAME = "executor-secret"
SECRET_GENERATOR = {"name": SECRET_NAME, "files": [f"password={PASSWORD_FILE}"]}
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
    note: str = ""  # what the user should know about this change (one stderr line)

    def diff(self, root: Path) -> str:
        name = os.path.relpath(self.path, root)
        if self.path.name == PASSWORD_FILE and self.after.strip() not in NOT_PASSWORDS:
            return f"new file: {name} (the password moved out of the kustomization's literal; not shown)\n"
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


def secret_namespace_text(namespace: str) -> str:
    return (
        "# Written by `executor-dind init --namespace`: the password Secret goes where the executors run.\n"
        "apiVersion: builtin\n"
        "kind: PatchTransformer\n"
        "metadata:\n"
        "  name: executor-secret-namespace\n"
        "target:\n"
        "  kind: Secret\n"
        f"  name: ^{SECRET_NAME}$\n"
        "patch: |-\n"
        "  - op: replace\n"
        "    path: /metadata/namespace\n"
        f"    value: {namespace}\n"
    )


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
    if entries is None and field not in doc:
        # Before any emptied keys at the end (`patches:` with its entries commented out, as upstream's template
        # ships them): under one, a template line the user uncomments would land in our list.
        keys = list(doc)
        position = len(keys)
        while position and doc[keys[position - 1]] is None:
            position -= 1
        doc.insert(position, field, CommentedSeq([_commented(value)]))
        return True
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


@dataclass(frozen=True)
class Password:
    """Where the instance's executor-secret generator takes the password from, and what to write there (None:
    nothing, the file exists or is someone else's)."""

    file: str
    text: str | None
    note: str = ""


def adopt_password(doc, instance: Path, kustomization: Path) -> Password:
    """The executor-secret generator made to read the git-ignored password file: added when there is none; a
    `password=` literal (the template's, or the user's) moved into the file, so the kustomization holds no password
    and the template's public example never reaches the cluster; a `password=FILE` entry kept as it is."""
    from ruamel.yaml.comments import CommentedMap

    generators = doc.get("secretGenerator")
    found = next(
        (g for g in generators or [] if isinstance(g, CommentedMap) and g.get("name") == SECRET_NAME),
        None,
    )
    fresh = not (instance / PASSWORD_FILE).exists()  # never replace a real password, not even with --force
    if found is None:
        add_entry(doc, "secretGenerator", dict(SECRET_GENERATOR), kustomization)
        return Password(PASSWORD_FILE, PASSWORD_PLACEHOLDER + "\n" if fresh else None)
    files = found.get("files") if isinstance(found.get("files"), list) else []
    for entry in files:
        key, _, path = str(entry).partition("=")
        if key.strip() == "password" and path:
            target = (instance / path.strip()).resolve()
            inside = target.parent == instance.resolve()
            write = inside and not target.exists()
            return Password(target.name if inside else path, PASSWORD_PLACEHOLDER + "\n" if write else None)
    literals = found.get("literals") if isinstance(found.get("literals"), list) else []
    literal = next((e for e in literals if str(e).partition("=")[0].strip() == "password"), None)
    if literal is None:
        raise ScaffoldError(
            f"{kustomization}: secretGenerator {SECRET_NAME} has no `password` key in its literals or files: add "
            f"`files: [password={PASSWORD_FILE}]` to it (or remove it), then run again"
        )
    value = str(literal).partition("=")[2].strip()
    _move_literal(found, literals, literals.index(literal))
    said = f"secretGenerator {SECRET_NAME}: its `password=` literal"
    if not fresh:
        return Password(PASSWORD_FILE, None, f"{said} dropped: it now reads the existing {PASSWORD_FILE}")
    if value in NOT_PASSWORDS or not value:
        note = f"{said} is no password; it now reads {PASSWORD_FILE} (git-ignored): put executors.accessToken there"
        return Password(PASSWORD_FILE, PASSWORD_PLACEHOLDER + "\n", note)
    # Written as it was, with no newline added: the file's bytes are the Secret's value.
    return Password(PASSWORD_FILE, value, f"{said} moved into {PASSWORD_FILE} (git-ignored), out of the kustomization")


def _move_literal(generator, literals, index: int) -> None:
    """The generator's `password=` literal at index replaced by the password file entry, keeping the comments
    ruamel hangs on the list (after a generator, the rest of the file's comments hang on its last entry)."""
    from ruamel.yaml.comments import CommentedSeq

    entry = f"password={PASSWORD_FILE}"
    files = generator.get("files")
    if len(literals) == 1 and not isinstance(files, list):
        literals[0] = entry
        position = list(generator).index("literals")
        comment = generator.ca.items.pop("literals", None)
        del generator["literals"]
        generator.insert(position, "files", literals)
        if comment is not None:
            generator.ca.items["files"] = comment
        return
    comment = literals.ca.items.pop(index, None)
    del literals[index]
    if comment is not None and index == len(literals) and literals:
        literals.ca.items[index - 1] = comment
    if not isinstance(files, list):
        files = generator["files"] = CommentedSeq()
    files.append(entry)


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


def add_transformer(doc, kustomization: Path, namespace: str) -> dict[str, str]:
    """executor-dind's transformer entry, with the builtin ones around it; the files those entries name."""
    add_entry(doc, "transformers", CONFIG_FILE, kustomization)
    transformers = doc["transformers"]
    files = {MUST_RUN_FILE: MUST_RUN_TEXT}
    if MUST_RUN_FILE not in transformers:
        transformers.insert(transformers.index(CONFIG_FILE) + 1, MUST_RUN_FILE)
    if namespace:
        files[SECRET_NAMESPACE_FILE] = secret_namespace_text(namespace)
        if SECRET_NAMESPACE_FILE not in transformers:
            transformers.insert(transformers.index(CONFIG_FILE), SECRET_NAMESPACE_FILE)
    return files


def into_changes(checkout: Path, instance: Path, kustomization: Path, text: str, options: Options) -> list[Change]:
    """What adding executors to the instance writes (nothing for what is already there)."""
    loader, doc = round_trip(text, kustomization)
    if options.way == "components":
        for entry in _components_entries(checkout, instance, options):
            add_entry(doc, "components", entry, kustomization)
    else:
        companions = add_transformer(doc, kustomization, options.namespace)
    password = adopt_password(doc, instance, kustomization)
    changes = [Change(kustomization, text, dumped(loader, doc), password.note)]
    ours = {}
    if options.way != "components":
        namespace = doc.get("namespace") if isinstance(doc.get("namespace"), str) else ""
        ours = {
            CONFIG_FILE: config_text(checkout, options, namespace),
            SCHEMA_FILE: json.dumps(json_schema(), indent=2) + "\n",
            **companions,
        }
    if password.text is not None:
        ours[password.file] = password.text
    for name, after in ours.items():
        path = instance / name
        changes.append(Change(path, path.read_text() if path.exists() else None, after))
    changes += ignored(instance, password.file)
    if options.way == "components":
        changes += _vendored(checkout, options)
    return [change for change in changes if change.before != change.after]


def ignored(instance: Path, name: str) -> list[Change]:
    """The instance's .gitignore naming the password file (no change when it does)."""
    ignore = instance / ".gitignore"
    ignored = ignore.read_text() if ignore.exists() else ""
    if name in ignored.splitlines():
        return []
    separator = "" if not ignored or ignored.endswith("\n") else "\n"
    return [Change(ignore, ignored if ignore.exists() else None, f"{ignored}{separator}{name}\n")]


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
            f"{names} already exist and differ from what init writes{_stale(changes)}: pass --force to replace "
            "them (the kustomization keeps everything else it holds)"
        )


def _stale(changes: list[Change]) -> str:
    """What vendored components say of their version, when it is not this executor-dind's."""
    import re

    from executor_dind import __version__

    found = set()
    for change in changes:
        header = re.match(r"# Generated by executor-dind (\S+) ", change.before or "")
        if header and header[1] != __version__:
            found.add(header[1])
    if not found:
        return ""
    return f" (components vendored by executor-dind {', '.join(sorted(found))}, stale: this is {__version__})"


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
        changes.append(Change(change.path, None, change.after, change.note) if change.path.parent == target else change)
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
