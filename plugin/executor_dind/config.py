"""The ExecutorDind spec: typed, validated once at the edge, frozen afterwards.

The typed records below are the single description of the spec: parsing, the unknown-field suggestions, the
ConfigMap (dotted keys, string values) form and the JSON Schema printed by `executor-dind schema` are all derived
from them. Field names are snake_case in Python and camelCase on the wire (or the `key` of their Field).

They are NamedTuples, not dataclasses: immutable and typed alike, but importing `dataclasses` and building 17
dataclasses costs ~15 ms per process, a third of the whole YAML floor the function is held to (see README,
Performance). `spec._replace(...)` derives variants.
"""

import re
import types
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, Literal, NamedTuple, Union

import yaml

API_VERSION = "executor-dind.dev/v1alpha1"
KIND = "ExecutorDind"
QUEUES = ("batches", "codeintel")
PROFILES = ("baseline", "recommended", "strict")
# Variables the function sets itself; a user value would silently fight them.
MANAGED_ENV = frozenset(
    {
        "EXECUTOR_FRONTEND_URL",
        "EXECUTOR_FRONTEND_PASSWORD",
        "EXECUTOR_QUEUE_NAME",
        "EXECUTOR_QUEUE_NAMES",
        "EXECUTOR_MAXIMUM_NUM_JOBS",
        "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB",
        "EXECUTOR_USE_FIRECRACKER",
        "EXECUTOR_USE_KUBERNETES",
        "EXECUTOR_JOB_NUM_CPUS",
        "EXECUTOR_JOB_MEMORY",
        "SRC_LOG_LEVEL",
        "SRC_LOG_FORMAT",
        "DOCKER_HOST",
        "TMPDIR",
    }
)
DEFAULT_IMAGES = {
    "executor": "index.docker.io/sourcegraph/executor:6.2.1106"
    "@sha256:1363cce32f2002594cad461380b223670e17de1f4466edee956a3404c7bbd172",
    "dind": "index.docker.io/sourcegraph/dind:6.2.1106"
    "@sha256:c64b5efff14ccd82cd6957283b116ef195d374ec911ea7fe56787b93143810fd",
    # No digest for the registry image could be verified from here: an exact tag, and the audit warns.
    "registry": "index.docker.io/library/registry:2.8.3",
}
DENIED_CIDRS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
    # Azure WireServer: a public address that serves the VM agent its configuration.
    "168.63.129.16/32",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
    "ff00::/8",
)

# Immutable, so the default shared by every record cannot be changed through one of them.
EMPTY: Mapping[str, Any] = MappingProxyType({})
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$")
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(h|m|s|ms))+$")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|ms|m|s)")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class ConfigError(Exception):
    """One or more problems with the functionConfig: (field path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


class Field(NamedTuple):
    """What a spec field's type does not say: its wire name when not camelCase, its doc, its value check."""

    key: str = ""
    doc: str = ""
    check: Callable[[Any], str | None] | None = None


_NO_FIELD = Field()


def check_dns_label(value: str) -> str | None:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        return f"{value!r} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)"
    return None


def _check_resources(value: Mapping[str, Any]) -> str | None:
    for key, amounts in value.items():
        if key not in ("requests", "limits") or not (
            amounts is None
            or (isinstance(amounts, Mapping) and all(isinstance(v, (str, int, float)) for v in amounts.values()))
        ):
            return "must be {requests: {...}, limits: {...}} with quantities (e.g. {limits: {memory: 4Gi}})"
    return None


def _check_optional_dns_label(value: str) -> str | None:
    return check_dns_label(value) if value else None


def _check_quantity(value: str) -> str | None:
    return None if not value or _QUANTITY.match(value) else f"{value!r} is not a Kubernetes quantity (e.g. 20Gi)"


def _check_duration(value: str) -> str | None:
    return None if _DURATION.match(value) else f"{value!r} is not a duration (e.g. 30m, 1h30m, 90s)"


def _check_url(value: str) -> str | None:
    if value and not re.match(r"^https?://[^/\s:]+(:[0-9]+)?/?$", value):
        return f"{value!r} is not scheme://host[:port] (e.g. http://sourcegraph-frontend:30080)"
    return None


