"""gvisor: dind sandboxed with a capability set instead of privileged; its check and RuntimeClass."""

from __future__ import annotations

import pytest

from executor_dind import naming
from executor_dind.hardening import gvisor

from ..helpers import dind, find, pod
from .support import apply


def test_gvisor_sandboxes_dind_without_privileged():
    objects, results = apply(gvisor.CONTROL, {})
    assert results == []
    deployment = find(objects, "Deployment", "executor-all")
    assert pod(deployment)["runtimeClassName"] == "gvisor"
    container = dind(deployment)
    assert container["securityContext"]["privileged"] is False
    assert set(container["securityContext"]["capabilities"]["add"]) == set(gvisor.CAPABILITIES)
    assert {"SYS_ADMIN", "NET_ADMIN"} <= set(gvisor.CAPABILITIES)
    script = container["command"][-1]
    assert script.rstrip().endswith("exec dockerd --storage-driver=vfs --iptables=false --ip6tables=false")
    assert not [o for o in objects if o["kind"] == "RuntimeClass"]
    # /var/lib/docker stays a sized emptyDir
    volume = next(v for v in pod(deployment)["volumes"] if v["name"] == "docker-storage")
    assert volume["emptyDir"]["sizeLimit"] == "40Gi"


def test_gvisor_keeps_dockerd_on_loopback():
    objects, _ = apply(gvisor.CONTROL, {})
    # The flags added by gVisor mode never add a host; daemon.json keeps the loopback-only `hosts`.
    assert "--host" not in dind(find(objects, "Deployment", "executor-all"))["command"][-1]
    assert '"tcp://127.0.0.1:2375"' in find(objects, "ConfigMap", naming.DOCKER_CONFIG)["data"]["daemon.json"]


def test_gvisor_optional_runtime_class():
    objects, _ = apply(
        gvisor.CONTROL, {"hardening": {"gvisor": {"runtimeClassName": "sandbox", "createRuntimeClass": True}}}
    )
    runtime_class = find(objects, "RuntimeClass", "sandbox")
    assert runtime_class["handler"] == "runsc"
    assert "namespace" not in runtime_class["metadata"]  # cluster-scoped
    assert pod(find(objects, "Deployment", "executor-all"))["runtimeClassName"] == "sandbox"


@pytest.mark.parametrize("key", ["storage-driver", "iptables", "ip6tables"])
def test_gvisor_refuses_daemon_config_keys_it_passes_as_flags(key):
    _, results = apply(gvisor.CONTROL, {"docker": {"daemonConfig": {key: "x"}}})
    assert [(r.severity, r.field_path) for r in results] == [("error", "spec.docker.daemonConfig")]
    assert results[0].message.startswith(f"docker.daemonConfig sets {key}, which gVisor mode passes to dockerd")
