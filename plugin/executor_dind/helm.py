"""Helm post-renderer core: the sourcegraph-executor dind chart's stream in, executor-dind's executors out.

recognise (the chart's executor workloads, their daemon.json ConfigMap, the registry and its Services, by what
they are) -> map (what the user set through the chart, as an executor-dind spec tree, and what cannot be
mapped) -> merge (the user's --post-renderer-args on top) -> the one pipeline (function.run: plan, upsert,
self-audit) over the stream without the chart's executor objects. Pure: bytes in, bytes and lines out.

Over 300 lines because recognise, map and merge are one reading of the chart: the mappers share the recognised
objects and each reports what it could not map, in the chart's own terms.
"""

from __future__ import annotations

import json

from executor_dind.krm.errors import InputError
from executor_dind.krm.read import read_stream
from executor_dind.krm.text import decode
from executor_dind.podspec import (
    containers,
    is_executor_workload,
    is_registry_workload,
    pod_labels,
    pod_spec,
    role_containers,
)
from executor_dind.records import Record
from executor_dind.spec import API_VERSION, KIND

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.krm.item import Item

DEFAULT_PROFILE = "recommended"
# The chart's executor environment that is not a user's setting: the chart hard-codes it, or executor-dind sets
# its own (spec.MANAGED_ENV) from the fields mapped below.
CHART_ENV = frozenset(
    {
        "EXECUTOR_FRONTEND_URL",
        "EXECUTOR_FRONTEND_PASSWORD",
        "EXECUTOR_QUEUE_NAME",
        "EXECUTOR_QUEUE_NAMES",
        "SRC_LOG_LEVEL",
        "SRC_LOG_FORMAT",
        "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB",
        "EXECUTOR_MAXIMUM_NUM_JOBS",
        "EXECUTOR_USE_FIRECRACKER",
        "EXECUTOR_USE_KUBERNETES",
        "EXECUTOR_HEALTH_SERVER_ADDR",
        "EXECUTOR_JOB_NUM_CPUS",
        "EXECUTOR_JOB_MEMORY",
        "DOCKER_HOST",
        "TMPDIR",
    }
)
# daemon.json keys the chart sets for its own registry and loopback API (executor-dind sets its own), and the
# ones its gVisor mode adds (executor-dind's gVisor control sets what runsc needs).
CHART_DAEMON_KEYS = frozenset(
    {"hosts", "tls", "registry-mirrors", "insecure-registries", "storage-driver", "iptables", "ip6tables", "features"}
)


class Recognised(Record):
    executors: tuple[Item, ...]
    daemon_configs: tuple[Item, ...]
    registries: tuple[Item, ...]
    registry_services: tuple[Item, ...]

    @property
    def items(self) -> tuple[Item, ...]:
        return (*self.executors, *self.daemon_configs, *self.registries, *self.registry_services)


class Mapping(Record):
    """The spec tree the chart's objects say, what was mapped, what was not (and why), and refusals."""

    tree: dict[str, Any]
    mapped: tuple[str, ...]
    unmapped: tuple[str, ...]
    problems: tuple[str, ...]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _config_map_names(spec: dict[str, Any]) -> set[str]:
    """The ConfigMaps whose daemon.json the pod's dind containers mount at /etc/docker."""
    volumes = {volume.get("name"): volume for volume in _list(spec.get("volumes")) if isinstance(volume, dict)}
    names = set()
    for dind, _ in role_containers(spec, "", "dind"):
        for mount in _list(dind.get("volumeMounts")):
            if isinstance(mount, dict) and str(mount.get("mountPath", "")).startswith("/etc/docker"):
                source = _mapping(_mapping(volumes.get(mount.get("name"))).get("configMap"))
                if source.get("name"):
                    names.add(str(source["name"]))
    return names


def _selects(service: Item, workload: Item) -> bool:
    selector = _mapping(_mapping(service.obj.get("spec")).get("selector"))
    labels = pod_labels(workload.obj)
    return bool(selector) and all(labels.get(str(k)) == str(v) for k, v in selector.items())


