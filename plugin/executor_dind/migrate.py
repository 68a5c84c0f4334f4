"""`executor-dind migrate instances/NAME`: replace upstream components/executors/dind with executor-dind.

The settings are read from what the instance builds the upstream executor from: the component's own ConfigMap
and patch (in the checkout), then the instance's patches on ConfigMap `executor-config` and Deployment `executor`
(strategic-merge files, in the order the kustomization lists them). Each EXECUTOR_* value and resource setting
becomes a field of the executor-dind config, or is reported as not mapped. The upstream components and the
patches consumed are commented out, line by line, so the kustomization keeps every comment (and the lines say
what was there); the transformer is added with scaffold's round trip.

Over 300 lines because reading upstream's component and each of the instance's patches, in kustomize's order,
is most of what migrating is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from executor_dind.function_config import json_schema, parse_function_config
from executor_dind.records import ConfigError
from executor_dind.scaffold import (
    CONFIG_FILE,
    SCHEMA_FILE,
    SECRET_NAME,
    Change,
    Options,
    ScaffoldError,
    add_transformer,
    adopt_password,
    dumped,
    find_checkout,
    frontend_port,
    ignored,
    kustomization_of,
    round_trip,
)
from executor_dind.spec import API_VERSION, KIND, MANAGED_ENV

UPSTREAM = "components/executors/dind"
REGISTRY = f"{UPSTREAM}/private-docker-registry"
# Set by the upstream component itself, and by executor-dind to the same effect.
SAME_EFFECT = {"EXECUTOR_USE_FIRECRACKER": "false", "DOCKER_HOST": "tcp://localhost:2375", "TMPDIR": "/scratch"}


@dataclass
class Migration:
    spec: dict = field(default_factory=dict)
    mapped: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    consumed: list[str] = field(default_factory=list)  # kustomization entries commented out


def _load(path: Path) -> list[dict]:
    try:
        return [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]
    except (OSError, UnicodeError, yaml.YAMLError) as error:
        raise ScaffoldError(f"{path}: cannot be read as YAML ({error}): fix it, then run again") from None


def _entry_value(entry) -> str:
    return entry if isinstance(entry, str) else str(entry.get("path", "")) if hasattr(entry, "get") else ""


def _env_from_component(checkout: Path) -> dict[str, str]:
    component = checkout / UPSTREAM
    env: dict[str, str] = {}
    for name in ("executor.ConfigMap.yaml", "patches/executor.ConfigMap.yaml"):
        for doc in _load(component / name):
            env.update({str(k): str(v) for k, v in (doc.get("data") or {}).items()})
    return env


def _read_patches(instance: Path, doc, migration: Migration, env: dict[str, str]) -> dict:
    """Apply the instance's patches on executor-config to env; return the executor Deployment's patched pod spec."""
    pod: dict = {"containers": {}, "replicas": None}
    for entry in doc.get("patches") or []:
        path = _entry_value(entry)
        target = entry.get("target") if hasattr(entry, "get") else None
        if hasattr(target, "get") and target.get("name") in {name for _, name in _TARGETS}:
            migration.unmapped.append(
                f"a patch with target {target.get('kind', '')}/{target.get('name')}: left in place; move its "
                "settings into executor-dind.yaml and remove it"
            )
            continue
        if not path or not (instance / path).is_file() or target:
            continue
        docs = _load(instance / path)
        ours = [d for d in docs if (d.get("kind"), (d.get("metadata") or {}).get("name")) in _TARGETS]
        if not ours:
            continue
        if len(ours) != len(docs):
            migration.unmapped.append(f"{path}: patches other objects too; left in place")
            continue
        for patch in ours:
            if patch["kind"] == "ConfigMap":
                env.update({str(k): str(v) for k, v in (patch.get("data") or {}).items()})
            else:
                _deployment_patch(path, patch, pod, migration)
        migration.consumed.append(path)
    return pod


_TARGETS = {("ConfigMap", "executor-config"), ("Deployment", "executor")}


def _deployment_patch(path: str, patch: dict, pod: dict, migration: Migration) -> None:
    spec = patch.get("spec") or {}
    if "replicas" in spec:
        pod["replicas"] = spec["replicas"]
    template = (spec.get("template") or {}).get("spec") or {}
    for container in template.get("containers") or []:
        name = container.get("name")
        for key, value in container.items():
            if key == "resources" and name in ("executor", "dind"):
                pod["containers"][name] = value
            elif key != "name":
                migration.unmapped.append(f"{path}: containers[{name}].{key} has no executor-dind field")
    for key in template:
        if key != "containers":
            migration.unmapped.append(f"{path}: spec.template.spec.{key} has no executor-dind field")
    for key in spec:
        if key not in ("replicas", "template"):
            migration.unmapped.append(f"{path}: spec.{key} has no executor-dind field")


def _queue(env: dict[str, str], migration: Migration) -> dict:
    names = [n.strip() for n in (env.pop("EXECUTOR_QUEUE_NAMES", "") or "").split(",") if n.strip()]
    single = env.pop("EXECUTOR_QUEUE_NAME", "").strip()
    if not names and single:
        names = [single]
    if not names:
        migration.unmapped.append("EXECUTOR_QUEUE_NAME(S) unset (upstream's executor would not start): queue all")
        names = ["batches", "codeintel"]
    queue = {"name": names[0] if len(names) == 1 else "all", "queueNames": names}
    migration.mapped.append(
        f"EXECUTOR_QUEUE_NAMES={','.join(names)} -> queues[0]: name {queue['name']}, queueNames [{', '.join(names)}]"
    )
    return queue


def _frontend(env: dict[str, str], checkout: Path, migration: Migration) -> str | None:
    url = env.pop("EXECUTOR_FRONTEND_URL", "")
    if not url:
        return None
    if not re.search(r":\d+(/|$)", url.split("//", 1)[-1]):
        port = frontend_port(checkout)
        fixed = url.rstrip("/") + f":{port}"
        migration.mapped.append(
            f"EXECUTOR_FRONTEND_URL={url} -> frontend.url {fixed} (the frontend Service's port added: without it "
            "the executor hangs)"
        )
        return fixed
    migration.mapped.append(f"EXECUTOR_FRONTEND_URL={url} -> frontend.url")
    return url


SCALARS = {
    "EXECUTOR_MAXIMUM_NUM_JOBS": ("queue", "maximumNumJobs", int),
    "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB": ("spec", "maximumRuntimePerJob", str),
    "EXECUTOR_NUM_TOTAL_JOBS": ("recycle", "afterJobs", int),
    "EXECUTOR_MAX_ACTIVE_TIME": ("recycle", "afterTime", str),
    "SRC_LOG_LEVEL": ("log", "level", str),
    "SRC_LOG_FORMAT": ("log", "format", str),
}


def read(checkout: Path, instance: Path, doc, registry: bool) -> Migration:
    migration = Migration()
    env = _env_from_component(checkout)
    pod = _read_patches(instance, doc, migration, env)
    spec: dict = {}
    url = _frontend(env, checkout, migration)
    if url:
        spec["frontend"] = {"url": url}
    queue = _queue(env, migration)
    targets = {
        "queue": queue,
        "spec": spec,
        "recycle": queue.setdefault("recycle", {}),
        "log": spec.setdefault("log", {}),
    }
    for name, (where, key, kind) in SCALARS.items():
        if name in env:
            value = env.pop(name)
            try:
                targets[where][key] = kind(value)
            except ValueError:
                migration.unmapped.append(f"{name}={value!r} is not a {kind.__name__}: set {key} by hand")
                continue
            path = {"queue": "queues[0].", "spec": "", "recycle": "queues[0].recycle.", "log": "log."}[where]
            migration.mapped.append(f"{name}={value} -> {path}{key}")
    for target in ("recycle", "log"):
        if not targets[target]:
            (queue if target == "recycle" else spec).pop(target)
    for name, value in SAME_EFFECT.items():
        if env.get(name) == value:
            env.pop(name)
            migration.mapped.append(f"{name}={value} -> set by executor-dind too")
    extra = {name: value for name, value in env.items() if name not in MANAGED_ENV}
    for name in sorted(env):
        if name in MANAGED_ENV:
            migration.unmapped.append(f"{name}={env[name]} is set by executor-dind itself: dropped")
        else:
            migration.mapped.append(f"{name} -> queues[0].env")
    if extra:
        queue["env"] = extra
    if pod["replicas"] is not None:
        queue["replicas"] = pod["replicas"]
        migration.mapped.append(f"Deployment executor replicas {pod['replicas']} -> queues[0].replicas")
    if "executor" in pod["containers"]:
        queue["resources"] = pod["containers"]["executor"]
        migration.mapped.append("executor container resources -> queues[0].resources")
    if "dind" in pod["containers"]:
        spec["docker"] = {"resources": pod["containers"]["dind"]}
        migration.mapped.append("dind container resources -> docker.resources")
    spec["queues"] = [queue]
    spec["privateRegistry"] = {"enabled": registry}
    migration.mapped.append(
        f"{REGISTRY}: {'present' if registry else 'absent'} -> privateRegistry.enabled: {str(registry).lower()}"
    )
    migration.spec = spec
    return migration


def config_text(migration: Migration, options: Options) -> str:
    spec = {**migration.spec, "hardening": {"profile": options.profile}}
    config = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "executors"}, "spec": spec}
    try:
        parse_function_config(config)
    except ConfigError as error:
        raise ScaffoldError(f"the migrated config is not valid: {error}: fix the instance's executor patch") from None
    function = (
        "  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: executor-dind\n"
        if options.way == "krm"
        else ""
    )
    body = yaml.safe_dump(spec, sort_keys=False, default_flow_style=False, width=4096)
    return (
        f"# yaml-language-server: $schema={SCHEMA_FILE}\n"
        "# Migrated from components/executors/dind by `executor-dind migrate`.\n"
        f"apiVersion: {API_VERSION}\nkind: {KIND}\nmetadata:\n  name: executors\n{function}spec:\n"
        + "".join(f"  {line}\n" for line in body.splitlines())
    )


def comment_out(text: str, values: list[str]) -> tuple[str, list[str]]:
    """Comment out the list items (`- VALUE` or `- path: VALUE`, one line each) naming values."""
    lines = text.splitlines(keepends=True)
    done = []
    for value in values:
        item = re.compile(rf"^(\s*)-(\s+)(path:\s+)?(['\"]?){re.escape(value)}\4(\s+#.*)?\s*$")
        for index, line in enumerate(lines):
            found = item.match(line)
            if found:
                lines[index] = f"{found.group(1)}# {line[len(found.group(1)) :]}"
                done.append(value)
                break
    return "".join(lines), done


def migrate(instance: Path, options: Options) -> tuple[Path, list[Change], Migration, list[str]]:
    """The changes, what was mapped, and the commands that prune the upstream objects."""
    instance = instance.resolve()
    checkout = find_checkout(instance)
    kustomization = kustomization_of(instance)
    text = kustomization.read_text()
    _, doc = round_trip(text, kustomization)
    components = [e for e in doc.get("components") or [] if isinstance(e, str)]
    upstream = [e for e in components if e.rstrip("/").endswith(UPSTREAM)]
    if not upstream:
        raise ScaffoldError(
            f"{kustomization}: no {UPSTREAM} in its components: nothing to migrate (add executors with "
            f"`executor-dind init --into {instance}`)"
        )
    registry = [e for e in components if e.rstrip("/").endswith(REGISTRY)]
    migration = read(checkout, instance, doc, bool(registry))
    edited, done = comment_out(text, [*upstream, *registry, *migration.consumed])
    missing = [value for value in [*upstream, *registry, *migration.consumed] if value not in done]
    if missing:
        raise ScaffoldError(
            f"{kustomization}: cannot comment out {', '.join(missing)} (not a one-line list item): "
            "remove it by hand, then run again"
        )
    loader, doc = round_trip(edited, kustomization)
    companions = add_transformer(doc, kustomization, "")
    names = [g.get("name") for g in doc.get("secretGenerator") or [] if hasattr(g, "get")]
    if SECRET_NAME in names:
        migration.mapped.append(f"secretGenerator {SECRET_NAME} -> frontend.passwordSecret {SECRET_NAME}/password")
    password = adopt_password(doc, instance, kustomization)
    changes = [Change(kustomization, text, dumped(loader, doc), password.note)]
    config = instance / CONFIG_FILE
    if config.exists() and not options.force:
        raise ScaffoldError(f"{config} already exists: pass --force to replace it with the migrated config")
    changes.append(Change(config, config.read_text() if config.exists() else None, config_text(migration, options)))
    for name, after in {SCHEMA_FILE: json.dumps(json_schema(), indent=2) + "\n", **companions}.items():
        path = instance / name
        if not path.exists() or path.read_text() != after:
            changes.append(Change(path, path.read_text() if path.exists() else None, after))
    if password.text is not None:
        changes.append(Change(instance / password.file, None, password.text))
    changes += ignored(instance, password.file)
    namespace = doc.get("namespace") if isinstance(doc.get("namespace"), str) else ""
    return checkout, changes, migration, prune_commands(checkout, namespace, bool(registry))


def prune_commands(checkout: Path, namespace: str, registry: bool) -> list[str]:
    """kubectl delete for the objects the upstream components created (read from the checkout's files)."""
    objects = []
    for component in (UPSTREAM, REGISTRY) if registry else (UPSTREAM,):
        listed = _load(checkout / component / "kustomization.yaml")
        for resource in (listed[0].get("resources") or []) if listed else []:
            for doc in _load(checkout / component / resource):
                objects.append(f"{doc['kind'].lower()}/{doc['metadata']['name']}")
    in_namespace = f" -n {namespace}" if namespace else ""
    return [f"kubectl{in_namespace} delete {' '.join(objects)}"]