def _check_cidrs(values: tuple[str, ...]) -> str | None:
    import ipaddress

    for value in values:
        try:
            ipaddress.ip_network(value)
        except ValueError:
            return f"{value!r} is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)"
    return None


def _check_ip(value: str) -> str | None:
    import ipaddress

    try:
        if value:
            ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


def duration_seconds(value: str) -> int:
    unit = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return int(sum(float(n) * unit[u] for n, u in _DURATION_PART.findall(value)))


class SecretKeyRef(NamedTuple):
    name: Annotated[str, Field(doc="Secret holding the executor shared secret")] = "executor-secret"
    key: Annotated[str, Field(doc="key in that Secret")] = "password"


class Frontend(NamedTuple):
    url: Annotated[str, Field(check=_check_url, doc="default: derived from the sourcegraph-frontend Service")] = ""
    password_secret: Annotated[SecretKeyRef, Field(doc="never a literal password")] = SecretKeyRef()


class Queue(NamedTuple):
    name: Annotated[str, Field(check=check_dns_label, doc="Deployment suffix: executor-<name>")]
    queue_names: Annotated[tuple[Literal["batches", "codeintel"], ...], Field(doc="default [name]")] = ()
    replicas: int = 1
    maximum_num_jobs: Annotated[int, Field(doc="EXECUTOR_MAXIMUM_NUM_JOBS")] = 4
    resources: Annotated[
        Mapping[str, Any], Field(check=_check_resources, doc="executor container resources; defaults when empty")
    ] = EMPTY
    env: Annotated[Mapping[str, Any], Field(doc='NAME: "value" or NAME: {valueFrom: ...}')] = EMPTY


class Log(NamedTuple):
    level: Literal["dbug", "info", "warn", "eror", "crit"] = "warn"
    format: Literal["json", "json_gcp", "condensed", "logfmt", "console"] = "json"


class Images(NamedTuple):
    executor: str = DEFAULT_IMAGES["executor"]
    dind: str = DEFAULT_IMAGES["dind"]
    registry: str = DEFAULT_IMAGES["registry"]


class Storage(NamedTuple):
    type: Literal["emptyDir", "ephemeral"] = "emptyDir"
    size: Annotated[str, Field(check=_check_quantity, doc="default 20Gi for emptyDir; required for ephemeral")] = ""
    storage_class_name: str = ""


class Docker(NamedTuple):
    native_sidecar: Annotated[bool, Field(doc="dind as an init container with restartPolicy: Always (k8s >= 1.29)")] = (
        True
    )
    mtu: int = 1200
    storage_size: Annotated[str, Field(check=_check_quantity, doc="sizeLimit of the /var/lib/docker emptyDir")] = "40Gi"
    daemon_config: Annotated[Mapping[str, Any], Field(doc="merged into daemon.json; hosts stays loopback-only")] = EMPTY
    resources: Annotated[
        Mapping[str, Any], Field(check=_check_resources, doc="dind container resources; defaults when empty")
    ] = EMPTY


class PrivateRegistry(NamedTuple):
    enabled: bool = True
    storage: Annotated[str, Field(check=_check_quantity)] = "100Gi"
    storage_class_name: str = ""
    remote_url: Annotated[str, Field(check=_check_url)] = "https://registry-1.docker.io"


class Taint(NamedTuple):
    key: str = "executor-dind.dev/untrusted"
    value: str = "true"
    effect: Literal["NoSchedule", "NoExecute"] = "NoSchedule"


class NodePool(NamedTuple):
    enabled: Annotated[bool | None, Field(doc="unset: the profile decides")] = None
    node_selector: Annotated[Mapping[str, str], Field(doc="empty: nodes labelled <taint.key>=<taint.value>")] = EMPTY
    taint: Taint = Taint()
    spread: Annotated[bool, Field(doc="spread executor pods across nodes")] = True


class Gvisor(NamedTuple):
    enabled: Annotated[bool | None, Field(doc="unset: the profile decides")] = None
    runtime_class_name: Annotated[str, Field(check=check_dns_label)] = "gvisor"
    create_runtime_class: Annotated[bool, Field(doc="also emit a RuntimeClass with handler runsc")] = False