def recognise(items: list[Item]) -> Recognised:
    """The chart's executor objects: workloads running an executor or dockerd, the ConfigMaps their dind
    containers read daemon.json from, the registry workload and the Services in front of it."""
    executors = tuple(item for item in items if item.is_mapping and is_executor_workload(item.obj))
    mounted = set()
    for item in executors:
        located = pod_spec(item.obj)
        mounted |= _config_map_names(located[0]) if located else set()
    daemon_configs = tuple(
        item
        for item in items
        if item.kind == "ConfigMap" and item.name in mounted and "daemon.json" in _mapping(item.obj.get("data"))
    )
    # The registry is the one daemon.json sends dockerd to: the Services its mirrors name, the workloads behind them.
    hosts = {host for item in daemon_configs for host in _mirror_hosts(item)}
    services = tuple(item for item in items if item.kind == "Service" and item.name in hosts)
    registries = tuple(
        item
        for item in items
        if item.is_mapping and is_registry_workload(item.obj) and any(_selects(service, item) for service in services)
    )
    return Recognised(
        executors, daemon_configs, registries, tuple(s for s in services if any(_selects(s, r) for r in registries))
    )


def _mirror_hosts(config_map: Item) -> set[str]:
    """The Service names in daemon.json's registry-mirrors and insecure-registries (host, or host.namespace...)."""
    try:
        config = json.loads(str(_mapping(config_map.obj.get("data")).get("daemon.json", "")))
    except ValueError:
        return set()  # map_chart says why
    listed = [*_list(_mapping(config).get("registry-mirrors")), *_list(_mapping(config).get("insecure-registries"))]
    hosts = set()
    for entry in listed:
        address = str(entry).split("://", 1)[-1]
        hosts.add(address.split("/", 1)[0].split(":", 1)[0].split(".", 1)[0])
    return hosts


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {str(var["name"]): var for var in _list(container.get("env")) if isinstance(var, dict) and "name" in var}


def _value(env: dict[str, Any], name: str) -> str | None:
    var = env.get(name)
    return str(var["value"]) if isinstance(var, dict) and isinstance(var.get("value"), str) else None


class _Mapper:
    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}
        self.mapped: list[str] = []
        self.unmapped: list[str] = []
        self.problems: list[str] = []

    def put(self, path: str, value: Any, source: str) -> None:
        node = self.tree
        keys = path.split(".")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
        self.mapped.append(f"{path} = {json.dumps(value, sort_keys=True)} (from {source})")

    def skip(self, what: str, why: str) -> None:
        self.unmapped.append(f"{what}: {why}")

    def shaped(self, where: str, field: str, value: Any, expected: type) -> bool:
        """Whether a field the chart rendered has the shape Kubernetes needs; if not, a refusal that says so."""
        if value is None or (isinstance(value, expected) and not isinstance(value, bool)):
            return value is not None
        name = {dict: "an object", list: "a list", int: "an integer"}[expected]
        self.problems.append(f"{where}: {field} is {json.dumps(value)}, not {name}: fix the chart's values")
        return False


def _queue(mapper: _Mapper, item: Item, executor: dict[str, Any]) -> dict[str, Any] | None:
    env = _env(executor)
    where = item.describe()
    for var in _list(executor.get("env")):
        mapper.shaped(where, "an entry of the executor's env", var, dict)
    name = item.name.removeprefix("executor-") or item.name
    queue: dict[str, Any] = {"name": name}
    names = _value(env, "EXECUTOR_QUEUE_NAMES")
    single = _value(env, "EXECUTOR_QUEUE_NAME")
    listed = [part.strip() for part in names.split(",") if part.strip()] if names else [single] if single else []
    if not listed:
        mapper.problems.append(f"{where}: no EXECUTOR_QUEUE_NAME(S): set executor.queueName or executor.queueNames")
        return None
    if listed != [name]:
        queue["queueNames"] = listed
    if mapper.shaped(where, "spec.replicas", item.obj["spec"].get("replicas"), int):
        queue["replicas"] = item.obj["spec"]["replicas"]
    jobs = _value(env, "EXECUTOR_MAXIMUM_NUM_JOBS")
    if jobs is not None and jobs.isdigit():
        queue["maximumNumJobs"] = int(jobs)
    if mapper.shaped(where, "the executor's resources", executor.get("resources"), dict) and executor["resources"]:
        queue["resources"] = executor["resources"]
    extra = {key: {k: v for k, v in var.items() if k != "name"} for key, var in env.items() if key not in CHART_ENV}
    if extra:
        queue["env"] = {key: var["value"] if set(var) == {"value"} else var for key, var in extra.items()}
    return queue


