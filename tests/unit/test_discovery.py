"""discovery: the executors' namespace and frontend URL (DESIGN §2 'Namespaces'), the Secret warning, upstream
objects."""

from __future__ import annotations

from executor_dind.discovery import discover, upstream_executor_objects
from executor_dind.krm.read import read_stream

from .conftest import UPSTREAM_NAMES
from .helpers import frontend_service, items, spec


def where(*objs, **raw):
    found = discover(spec(**raw), items(*objs))
    context = found.context
    return (context.namespace, context.frontend_url), found


# --- namespace and URL ------------------------------------------------------------------------------------------


def test_beside_sourcegraph_the_short_service_name_is_used():
    (placed, found) = where(frontend_service("sourcegraph"))
    assert placed == ("sourcegraph", "http://sourcegraph-frontend:30080")
    assert found.results == []


def test_same_namespace_given_explicitly_keeps_the_short_name():
    placed, _ = where(frontend_service("sourcegraph"), namespace="sourcegraph")
    assert placed == ("sourcegraph", "http://sourcegraph-frontend:30080")


def test_another_namespace_uses_the_service_fqdn():
    placed, found = where(frontend_service("sourcegraph"), namespace="executors")
    assert placed == ("executors", "http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080")
    assert found.context.sourcegraph_namespace == "sourcegraph"
    assert found.results == []


def test_the_port_is_the_services_http_port():
    service = frontend_service("sourcegraph", port=80)
    service["spec"]["ports"].insert(0, {"name": "metrics", "port": 6060})
    placed, found = where(service)
    assert placed == ("sourcegraph", "http://sourcegraph-frontend:80")
    assert found.context.frontend_pod_port == "http"


def test_without_an_http_port_the_first_port_is_used():
    service = frontend_service("sourcegraph", port=8080, target=3080)
    service["spec"]["ports"][0]["name"] = "web"
    placed, found = where(service)
    assert placed == ("sourcegraph", "http://sourcegraph-frontend:8080")
    assert found.context.frontend_pod_port == 3080


def test_frontend_pod_labels_come_from_the_service_selector():
    service = frontend_service("sourcegraph")
    service["spec"]["selector"] = {"app": "sourcegraph-frontend", "tier": "web"}
    _, found = where(service)
    assert dict(found.context.frontend_pod_labels) == {"app": "sourcegraph-frontend", "tier": "web"}


def test_no_namespace_anywhere_gives_the_short_name_silently():
    placed, found = where(frontend_service(None))
    assert placed == ("", "http://sourcegraph-frontend:30080")
    assert found.results == []


def test_no_service_and_no_namespace_assumes_the_default_and_says_so():
    placed, found = where()
    assert placed == ("", "http://sourcegraph-frontend:30080")
    assert [(r.severity, r.field_path) for r in found.results] == [("info", "")]
    assert found.results[0].message.startswith(
        "no sourcegraph-frontend Service in the input: assuming http://sourcegraph-frontend:30080"
    )


# --- upstream objects -------------------------------------------------------------------------------------------


def test_upstream_component_objects_are_all_detected(upstream_component):
    stream = read_stream(upstream_component)
    detected = upstream_executor_objects(stream)
    assert sorted((item.kind, item.name) for item in detected) == sorted(UPSTREAM_NAMES)
    found = discover(spec(), [*items(frontend_service("sourcegraph")), *stream])
    assert sorted((item.kind, item.name) for item in found.context.upstream) == sorted(UPSTREAM_NAMES)


def test_an_executor_deployment_without_dind_is_not_upstreams():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "executor", "namespace": "sourcegraph"},
        "spec": {"template": {"spec": {"containers": [{"name": "executor", "image": "x"}]}}},
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "executor-config", "namespace": "sourcegraph"},
    }
    assert upstream_executor_objects(items(deployment, config_map)) == []


def test_upstream_names_in_another_namespace_are_left_alone(upstream_component):
    stream = read_stream(upstream_component)
    stranger = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "executor-config", "namespace": "other"}}
    detected = upstream_executor_objects([*stream, *items(stranger)])
    assert {item.namespace for item in detected} == {"sourcegraph"}
    assert len(detected) == len(UPSTREAM_NAMES)


# --- the Prometheus KEDA queries (autoscaled queues only) -------------------------------------------------------

AUTOSCALED = {"queues": [{"name": "batches", "autoscaling": {"maxReplicas": 2}}]}


def prometheus_service(namespace: str | None, port: int = 30090) -> dict:
    service = frontend_service(namespace, port)
    service["metadata"]["name"] = "prometheus"
    return service


def test_the_prometheus_address_is_the_services_fqdn_and_http_port():
    _, found = where(frontend_service("sourcegraph"), prometheus_service("monitoring", 9090), **AUTOSCALED)
    assert found.context.prometheus_url == "http://prometheus.monitoring.svc.cluster.local:9090"


def test_without_a_prometheus_service_sourcegraphs_namespace_and_the_bases_port_are_assumed():
    _, found = where(frontend_service("sourcegraph"), **AUTOSCALED)
    assert found.context.prometheus_url == "http://prometheus.sourcegraph.svc.cluster.local:30090"
    # a namespace-less Service in a namespaced Sourcegraph: that namespace
    _, found = where(frontend_service("sourcegraph"), prometheus_service(None, 9090), **AUTOSCALED)
    assert found.context.prometheus_url == "http://prometheus.sourcegraph.svc.cluster.local:9090"


def test_no_namespace_anywhere_gives_no_prometheus_address():
    _, found = where(frontend_service(None), prometheus_service(None), **AUTOSCALED)
    assert found.context.prometheus_url == ""
    # the executors' own namespace is where Sourcegraph's is assumed when nothing says otherwise
    _, found = where(namespace="executors", **AUTOSCALED)
    assert found.context.prometheus_url == "http://prometheus.executors.svc.cluster.local:30090"


def test_no_autoscaled_queue_no_prometheus_address():
    _, found = where(frontend_service("sourcegraph"), prometheus_service("sourcegraph"))
    assert found.context.prometheus_url == ""