class Dns(NamedTuple):
    namespace: str = "kube-system"
    pod_labels: Mapping[str, str] = MappingProxyType({"k8s-app": "kube-dns"})
    node_local_ip: Annotated[
        str, Field(key="nodeLocalIP", check=_check_ip, doc="NodeLocal DNSCache address, e.g. 169.254.20.10")
    ] = ""


class NetworkPolicy(NamedTuple):
    enabled: Annotated[bool | None, Field(doc="unset: the profile decides")] = None
    denied_cidrs: Annotated[tuple[str, ...], Field(key="deniedCIDRs", check=_check_cidrs)] = DENIED_CIDRS
    allowed_cidrs: Annotated[tuple[str, ...], Field(key="allowedCIDRs", check=_check_cidrs)] = ()
    dns: Dns = Dns()


class PodSecurity(NamedTuple):
    enabled: Annotated[bool | None, Field(doc="unset: the profile decides; needs spec.namespace")] = None


class Hardening(NamedTuple):
    profile: Literal["baseline", "recommended", "strict"] = "baseline"
    node_pool: NodePool = NodePool()
    gvisor: Annotated[Gvisor, Field(key="gvisor")] = Gvisor()
    network_policy: NetworkPolicy = NetworkPolicy()
    pod_security: PodSecurity = PodSecurity()


class Spec(NamedTuple):
    namespace: Annotated[str, Field(check=_check_optional_dns_label, doc="default: the sourcegraph-frontend's")] = ""
    frontend: Frontend = Frontend()
    queues: Annotated[tuple[Queue, ...], Field(doc="one Deployment executor-<name> per entry")] = (
        Queue(name="all", queue_names=QUEUES),
    )
    maximum_runtime_per_job: Annotated[str, Field(check=_check_duration)] = "30m"
    termination_grace_period_seconds: Annotated[int | None, Field(doc="default: maximumRuntimePerJob + 60 s")] = None
    replace_upstream: Annotated[bool, Field(doc="remove upstream components/executors/dind objects")] = False
    log: Log = Log()
    images: Images = Images()
    storage: Storage = Storage()
    docker: Docker = Docker()
    private_registry: PrivateRegistry = PrivateRegistry()
    hardening: Hardening = Hardening()

    @property
    def grace_period_seconds(self) -> int:
        if self.termination_grace_period_seconds is not None:
            return self.termination_grace_period_seconds
        return duration_seconds(self.maximum_runtime_per_job) + 60

    @property
    def scratch_size(self) -> str:
        return self.storage.size or "20Gi"


_MISSING = object()


class _FieldInfo(NamedTuple):
    name: str
    type: Any
    meta: Field
    default: Any