def _frontend(mapper: _Mapper, item: Item, executor: dict[str, Any]) -> None:
    env = _env(executor)
    url = _value(env, "EXECUTOR_FRONTEND_URL")
    if url:
        mapper.put("frontend.url", url, f"{item.describe()} EXECUTOR_FRONTEND_URL (executor.frontendUrl)")
    password = env.get("EXECUTOR_FRONTEND_PASSWORD", {})
    ref = _mapping(_mapping(password.get("valueFrom")).get("secretKeyRef"))
    if ref.get("name"):
        mapper.put(
            "frontend.passwordSecret",
            {"name": str(ref["name"]), "key": str(ref.get("key", "password"))},
            f"{item.describe()} EXECUTOR_FRONTEND_PASSWORD (executor.frontendExistingSecret)",
        )
    elif "value" in password:
        mapper.problems.append(
            f"{item.describe()}: the chart puts the frontend password in the Deployment as a literal "
            "(executor.frontendPassword), and executor-dind never does: create a Secret with the key "
            "EXECUTOR_FRONTEND_PASSWORD and set executor.frontendExistingSecret to its name (or pass "
            "frontend.passwordSecret.name=NAME in --post-renderer-args)"
        )


def _pod(mapper: _Mapper, item: Item, spec: dict[str, Any], executor: dict[str, Any]) -> None:
    where = item.describe()
    env = _env(executor)
    for name, path in (("SRC_LOG_LEVEL", "log.level"), ("SRC_LOG_FORMAT", "log.format")):
        if _value(env, name):
            mapper.put(path, _value(env, name), f"{where} {name} (executor.log)")
    runtime = _value(env, "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB")
    if runtime:
        mapper.put("maximumRuntimePerJob", runtime, f"{where} (executor.maximumRuntimePerJob)")
    if executor.get("image"):
        mapper.put("images.executor", str(executor["image"]), f"{where} executor image (executor.image)")
    for dind, _ in role_containers(spec, "", "dind"):
        mapper.skip(
            f"dind image {dind.get('image')}",
            "executor-dind runs its own pinned dind image (set images.dind to choose another)",
        )
    runtime_class = spec.get("runtimeClassName")
    if runtime_class:
        mapper.put("hardening.gvisor.enabled", True, f"{where} runtimeClassName (dind.gVisor.enabled)")
        mapper.put("hardening.gvisor.runtimeClassName", str(runtime_class), f"{where} runtimeClassName")
    selector = spec.get("nodeSelector")
    placed = mapper.shaped(where, "nodeSelector", selector, dict) and bool(selector)
    if placed:
        mapper.put("hardening.nodePool.enabled", True, f"{where} nodeSelector (sourcegraph.nodeSelector)")
        mapper.put("hardening.nodePool.nodeSelector", selector, f"{where} nodeSelector")
    tolerations = spec.get("tolerations") if mapper.shaped(where, "tolerations", spec.get("tolerations"), list) else []
    for toleration in tolerations:
        mapper.shaped(where, "a toleration", toleration, dict)
    tolerations = [t for t in tolerations if isinstance(t, dict)]
    taints = [t for t in tolerations if t.get("operator", "Equal") == "Equal" and t.get("key")]
    if len(taints) == 1 and taints[0].get("effect") in ("NoSchedule", "NoExecute") and len(tolerations) == 1:
        taint = {"key": str(taints[0]["key"]), "value": str(taints[0].get("value", "")), "effect": taints[0]["effect"]}
        if not placed:
            mapper.put("hardening.nodePool.enabled", True, f"{where} tolerations (sourcegraph.tolerations)")
        mapper.put("hardening.nodePool.taint", taint, f"{where} tolerations")
    elif tolerations:
        mapper.skip(
            f"{where} tolerations",
            "only one Equal toleration with effect NoSchedule or NoExecute maps to hardening.nodePool.taint",
        )
    for key in ("affinity", "priorityClassName", "imagePullSecrets"):
        if spec.get(key):
            mapper.skip(f"{where} {key}", "executor-dind has no such setting; its executors are placed by nodePool")
    storage = next(
        (v for v in _list(spec.get("volumes")) if isinstance(v, dict) and v.get("name") == "executor-scratch"), None
    )
    if storage is not None:
        _storage(mapper, where, storage)


def _storage(mapper: _Mapper, where: str, volume: dict[str, Any]) -> None:
    if "ephemeral" in volume:
        claim = _mapping(_mapping(_mapping(volume["ephemeral"]).get("volumeClaimTemplate")).get("spec"))
        mapper.put("storage.type", "ephemeral", f"{where} scratch volume (executor.storage.type)")
        size = _mapping(_mapping(claim.get("resources")).get("requests")).get("storage")
        if size:
            mapper.put("storage.size", str(size), f"{where} scratch volume (executor.storage.size)")
        if claim.get("storageClassName"):
            mapper.put("storage.storageClassName", str(claim["storageClassName"]), f"{where} (executor.storage.class)")
    elif _mapping(volume.get("emptyDir")).get("sizeLimit"):
        size = str(volume["emptyDir"]["sizeLimit"])
        mapper.put("storage.size", size, f"{where} scratch volume (executor.storage.size)")


def _daemon(mapper: _Mapper, item: Item) -> None:
    try:
        config = json.loads(str(_mapping(item.obj.get("data")).get("daemon.json", "")))
    except ValueError as error:
        mapper.problems.append(f"{item.describe()}: daemon.json is not JSON ({error}): fix dind.daemonConfig")
        return
    if not isinstance(config, dict):
        mapper.problems.append(f"{item.describe()}: daemon.json is not a JSON object: fix dind.daemonConfig")
        return
    if "mtu" in config:
        mapper.put("docker.mtu", config["mtu"], f"{item.describe()} daemon.json mtu (dind.daemonConfig.mtu)")
    extra = {key: value for key, value in config.items() if key not in CHART_DAEMON_KEYS and key != "mtu"}
    if extra:
        mapper.put("docker.daemonConfig", extra, f"{item.describe()} daemon.json (dind.daemonConfig)")


def _registry(mapper: _Mapper, items: tuple[Item, ...]) -> None:
    if not items:
        mapper.put(
            "privateRegistry.enabled", False, "no registry in the chart's output (privateDockerRegistry.enabled)"
        )
        return
    item = items[0]
    where = item.describe()
    mapper.put("privateRegistry.enabled", True, f"{where} (privateDockerRegistry.enabled)")
    for claim in _list(item.obj.get("spec", {}).get("volumeClaimTemplates")):
        claim_spec = _mapping(_mapping(claim).get("spec"))
        size = _mapping(_mapping(claim_spec.get("resources")).get("requests")).get("storage")
        if size:
            mapper.put("privateRegistry.storage", str(size), f"{where} (privateDockerRegistry.storageSize)")
        if claim_spec.get("storageClassName"):
            name = str(claim_spec["storageClassName"])
            mapper.put("privateRegistry.storageClassName", name, f"{where} (storageClass.name)")
    located = pod_spec(item.obj)
    for entry, _ in containers(*located) if located else ():
        env = _env(entry)
        remote = _value(env, "REGISTRY_PROXY_REMOTEURL")
        if remote:
            mapper.put("privateRegistry.remoteUrl", remote, f"{where} REGISTRY_PROXY_REMOTEURL")
        for name in sorted(set(env) - {"REGISTRY_PROXY_REMOTEURL"}):
            mapper.skip(f"{where} env {name}", "executor-dind's registry has no such setting")
        mapper.skip(f"registry image {entry.get('image')}", "executor-dind runs its own pinned registry image")


