"""What the input tells us: Sourcegraph's namespace, the frontend Service, Secrets, upstream executor objects.

Discovery only reads; whether what it found is good enough is decided by the plan's check step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from executor_dind.krm.item import Item
from executor_dind.podspec import container, pod_spec
from executor_dind.records import Record
from executor_dind.results import ResourceRef, Result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.spec import Spec

FRONTEND_SERVICE = "sourcegraph-frontend"
DEFAULT_FRONTEND_PORT = 30080
# deploy-sourcegraph-k8s base/monitoring: the Prometheus that scrapes the worker's executor queue metrics.
PROMETHEUS_SERVICE = "prometheus"
DEFAULT_PROMETHEUS_PORT = 30090
# The objects of deploy-sourcegraph-k8s components/executors/dind (and its private-docker-registry).
UPSTREAM_OBJECTS = frozenset(
    {
        ("Deployment", "executor"),
        ("Service", "executor"),
        ("ConfigMap", "executor-config"),
        ("ConfigMap", "docker-config"),
        ("Deployment", "private-docker-registry"),
        ("Service", "private-docker-registry"),
        ("PersistentVolumeClaim", "private-docker-registry"),
    }
)


class Context(Record):
    """Where the executors go, how they reach Sourcegraph, and what else in the input concerns them.

    frontend_url is "" when it cannot be derived (the check step says why). config_ref is the functionConfig,
    which results about spec fields point at.
    """

    namespace: str
    sourcegraph_namespace: str
    frontend_url: str
    frontend_pod_labels: Mapping[str, str] = MappingProxyType({"app": "sourcegraph-frontend"})
    frontend_pod_port: int | str = "http"
    secrets: tuple[Item, ...] = ()
    upstream: tuple[Item, ...] = ()
    config_ref: ResourceRef | None = None
    namespaces: frozenset[str] = frozenset()
    password_secret: str = ""
    # KEDA queries Prometheus from its own namespace: always the Service's FQDN; "" when no namespace is known.
    prometheus_url: str = ""
    # The input's RuntimeClasses: name -> handler.
    runtime_classes: Mapping[str, str] = MappingProxyType({})

    def secret_name(self, spec: Spec) -> str:
        """The password Secret's name as the input holds it (kustomize's hash suffix included), else the spec's."""
        return self.password_secret or spec.frontend.password_secret.name


class Discovery(Record):
    context: Context
    results: list[Result]


def _frontend_service(items: list[Item], name: str = FRONTEND_SERVICE) -> Item | None:
    for item in items:
        if item.kind == "Service" and item.name == name and item.api_version == "v1":
            return item
    return None


