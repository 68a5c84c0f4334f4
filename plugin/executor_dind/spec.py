"""The ExecutorDind spec: its records, each field's value checked alone (values.py); spec.hardening's are in
settings.py. A leaf: importing it loads no YAML library, no object builder, no hardening and no audit module.

Checks across fields are the controls' validate hooks (hardening/<control>.py), run when the functionConfig is
parsed (function_config.py); checks that need the input run later, in the plan's check step.
"""

from __future__ import annotations

from collections.abc import Mapping

from executor_dind import values
from executor_dind.records import EMPTY, ConfigError, Field, Parser, Record
from executor_dind.settings import Hardening

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Annotated, Any, Literal

API_VERSION = "executor-dind.dev/v1alpha1"
KIND = "ExecutorDind"
QUEUES = ("batches", "codeintel")
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
        "EXECUTOR_NUM_TOTAL_JOBS",
        "EXECUTOR_MAX_ACTIVE_TIME",
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
    "registry": "index.docker.io/library/registry:3.0.0",
}


class SecretKeyRef(Record):
    name: Annotated[str, Field(check=values.dns_subdomain, doc="Secret holding the executor shared secret")] = (
        "executor-secret"
    )
    key: Annotated[str, Field(check=values.config_key, doc="key in that Secret")] = "password"


class Frontend(Record):
    url: Annotated[str, Field(check=values.url, doc="default: derived from the sourcegraph-frontend Service")] = ""
    password_secret: Annotated[SecretKeyRef, Field(doc="never a literal password")] = SecretKeyRef()


class Autoscaling(Record):
    """A KEDA ScaledObject on the queue's jobs, queued plus running (autoscaling.scaled_object says how)."""

    max_replicas: Annotated[int, Field(doc="the most executor pods KEDA may run for this queue")]
    min_replicas: Annotated[int, Field(doc="0: no executor pod while the queue is empty")] = 0
    jobs_per_replica: Annotated[int | None, Field(doc="the jobs one pod takes; default: maximumNumJobs")] = None
    prometheus: Annotated[
        str, Field(check=values.url, doc="default: derived from the prometheus Service (its FQDN: KEDA runs elsewhere)")
    ] = ""


class Recycle(Record):
    after_jobs: Annotated[
        int, Field(doc="EXECUTOR_NUM_TOTAL_JOBS: the executor exits after this many jobs; 0: never")
    ] = 0
    after_time: Annotated[
        str, Field(check=values.optional_duration, doc="EXECUTOR_MAX_ACTIVE_TIME: stop dequeuing after it; '': never")
    ] = ""


class Queue(Record):
    name: Annotated[str, Field(check=values.dns_label, doc="Deployment suffix: executor-<name>")]
    queue_names: Annotated[tuple[Literal["batches", "codeintel"], ...], Field(doc="default [name]")] = ()
    replicas: Annotated[int, Field(doc="ignored with autoscaling: KEDA sets the replicas")] = 1
    maximum_num_jobs: Annotated[int, Field(doc="EXECUTOR_MAXIMUM_NUM_JOBS")] = 4
    resources: Annotated[
        Mapping[str, Any], Field(check=values.resources, doc="executor container resources; defaults when empty")
    ] = EMPTY
    env: Annotated[Mapping[str, Any], Field(doc='NAME: "value" or NAME: {valueFrom: ...}')] = EMPTY
    autoscaling: Annotated[Autoscaling | None, Field(doc="null: a fixed replica count")] = None
    recycle: Annotated[Recycle, Field(doc="executors that exit after bounded work")] = Recycle()
    isolation: Annotated[
        Literal["shared", "job"],
        Field(
            doc="shared: a Deployment whose pods and dockerd serve job after job; job: a KEDA ScaledJob, a fresh "
            "pod and dockerd per job (needs autoscaling; docs/isolation.md)"
        ),
    ] = "shared"

    @property
    def names(self) -> tuple[str, ...]:
        return self.queue_names or (self.name,)


class Log(Record):
    level: Literal["dbug", "info", "warn", "eror", "crit"] = "warn"
    format: Literal["json", "json_gcp", "condensed", "logfmt", "console"] = "json"


class Images(Record):
    executor: Annotated[str, Field(check=values.image)] = DEFAULT_IMAGES["executor"]
    dind: Annotated[str, Field(check=values.image)] = DEFAULT_IMAGES["dind"]
    registry: Annotated[str, Field(check=values.image)] = DEFAULT_IMAGES["registry"]


class Storage(Record):
    type: Literal["emptyDir", "ephemeral"] = "emptyDir"
    size: Annotated[str, Field(check=values.quantity, doc="default 20Gi for emptyDir; required for ephemeral")] = ""
    storage_class_name: Annotated[str, Field(check=values.optional_dns_subdomain)] = ""


class Prune(Record):
    enabled: Annotated[
        bool,
        Field(doc="an unprivileged sidecar removes what jobs left and no container uses, through the loopback API"),
    ] = True
    interval: Annotated[str, Field(check=values.duration, doc="time between two prunes")] = "1h"
    until: Annotated[
        str,
        Field(
            check=values.duration, doc="only what was created longer ago: stopped containers, networks, volumes, images"
        ),
    ] = "24h"


class Docker(Record):
    native_sidecar: Annotated[bool, Field(doc="dind as an init container with restartPolicy: Always (k8s >= 1.29)")] = (
        True
    )
    mtu: Annotated[
        int | Literal["auto"], Field(doc="of every bridge network; auto: the pod interface's, read at start")
    ] = 1200
    storage_size: Annotated[
        str, Field(check=values.required_quantity, doc="sizeLimit of the /var/lib/docker emptyDir")
    ] = "40Gi"
    daemon_config: Annotated[Mapping[str, Any], Field(doc="merged into daemon.json; hosts stays loopback-only")] = EMPTY
    resources: Annotated[
        Mapping[str, Any], Field(check=values.resources, doc="dind container resources; defaults when empty")
    ] = EMPTY
    prune: Annotated[
        Prune, Field(doc="periodic prune of stopped job containers and unused networks, volumes, images")
    ] = Prune()


class PrivateRegistry(Record):
    enabled: bool = True
    storage: Annotated[str, Field(check=values.required_quantity)] = "100Gi"
    storage_class_name: Annotated[str, Field(check=values.optional_dns_subdomain)] = ""
    remote_url: Annotated[str, Field(check=values.url)] = "https://registry-1.docker.io"


def _reason(value: str) -> str | None:
    return None if len(value.split()) >= 3 else "must say why the finding is acceptable here, in a few words"


class AuditException(Record):
    rule: Annotated[str, Field(doc="the audit rule ID, e.g. EXD303 (checked against the audit's registry)")]
    reason: Annotated[str, Field(check=_reason, doc="why this render may break the rule (shown on every render)")]


def _policy_kind(value: str) -> str | None:
    if not value or not value.replace("-", "").isalnum() or not value[0].isupper():
        return f"{value!r} is not a Kubernetes kind (e.g. CiliumNetworkPolicy)"
    return None


class OutOfScopePolicy(Record):
    kind: Annotated[str, Field(check=_policy_kind, doc="a policy kind the audit refuses, e.g. CiliumNetworkPolicy")]
    reason: Annotated[str, Field(check=_reason, doc="why the audit may ignore it here (shown on every audit)")]


class Spec(Record):
    namespace: Annotated[str, Field(check=values.optional_dns_label, doc="default: the sourcegraph-frontend's")] = ""
    frontend: Frontend = Frontend()
    queues: Annotated[tuple[Queue, ...], Field(doc="one Deployment executor-<name> per entry")] = (
        Queue(name="all", queue_names=QUEUES),
    )
    maximum_runtime_per_job: Annotated[str, Field(check=values.duration)] = "30m"
    termination_grace_period_seconds: Annotated[
        int | None, Field(doc="default: maximumRuntimePerJob + 60 s", maximum=2**63 - 1)
    ] = None
    replace_upstream: Annotated[bool, Field(doc="remove upstream components/executors/dind objects")] = False
    log: Log = Log()
    images: Images = Images()
    storage: Storage = Storage()
    docker: Docker = Docker()
    private_registry: PrivateRegistry = PrivateRegistry()
    hardening: Hardening = Hardening()
    audit_exceptions: Annotated[
        tuple[AuditException, ...],
        Field(doc="audit error findings this render may carry: each becomes a warning that gives the reason"),
    ] = ()
    audit_out_of_scope: Annotated[
        tuple[OutOfScopePolicy, ...],
        Field(doc="policy kinds besides NetworkPolicy the audit may leave unjudged, each with the reason"),
    ] = ()

    @property
    def grace_period_seconds(self) -> int:
        if self.termination_grace_period_seconds is not None:
            return self.termination_grace_period_seconds
        return values.duration_seconds(self.maximum_runtime_per_job) + 60

    @property
    def scratch_size(self) -> str:
        return self.storage.size or "20Gi"


def parse_spec(raw: Any, path: str = "spec") -> Spec:
    """The frozen spec, each field's value checked alone; ConfigError lists every problem with its field path.
    The checks across fields are the controls' validate hooks (function_config.validated_spec runs both)."""
    parser = Parser()
    spec = parser.record(Spec, raw, path)
    if parser.problems:
        raise ConfigError(parser.problems)
    return spec