def map_chart(recognised: Recognised) -> Mapping:
    mapper = _Mapper()
    mapper.tree["hardening"] = {"profile": DEFAULT_PROFILE}
    queues = []
    for position, item in enumerate(recognised.executors):
        located = pod_spec(item.obj)
        executor = next(role_containers(*located, "executor"), None) if located else None
        if executor is None or located is None:
            mapper.problems.append(f"{item.describe()}: runs dockerd but no executor container: cannot map it")
            continue
        queue = _queue(mapper, item, executor[0])
        if queue is not None:
            queues.append(queue)
        if position == 0:  # the chart renders these from shared values: the same in every executor Deployment
            _frontend(mapper, item, executor[0])
            _pod(mapper, item, located[0], executor[0])
    if queues:
        mapper.put("queues", queues, ", ".join(item.describe() for item in recognised.executors))
    for item in recognised.daemon_configs[:1]:
        _daemon(mapper, item)
    _registry(mapper, recognised.registries)
    return Mapping(mapper.tree, tuple(mapper.mapped), tuple(mapper.unmapped), tuple(mapper.problems))


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """base with override's keys on top, maps merged key by key, anything else replaced (a list wholesale)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def config_object(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "helm-post-renderer"}, "spec": spec}


class PostRendered(Record):
    output: bytes
    lines: tuple[str, ...]  # the report: what was mapped and replaced, warnings, refusals
    code: int
    config: dict[str, Any] | None = None  # the merged ExecutorDind config, once mapped


def _refused(lines: list[str], *reasons: str) -> PostRendered:
    return PostRendered(b"", (*lines, *(f"executor-dind: error: {reason}" for reason in reasons)), 1)


def post_render(data: bytes, overrides: dict[str, Any]) -> PostRendered:
    """The chart's stream and the user's spec tree (from --post-renderer-args) -> our stream and the report."""
    from executor_dind import function
    from executor_dind.process import stream_outcome
    from executor_dind.results import sort_results

    try:
        items = read_stream(decode(data))
    except InputError as error:
        return _refused([], *error.messages)
    recognised = recognise(items)
    if not recognised.executors:
        return _refused(
            [],
            "no executor workload in Helm's output (a Deployment running Sourcegraph's executor beside dockerd): "
            "use this post-renderer with the sourcegraph-executor dind chart",
        )
    mapping = map_chart(recognised)
    lines = [f"executor-dind: mapped {line}" for line in mapping.mapped]
    lines += [f"executor-dind: not mapped: {line}" for line in mapping.unmapped]
    if mapping.problems:
        return _refused(lines, *mapping.problems)
    config = config_object(merged(mapping.tree, overrides))
    chart = set(map(id, recognised.items))
    kept = [item for item in items if id(item) not in chart]
    try:
        outcome = function.run(kept, config)
    except InputError as error:
        return _refused(lines, *error.messages)
    if outcome.failed:
        said = [f"executor-dind: {result.line()}" for result in sort_results(outcome.results)]
        return PostRendered(b"", (*lines, *said), 1, config)
    processed = stream_outcome(outcome)
    if processed.code != 0:  # an item that cannot be written out
        return PostRendered(b"", (*lines, *processed.messages), 1, config)
    replaced = ", ".join(item.describe() for item in recognised.items)
    lines.append(f"executor-dind: replaced the chart's {replaced}; kept {len(kept)} other objects unchanged")
    lines += [message for message in processed.messages]
    lines += [result.message for result in outcome.results if result.severity == "info"]
    lines.append("executor-dind: self-audit passed: no error finding on the executor workloads emitted")
    return PostRendered(processed.output, tuple(lines), 0, config)