def _prometheus_url(items: list[Item], sourcegraph_namespace: str) -> str:
    """http://prometheus.<ns>.svc.cluster.local:<its http port>, from the Service in the input, else in
    Sourcegraph's namespace on the base's port; "" when no namespace is known."""
    service = _frontend_service(items, PROMETHEUS_SERVICE)
    namespace = service.namespace if service is not None and service.namespace else sourcegraph_namespace
    port = _http_port(service.obj, DEFAULT_PROMETHEUS_PORT)[0] if service is not None else DEFAULT_PROMETHEUS_PORT
    if not namespace:
        return ""
    return f"http://{PROMETHEUS_SERVICE}.{namespace}.svc.cluster.local:{port}"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _port_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def _http_port(service: Any, default: int = DEFAULT_FRONTEND_PORT) -> tuple[int, int | str]:
    """(Service port, target port) of the frontend's `http` port, else of its first port; what is not a port in
    the input (a partial object, a typo) falls back to the defaults rather than into the objects."""
    ports = _mapping(_mapping(service).get("spec")).get("ports")
    ports = [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []
    chosen = next((p for p in ports if p.get("name") == "http"), ports[0] if ports else {})
    port = chosen.get("port") if _port_number(chosen.get("port")) else default
    target = chosen.get("targetPort", port)
    named = isinstance(target, str) and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", target) and len(target) <= 15
    return port, target if _port_number(target) or named else port


def upstream_executor_objects(items: list[Item]) -> list[Item]:
    """The upstream dind component's objects, when its executor Deployment (with a dind container) is present."""
    deployments = [
        item
        for item in items
        if item.kind == "Deployment"
        and item.name == "executor"
        and (located := pod_spec(item.obj)) is not None
        and container(located[0], "dind") is not None
    ]
    namespaces = {item.namespace for item in deployments}
    if "" in namespaces:
        namespaces.add("default")  # upstream hard-codes it on the registry Service (D4)
    return [item for item in items if (item.kind, item.name) in UPSTREAM_OBJECTS and item.namespace in namespaces]


def _password_secrets(spec: Spec, items: list[Item]) -> tuple[Item, ...]:
    name = spec.frontend.password_secret.name
    # kustomize's generated Secrets carry a hash suffix once built: executor-secret-<10 characters>.
    hashed = re.compile(re.escape(name) + r"(-[a-z0-9]{10})?")
    return tuple(item for item in items if item.kind == "Secret" and hashed.fullmatch(item.name))


def discover(spec: Spec, items: list[Item], config_ref: ResourceRef | None = None) -> Discovery:
    results: list[Result] = []
    service = _frontend_service(items)
    sourcegraph_namespace = service.namespace if service is not None else ""
    namespace = spec.namespace or sourcegraph_namespace
    context_args: dict[str, Any] = {}
    url = spec.frontend.url
    in_cluster = re.match(rf"https?://{FRONTEND_SERVICE}\.([a-z0-9-]+)\.svc[.:/]", url)
    if service is None and in_cluster:
        sourcegraph_namespace = in_cluster[1]  # the URL names the frontend Service's namespace
    if service is not None:
        port, target_port = _http_port(service.obj)
        selector = _mapping(_mapping(service.obj).get("spec")).get("selector")
        if isinstance(selector, dict) and selector and all(isinstance(v, str) for v in selector.values()):
            context_args["frontend_pod_labels"] = MappingProxyType(dict(selector))
        context_args["frontend_pod_port"] = target_port
        if not url:
            if namespace == sourcegraph_namespace:
                url = f"http://{FRONTEND_SERVICE}:{port}"
            elif sourcegraph_namespace:
                url = f"http://{FRONTEND_SERVICE}.{sourcegraph_namespace}.svc.cluster.local:{port}"
    elif not url and not namespace:
        url = f"http://{FRONTEND_SERVICE}:{DEFAULT_FRONTEND_PORT}"
        results.append(
            Result(
                f"no {FRONTEND_SERVICE} Service in the input: assuming {url} in the same namespace; "
                "set spec.frontend.url if Sourcegraph runs elsewhere",
                "info",
            )
        )
    secrets = _password_secrets(spec, items)
    beside = [item.name for item in secrets if item.namespace == namespace]
    context = Context(
        namespace,
        sourcegraph_namespace,
        url,
        secrets=secrets,
        namespaces=frozenset(item.name for item in items if item.kind == "Namespace" and item.api_version == "v1"),
        # The exact name when the input has it, else the one kustomize's secretGenerator hashed.
        password_secret="" if not beside or spec.frontend.password_secret.name in beside else sorted(beside)[0],
        upstream=tuple(upstream_executor_objects(items)),
        runtime_classes=MappingProxyType(
            {
                item.name: str(_mapping(item.obj).get("handler", ""))
                for item in items
                if item.kind == "RuntimeClass" and item.api_version == "node.k8s.io/v1"
            }
        ),
        config_ref=config_ref,
        prometheus_url=_prometheus_url(items, sourcegraph_namespace or namespace)
        if any(queue.autoscaling is not None for queue in spec.queues)
        else "",
        **context_args,
    )
    return Discovery(context, results)
