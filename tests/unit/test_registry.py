"""registry: the pull-through registry's StatefulSet and Service, and daemon.json pointing at it."""

from __future__ import annotations

from executor_dind import naming
from executor_dind.audit.scope import selector_matches
from executor_dind.podspec import pod_labels

from .built import (
    build,
    daemon_json,
)
from .helpers import find, pod


def test_registry_on_daemon_json_points_at_its_service():
    objects = build()
    config = daemon_json(objects)
    service = find(objects, "Service", naming.REGISTRY)
    port = service["spec"]["ports"][0]["port"]
    assert config["registry-mirrors"] == [f"http://{naming.REGISTRY}:{port}"]
    assert config["insecure-registries"] == [f"{naming.REGISTRY}:{port}"]
    statefulset = find(objects, "StatefulSet", naming.REGISTRY)
    assert selector_matches({"matchLabels": service["spec"]["selector"]}, pod_labels(statefulset))
    assert statefulset["spec"]["serviceName"] == naming.REGISTRY
    claim = statefulset["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "100Gi"
    registry = pod(statefulset)["containers"][0]
    assert {"name": "REGISTRY_PROXY_REMOTEURL", "value": "https://registry-1.docker.io"} in registry["env"]
    assert registry["ports"][0]["name"] == service["spec"]["ports"][0]["targetPort"]


def test_registry_off_means_no_registry_objects_and_no_mirrors():
    objects = build(privateRegistry={"enabled": False})
    assert [o for o in objects if o["metadata"]["name"] == naming.REGISTRY] == []
    config = daemon_json(objects)
    assert "registry-mirrors" not in config
    assert "insecure-registries" not in config


def test_registry_storage_class_and_size():
    objects = build(privateRegistry={"storage": "10Gi", "storageClassName": "standard"})
    claim = find(objects, "StatefulSet", naming.REGISTRY)["spec"]["volumeClaimTemplates"][0]["spec"]
    assert (claim["storageClassName"], claim["resources"]["requests"]["storage"]) == ("standard", "10Gi")