def is_record(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def wire_key(name: str, meta: Field) -> str:
    if meta.key:
        return meta.key
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_FIELDS_CACHE: dict[type, dict[str, _FieldInfo]] = {}


def _fields(cls: type) -> dict[str, _FieldInfo]:
    """Wire key -> field info, from the record's type hints (Annotated carries the Field)."""
    if cls not in _FIELDS_CACHE:
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = {}
        for name in cls._fields:
            hint, meta = hints[name], _NO_FIELD
            if typing.get_origin(hint) is Annotated:
                hint, meta = typing.get_args(hint)[0], typing.get_args(hint)[1]
            info = _FieldInfo(name, hint, meta, cls._field_defaults.get(name, _MISSING))
            fields[wire_key(name, meta)] = info
        _FIELDS_CACHE[cls] = fields
    return _FIELDS_CACHE[cls]


def _is_optional(tp: Any) -> tuple[bool, Any]:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return True, args[0]
    return False, tp


def _type_name(tp: Any) -> str:
    optional, tp = _is_optional(tp)
    origin = typing.get_origin(tp)
    if is_record(tp) or origin is Mapping:
        name = "an object"
    elif origin is tuple:
        name = "a list"
    elif origin is Literal:
        name = "one of " + ", ".join(map(str, typing.get_args(tp)))
    else:
        name = {str: "a string", int: "an integer", bool: "true or false"}[tp]
    return name + (" or null" if optional else "")


class _Parser:
    """Walks raw data against the records, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def value(self, tp: Any, raw: Any, path: str) -> Any:
        optional, tp = _is_optional(tp)
        if raw is None and optional:
            return None
        origin = typing.get_origin(tp)
        if is_record(tp):
            return self.object(tp, raw, path)
        if origin is tuple:
            if not isinstance(raw, list):
                return self.wrong(tp, raw, path)
            (item_type, _) = typing.get_args(tp)
            return tuple(self.value(item_type, item, f"{path}[{i}]") for i, item in enumerate(raw))
        if origin is Mapping:
            if not isinstance(raw, dict):
                return self.wrong(tp, raw, path)
            _, value_type = typing.get_args(tp)
            if value_type is str:
                for key, value in raw.items():
                    if not isinstance(value, str):
                        self.problem(f"{path}.{key}", f"must be a string, got {_shown(value)}")
            return dict(raw)
        if origin is Literal:
            choices = typing.get_args(tp)
            if raw not in choices:
                hint = _nearest(str(raw), [str(c) for c in choices])
                self.problem(path, f"must be {_type_name(tp)}, got {_shown(raw)}{hint}")
            return raw
        if tp is bool:
            return raw if isinstance(raw, bool) else self.wrong(tp, raw, path)
        if tp is int:
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                return self.wrong(tp, raw, path, "a non-negative integer")
            return raw
        if tp is str:
            return raw if isinstance(raw, str) else self.wrong(tp, raw, path)
        raise TypeError(tp)  # pragma: no cover - a spec field of an unsupported type is a programming error

    def wrong(self, tp: Any, raw: Any, path: str, expected: str = "") -> None:
        self.problem(path, f"must be {expected or _type_name(tp)}, got {_shown(raw)}")

    def object(self, cls: type, raw: Any, path: str) -> Any:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            return self.wrong(cls, raw, path)
        known = _fields(cls)
        for key in raw:
            if key not in known:
                hint = _nearest(str(key), list(known))
                self.problem(f"{path}.{key}", f"unknown field{hint}")
        kwargs = {}
        for key, field in known.items():
            where = f"{path}.{key}"
            if key not in raw:
                if field.default is _MISSING:
                    self.problem(where, "is required")
                continue
            value = self.value(field.type, raw[key], where)
            check = field.meta.check
            if check is not None and value is not None and not any(p[0].startswith(where) for p in self.problems):
                message = check(value)
                if message:
                    self.problem(where, message)
            kwargs[field.name] = value
        if any(p[0].startswith(path + ".") or p[0] == path for p in self.problems):
            return None
        return cls(**kwargs)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else repr(value)


def _nearest(word: str, choices: list[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def parse_spec(raw: Any, path: str = "spec") -> Spec:
    parser = _Parser()
    spec = parser.object(Spec, raw, path)
    if spec is not None:
        _cross_checks(spec, path, parser)
    if parser.problems:
        raise ConfigError(parser.problems)
    return spec


def _cross_checks(spec: Spec, path: str, parser: _Parser) -> None:
    seen: set[str] = set()
    for i, queue in enumerate(spec.queues):
        where = f"{path}.queues[{i}]"
        if queue.name in seen:
            parser.problem(f"{where}.name", f"duplicate queue name {queue.name!r}")
        seen.add(queue.name)
        if not queue.queue_names and queue.name not in QUEUES:
            parser.problem(
                f"{where}.queueNames",
                f"is required because the name {queue.name!r} is not itself a queue "
                f"(set queueNames to a list of {', '.join(QUEUES)})",
            )
        if len(set(queue.queue_names)) != len(queue.queue_names):
            parser.problem(f"{where}.queueNames", "lists a queue twice")
        if queue.replicas > 1000 or queue.maximum_num_jobs < 1:
            parser.problem(where, "replicas must be at most 1000 and maximumNumJobs at least 1")
        for name, value in queue.env.items():
            if name in MANAGED_ENV:
                parser.problem(f"{where}.env.{name}", "is set by executor-dind; use the structured spec field instead")
            elif not isinstance(name, str) or not _ENV_NAME.match(name):
                parser.problem(f"{where}.env.{name}", "is not a valid environment variable name")
            elif not isinstance(value, str) and not (isinstance(value, dict) and set(value) == {"valueFrom"}):
                parser.problem(f"{where}.env.{name}", "must be a string or {valueFrom: {...}}")
    if not spec.queues:
        parser.problem(f"{path}.queues", "must list at least one queue")
    if spec.storage.type == "ephemeral" and not spec.storage.size:
        parser.problem(
            f"{path}.storage.size",
            "is required with storage.type: ephemeral (each pod gets a volume of that size: it costs money)",
        )
    if "hosts" in spec.docker.daemon_config:
        parser.problem(
            f"{path}.docker.daemonConfig.hosts",
            "must not be set: dockerd listens on 127.0.0.1:2375 only (an unauthenticated privileged API)",
        )
    if not 576 <= spec.docker.mtu <= 9000:
        parser.problem(f"{path}.docker.mtu", "must be between 576 and 9000")


def _dotted_tree(data: dict[str, Any], path: str) -> dict[str, Any]:
    """ConfigMap data (dotted keys, string values) -> a nested raw spec, typed by the records."""
    tree: dict[str, Any] = {}
    parser = _Parser()
    for dotted, text in data.items():
        where = f"{path}.{dotted}"
        if not isinstance(text, str):
            text = str(text)
        cls: Any = Spec
        node = tree
        keys = dotted.split(".")
        for depth, key in enumerate(keys):
            known = _fields(cls) if is_record(cls) else {}
            if key not in known:
                parser.problem(f"{path}.{'.'.join(keys[: depth + 1])}", "unknown field" + _nearest(key, list(known)))
                break
            _, inner = _is_optional(known[key].type)
            if depth < len(keys) - 1:
                if not isinstance(node.setdefault(key, {}), dict):
                    parser.problem(where, f"conflicts with the key {'.'.join(keys[: depth + 1])!r}")
                    break
                node = node[key]
                cls = inner
            else:
                node[key] = _from_string(inner, key, text, where, parser)
    if parser.problems:
        raise ConfigError(parser.problems)
    return tree


def _from_string(tp: Any, key: str, text: str, where: str, parser: _Parser) -> Any:
    if tp is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return text
    if tp is int:
        return int(text) if text.strip().isdigit() else text
    if tp is str or typing.get_origin(tp) is Literal:
        return text
    if key == "queues" and not text.lstrip().startswith("["):
        return [{"name": name.strip()} for name in text.split(",") if name.strip()]
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        parser.problem(where, f"is not valid YAML flow: {text!r}")
        return None


def parse_function_config(config: dict[str, Any] | None) -> Spec:
    """Accepts the ExecutorDind kind or a ConfigMap with dotted keys; no config at all means the defaults."""
    if not config:
        return Spec()
    api_version, kind = config.get("apiVersion"), config.get("kind")
    if kind == KIND and api_version == API_VERSION:
        return parse_spec(config.get("spec"), "spec")
    if kind == "ConfigMap" and api_version == "v1":
        data = config.get("data") or {}
        if not isinstance(data, dict):
            raise ConfigError([("data", "must be an object of dotted keys, e.g. frontend.url")])
        return parse_spec(_dotted_tree(data, "data"), "data")
    raise ConfigError(
        [
            (
                "functionConfig",
                f"unknown functionConfig {api_version}/{kind}: expected {API_VERSION}/{KIND} "
                "or v1/ConfigMap (dotted keys such as frontend.url)",
            )
        ]
    )


def json_schema() -> dict[str, Any]:
    spec = _schema(Spec)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{KIND} ({API_VERSION})",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": KIND},
            "metadata": {"type": "object"},
            "spec": spec,
        },
    }


def _schema(tp: Any) -> dict[str, Any]:
    optional, tp = _is_optional(tp)
    origin = typing.get_origin(tp)
    if is_record(tp):
        properties = {}
        required = []
        for key, field in _fields(tp).items():
            prop = _schema(field.type)
            if field.meta.doc:
                prop["description"] = field.meta.doc
            if field.default is _MISSING:
                required.append(key)
            properties[key] = prop
        schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
        if required:
            schema["required"] = required
    elif origin is tuple:
        schema = {"type": "array", "items": _schema(typing.get_args(tp)[0])}
    elif origin is Mapping:
        value_type = typing.get_args(tp)[1]
        schema = {"type": "object"}
        if value_type is str:
            schema["additionalProperties"] = {"type": "string"}
    elif origin is Literal:
        schema = {"enum": list(typing.get_args(tp))}
    else:
        schema = {"type": {str: "string", int: "integer", bool: "boolean"}[tp]}
        if tp is int:
            schema["minimum"] = 0
    if optional:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema
