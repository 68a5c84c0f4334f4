"""The objects executor-dind injects, with the baseline security that needs no cluster support.

The executor Deployments are built in deployment.py, per-job ScaledJobs in scaledjob.py, the registry in
registry.py; names and labels in naming.py.
"""

from __future__ import annotations

import json

from executor_dind.deployment import BRIDGE_MTU_OPTION, executor_deployment
from executor_dind.naming import (
    DOCKER_CONFIG,
    DOCKER_PORT,
    EXECUTOR_POD_SELECTOR,
    METRICS_PORT,
    METRICS_SERVICE,
    REGISTRY,
    REGISTRY_PORT,
    SERVICE_ACCOUNT,
    object_metadata,
)
from executor_dind.records import thaw
from executor_dind.registry import registry_objects

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.discovery import Context
    from executor_dind.spec import Spec

BUILD_CACHE_KEEP = "10GB"


def daemon_config(spec: Spec) -> dict[str, Any]:
    config: dict[str, Any] = {"hosts": [f"tcp://127.0.0.1:{DOCKER_PORT}"], "tls": False}
    if spec.docker.mtu != "auto":  # auto: a flag, from the pod interface at start (deployment.dockerd_script)
        config["mtu"] = spec.docker.mtu
    # Build cache (jobs that `docker build`): collected past this size; images are the prune sidecar's.
    config["builder"] = {"gc": {"enabled": True, "defaultKeepStorage": BUILD_CACHE_KEEP}}
    if spec.private_registry.enabled:
        config["registry-mirrors"] = [f"http://{REGISTRY}:{REGISTRY_PORT}"]
        config["insecure-registries"] = [f"{REGISTRY}:{REGISTRY_PORT}"]
    config.update(thaw(spec.docker.daemon_config))
    if "mtu" in config:  # auto passes both as flags
        config["default-network-opts"] = _with_bridge_mtu(config.get("default-network-opts", {}), config["mtu"])
    return config


def _with_bridge_mtu(network_opts: dict[str, Any], mtu: int) -> dict[str, Any]:
    """daemonConfig's default-network-opts with the bridge driver's MTU added (a string: moby decodes the
    options as map[string]map[string]string); a bridge MTU option set there is the user's and stays."""
    bridge = network_opts.get("bridge", {})
    if BRIDGE_MTU_OPTION in bridge:
        return network_opts
    return {**network_opts, "bridge": {**bridge, BRIDGE_MTU_OPTION: str(mtu)}}


def daemon_json(spec: Spec) -> str:
    # No trailing newline: kustomize trims JSON6902 patch text, and the components must match the function.
    return json.dumps(daemon_config(spec), indent=2, sort_keys=True)


def docker_config_map(context: Context, text: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_metadata(DOCKER_CONFIG, context),
        "data": {"daemon.json": text},
    }


def service_account(context: Context) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": object_metadata(SERVICE_ACCOUNT, context),
        "automountServiceAccountToken": False,
    }


def metrics_service(context: Context) -> dict[str, Any]:
    annotations = {"prometheus.io/port": str(METRICS_PORT), "sourcegraph.prometheus/scrape": "true"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_metadata(METRICS_SERVICE, context, annotations=annotations),
        "spec": {
            "clusterIP": "None",
            "selector": dict(EXECUTOR_POD_SELECTOR),
            "ports": [{"name": "debug", "port": METRICS_PORT, "targetPort": "debug"}],
        },
    }


def build(spec: Spec, context: Context) -> list[dict[str, Any]]:
    """Fresh objects (no node shared with the spec or between objects), in the order they are emitted."""
    text = daemon_json(spec)
    objects = [service_account(context), docker_config_map(context, text), metrics_service(context)]
    for queue in spec.queues:
        if queue.isolation == "job":
            from executor_dind.scaledjob import scaled_job  # imported only for a queue of one pod per job

            objects.append(scaled_job(spec, queue, context, text))
            continue
        objects.append(executor_deployment(spec, queue, context, text))
        if queue.autoscaling is not None:
            from executor_dind.autoscaling import scaled_object  # imported only for a queue that autoscales

            objects.append(scaled_object(queue, context))
    if spec.private_registry.enabled:
        objects.extend(registry_objects(spec, context))
    return objects
