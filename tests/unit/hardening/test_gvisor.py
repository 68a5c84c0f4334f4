"""gvisor: dind sandboxed with a capability set instead of privileged; its check and RuntimeClass."""

from __future__ import annotations

import pytest

from executor_dind import naming
from executor_dind.hardening import gvisor

from ..helpers import dind, find, items, pod, problems, spec
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
    value = "vfs" if key == "storage-driver" else False
    raw = {"docker": {"daemonConfig": {key: value}}, "hardening": {"gvisor": {"enabled": True}}}
    assert problems(raw) == [
        (
            f"spec.docker.daemonConfig.{key}",
            "gVisor mode passes this to dockerd as a flag (dockerd refuses a setting given both ways): remove it "
            "from daemonConfig",
        )
    ]
    # the positive control: without gVisor, dockerd reads it from daemon.json alone
    assert spec(docker={"daemonConfig": {key: value}}).docker.daemon_config[key] == value


@pytest.mark.parametrize("name", ["runc", "crun"])
def test_a_runtime_class_name_that_is_no_sandbox_is_refused_unless_the_input_says_otherwise(name):
    from executor_dind.discovery import discover

    raw = {"hardening": {"gvisor": {"enabled": True, "runtimeClassName": name}}}
    _, results = apply(gvisor.CONTROL, raw)
    assert [(r.severity, r.field_path) for r in results] == [("error", "spec.hardening.gvisor.runtimeClassName")]
    assert results[0].message == (
        f"{name!r} runs containers on the node's kernel (no sandbox): dind would hold SYS_ADMIN, NET_ADMIN and "
        "SYS_PTRACE on the node with no sandbox; name the gVisor RuntimeClass (e.g. gvisor, handler runsc), or set "
        "runtimeClassName: gvisor with createRuntimeClass: true"
    )

    for handler, refused in (("runc", True), ("runsc", False), ("kata-qemu", False)):
        obj = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": name}, "handler": handler}
        context = discover(spec(**raw), items(obj)).context
        assert bool(gvisor.check(spec(**raw), context)) is refused, handler
    emitted = {"hardening": {"gvisor": {"enabled": True, "runtimeClassName": name, "createRuntimeClass": True}}}
    assert apply(gvisor.CONTROL, emitted)[1] == []
