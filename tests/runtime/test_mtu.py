"""Every Docker network at the rendered MTU: a job container on the default bridge and one on a network the job
creates itself (`docker network create`, as Compose does) read their eth0 MTU, in the render's dockerd.

dockerd's `mtu` covers the default bridge only (moby/moby#34981); the bridge driver's
`com.docker.network.driver.mtu` under `default-network-opts` (Docker 24 and later) covers the rest. Debian's
Docker 20.10 predates that key, so these daemons are moby v2.0.0-beta.24 (`dockerd-moby`, built in
tools/runtime/moby) started with the render's command and daemon.json, and one flag more:
`--feature=time-namespaces=false`, as Debian's runc 1.1.5 predates time namespaces. The negative control is the
render without the new setting (the daemon.json or start script of before); Debian's 20.10 with today's render
shows what a dind image older than Docker 24 does with it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from runtime.dind import Dind, import_image, prepare_pod_network, start_dind_in
from runtime.harness import built, dind_of, find, ok, render

NUMBER = 1280  # docker.mtu: neither the bridge default (1500) nor the pod interface's in the auto cases
POD_MTU = 1380  # the pod interface's MTU, which docker.mtu: auto reads at start
USER_NETWORK_FLAG = ' --default-network-opt="bridge=com.docker.network.driver.mtu=$mtu"'
TIME_NAMESPACES_OFF = "--feature=time-namespaces=false"
# case: (docker.mtu, the render as it is or as before this setting, the dockerd, the pod interface's MTU,
#        the MTU expected on the default bridge, on the job's own network)
CASES = {
    "number": (NUMBER, "render", "moby", 1500, NUMBER, NUMBER),
    "number-before": (NUMBER, "before", "moby", 1500, NUMBER, 1500),
    "auto": ("auto", "render", "moby", POD_MTU, POD_MTU, POD_MTU),
    "auto-before": ("auto", "before", "moby", POD_MTU, POD_MTU, 1500),
    "number-docker-20.10": (NUMBER, "render", "debian", 1500, NUMBER, 1500),
}


def as_before(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The render without the user-defined networks' MTU: daemon.json without default-network-opts, the auto
    start script without its flag."""
    before = copy.deepcopy(objects)
    dind = dind_of(before)[0]
    if dind["command"] == ["dockerd"]:
        config_map = find(before, "ConfigMap", "executor-dind-docker")
        config = json.loads(config_map["data"]["daemon.json"])
        del config["default-network-opts"]
        config_map["data"]["daemon.json"] = json.dumps(config)
    else:
        assert USER_NETWORK_FLAG in dind["command"][2]
        dind["command"][2] = dind["command"][2].replace(USER_NETWORK_FLAG, "")
    return before


def on_moby(objects: list[dict[str, Any]], directory: Path) -> list[dict[str, Any]]:
    """The render's dind started by moby's dockerd (first on the start PATH) with time namespaces off."""
    (directory / "bin").mkdir(parents=True, exist_ok=True)
    (directory / "bin" / "dockerd").symlink_to(built("dockerd-moby"))
    moby = copy.deepcopy(objects)
    dind = dind_of(moby)[0]
    if dind["command"] == ["dockerd"]:
        dind["command"] = ["dockerd", TIME_NAMESPACES_OFF]
    else:
        dind["command"][2] = dind["command"][2].replace("exec dockerd ", f"exec dockerd {TIME_NAMESPACES_OFF} ")
    return moby


@pytest.fixture(scope="module", params=list(CASES))
def dind(request, janitor, executor_dind, rootfs_tar, tmp_path_factory) -> Dind:
    mtu, which, daemon, pod_mtu, _, _ = CASES[request.param]
    directory = tmp_path_factory.mktemp(f"mtu-{request.param}")
    objects = render(executor_dind, {"docker": {"mtu": mtu}}, directory, "config")
    objects = as_before(objects) if which == "before" else objects
    objects = on_moby(objects, directory) if daemon == "moby" else objects
    role = f"mtu{list(CASES).index(request.param)}"
    pod, node = prepare_pod_network(janitor, role)
    ok(["ip", "-n", pod, "link", "set", "dev", f"va{pod[-6:]}", "mtu", str(pod_mtu)])
    started = start_dind_in(janitor, objects, directory, role, pod, node, net_sysfs=True)
    import_image(started, rootfs_tar, "job:rt")
    yield started
    janitor.stop(started.proc)


def eth0_mtu(dind: Dind, network: str) -> int:
    ran = dind.docker("run", "--rm", "--network", network, "job:rt", "cat", "/sys/class/net/eth0/mtu")
    assert ran.returncode == 0, ran.stderr
    return int(ran.stdout)


def test_every_network_has_the_rendered_mtu(dind: Dind, request) -> None:
    case = request.node.callspec.params["dind"]
    mtu, which, daemon, _, on_bridge, on_own = CASES[case]
    version = dind.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
    assert version == ("library-import" if daemon == "moby" else "20.10.24+dfsg1")  # moby's module build has no tag
    created = dind.docker("network", "create", "job-network")
    assert created.returncode == 0, created.stderr
    options = dind.docker("network", "inspect", "job-network", "--format", "{{json .Options}}").stdout
    measured = (eth0_mtu(dind, "bridge"), eth0_mtu(dind, "job-network"))
    print(f"{case}: docker.mtu {mtu} ({which}, {daemon}): default bridge {measured[0]}, job network {measured[1]}")
    assert measured == (on_bridge, on_own)
    stored = {"com.docker.network.driver.mtu": str(on_own)} if on_own != 1500 else {}
    assert json.loads(options) == stored
