"""model: the objects injected for a spec (DESIGN §3): which ones, daemon.json, no token, metrics Service."""

from __future__ import annotations

from executor_dind import naming
from executor_dind.audit.scope import selector_matches
from executor_dind.podspec import pod_labels, pod_spec

from .built import (
    build,
    daemon_json,
    deployments,
    workloads,
)
from .helpers import DEFAULT_OBJECTS, dind, env, executor, find


def test_default_objects():
    assert [(o["kind"], o["metadata"]["name"]) for o in build()] == DEFAULT_OBJECTS


def test_one_deployment_per_queue():
    objects = build(
        queues=[{"name": "batches", "replicas": 3}, {"name": "codeintel"}, {"name": "gpu", "queueNames": ["codeintel"]}]
    )
    assert [(d["metadata"]["name"], d["spec"]["replicas"]) for d in deployments(objects)] == [
        ("executor-batches", 3),
        ("executor-codeintel", 1),
        ("executor-gpu", 1),
    ]


def test_dockerd_listens_on_loopback_only():
    objects = build()
    config = daemon_json(objects)
    assert config["hosts"] == ["tcp://127.0.0.1:2375"]
    deployment = find(objects, "Deployment", "executor-all")
    # The dind image's entrypoint would add its own --host: dockerd is the command, with no host flags.
    assert dind(deployment)["command"] == ["dockerd"]
    assert "args" not in dind(deployment)
    assert env(deployment)["DOCKER_HOST"] == "tcp://127.0.0.1:2375"


def test_daemon_json_is_real_json_with_the_mtu_and_user_settings():
    config = daemon_json(build(docker={"mtu": 1400, "daemonConfig": {"debug": True, "log-level": "warn"}}))
    assert config["mtu"] == 1400
    assert config["tls"] is False
    assert (config["debug"], config["log-level"]) == (True, "warn")
    assert config["hosts"] == ["tcp://127.0.0.1:2375"]


def test_every_bridge_network_gets_the_mtu():
    """dockerd's mtu covers the default bridge only (moby/moby#34981); default-network-opts covers the networks
    jobs create. A string: moby decodes the options as map[string]map[string]string."""
    bridge_mtu = "com.docker.network.driver.mtu"
    assert daemon_json(build())["default-network-opts"] == {"bridge": {bridge_mtu: "1200"}}
    config = daemon_json(build(docker={"mtu": 1400, "daemonConfig": {"mtu": 1450}}))  # daemonConfig's mtu wins
    assert (config["mtu"], config["default-network-opts"]) == (1450, {"bridge": {bridge_mtu: "1450"}})
    # The user's own default-network-opts keep every option, the MTU added beside them ...
    own = {"bridge": {"com.docker.network.bridge.enable_icc": "false"}, "ipvlan": {"parent": "eth0"}}
    config = daemon_json(build(docker={"mtu": 1400, "daemonConfig": {"default-network-opts": own}}))
    assert config["default-network-opts"] == {
        "bridge": {"com.docker.network.bridge.enable_icc": "false", bridge_mtu: "1400"},
        "ipvlan": {"parent": "eth0"},
    }
    # ... and a bridge MTU the user set stays theirs.
    own = {"bridge": {bridge_mtu: "1300"}}
    config = daemon_json(build(docker={"mtu": 1400, "daemonConfig": {"default-network-opts": own}}))
    assert (config["mtu"], config["default-network-opts"]) == (1400, own)


def test_no_service_account_token_anywhere():
    objects = build()
    account = find(objects, "ServiceAccount", "executor-dind")
    assert account["automountServiceAccountToken"] is False
    for obj in workloads(objects):
        located = pod_spec(obj)
        assert located[0]["automountServiceAccountToken"] is False, obj["metadata"]["name"]
        assert located[0]["serviceAccountName"] == "executor-dind"
        assert located[0]["enableServiceLinks"] is False


def test_metrics_service_selects_every_executor_pod_on_a_port_that_exists():
    objects = build(queues=[{"name": "batches"}, {"name": "codeintel"}])
    service = find(objects, "Service", naming.METRICS_SERVICE)
    selector = {"matchLabels": service["spec"]["selector"]}
    target = service["spec"]["ports"][0]["targetPort"]
    for obj in workloads(objects):
        is_executor = obj["kind"] == "Deployment"
        assert selector_matches(selector, pod_labels(obj)) is is_executor, obj["metadata"]["name"]
        if is_executor:
            assert target in [p["name"] for p in executor(obj)["ports"]]


def test_daemon_json_collects_the_build_cache_by_default():
    assert daemon_json(build())["builder"] == {"gc": {"enabled": True, "defaultKeepStorage": "10GB"}}
    # a daemonConfig.builder of the user's replaces it whole
    custom = {"gc": {"enabled": True, "defaultKeepStorage": "2GB"}}
    assert daemon_json(build(docker={"daemonConfig": {"builder": custom}}))["builder"] == custom
