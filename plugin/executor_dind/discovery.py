"""What the input tells us: Sourcegraph's namespace, the frontend Service, the secret, upstream executors."""

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from executor_dind.config import Spec
from executor_dind.krm_io import Item
from executor_dind.podspec import container, pod_spec
from executor_dind.results import Result, about

FRONTEND_SERVICE = "sourcegraph-frontend"
DEFAULT_FRONTEND_PORT = 30080
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


class Context(NamedTuple):
    """Where the executors go and how they reach Sourcegraph."""

    namespace: str
    sourcegraph_namespace: str
    frontend_url: str
    frontend_pod_labels: Mapping[str, str] = MappingProxyType({"app": "sourcegraph-frontend"})
    frontend_pod_port: int | str = "http"


class Discovery(NamedTuple):
    context: Context | None
    upstream: list[Item]
    results: list[Result]


def _frontend_service(items: list[Item]) -> Item | None:
    for item in items:
        if item.kind == "Service" and item.name == FRONTEND_SERVICE and item.api_version == "v1":
            return item
    return None


def _http_port(service: dict[str, Any]) -> tuple[int, int | str]:
    """(Service port, target port) of the frontend's `http` port, else of its first port."""
    spec = service.get("spec") if isinstance(service, dict) else None
    ports = spec.get("ports") if isinstance(spec, dict) else None
    ports = [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []
    chosen = next((p for p in ports if p.get("name") == "http"), ports[0] if ports else {})
    port = chosen.get("port", DEFAULT_FRONTEND_PORT)
    return port, chosen.get("targetPort", port)


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


def discover(spec: Spec, items: list[Item]) -> Discovery:
    results: list[Result] = []
    service = _frontend_service(items)
    sourcegraph_namespace = service.namespace if service is not None else ""
    namespace = spec.namespace or sourcegraph_namespace
    context_args: dict[str, Any] = {}
    url = spec.frontend.url
    in_cluster = re.match(rf"^https?://{FRONTEND_SERVICE}\.([a-z0-9-]+)\.svc[.:/]", url)
    if service is None and in_cluster:
        sourcegraph_namespace = in_cluster[1]  # the URL names the frontend Service's namespace
    if service is not None:
        port, target_port = _http_port(service.obj)
        service_spec = service.obj.get("spec") if isinstance(service.obj, dict) else None
        selector = service_spec.get("selector") if isinstance(service_spec, dict) else None
        if isinstance(selector, dict) and selector:
            context_args["frontend_pod_labels"] = dict(selector)
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
    if not url:
        results.append(
            Result(
                f"cannot derive the frontend URL: the executors go to namespace {namespace!r} but Sourcegraph's "
                f"namespace is unknown (no namespaced {FRONTEND_SERVICE} Service in the input); "
                "set spec.frontend.url, e.g. http://sourcegraph-frontend.<namespace>.svc.cluster.local:30080",
                field_path="spec.frontend.url",
            )
        )
        return Discovery(None, [], results)
    results.extend(_secret_results(spec, items, namespace))
    context = Context(namespace, sourcegraph_namespace, url, **context_args)
    return Discovery(context, upstream_executor_objects(items), results)


def _secret_results(spec: Spec, items: list[Item], namespace: str) -> list[Result]:
    name = spec.frontend.password_secret.name
    # kustomize's generated Secrets carry a hash suffix once built: executor-secret-<10 characters>.
    hashed = re.compile(re.escape(name) + r"(-[a-z0-9]{10})?")
    found = [item for item in items if item.kind == "Secret" and hashed.fullmatch(item.name)]
    if not found or any(item.namespace == namespace for item in found):
        return []
    elsewhere = ", ".join(sorted({item.namespace or "(none)" for item in found}))
    return [
        about(
            found[0],
            f"the executors' password Secret {name!r} is in namespace {elsewhere}, not in {namespace!r} where "
            f"the executors run: create it there too (e.g. a secretGenerator in the executors' overlay, or "
            f"kubectl -n {namespace} create secret generic {name} --from-literal=password=...)",
            "warning",
        )
    ]
