"""dind from the render itself: each profile, nativeSidecar on and off, started as the rendered pod starts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.dind import POD_ADDR, Dind, import_image, job_source_address, listening, start_dind
from runtime.harness import in_netns, ok, render

PROFILES = {
    "baseline": {"hardening": {"profile": "baseline"}},
    "recommended": {"hardening": {"profile": "recommended"}},
    "strict": {
        "namespace": "executors",
        "frontend": {"url": "http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080"},
        "hardening": {"profile": "strict"},
    },
}
CASES = [(profile, native) for profile in PROFILES for native in (True, False)]
MTU = 1280  # not the default, so the job container's MTU can only come from the rendered daemon.json


def bridge_address(netns: str) -> str:
    out = ok(in_netns(netns, ["ip", "-4", "-o", "addr", "show", "dev", "docker0"]))
    return out.split()[3].split("/")[0]


@pytest.fixture(scope="module", params=CASES, ids=[f"{p}-native{'On' if n else 'Off'}" for p, n in CASES])
def dind(request, janitor, executor_dind, tmp_path_factory) -> Dind:
    profile, native = request.param
    directory = tmp_path_factory.mktemp(f"dind-{profile}-{native}")
    spec = {**PROFILES[profile], "docker": {"nativeSidecar": native, "mtu": MTU}}
    objects = render(executor_dind, spec, directory, "config")
    started = start_dind(janitor, objects, directory, f"{profile[:4]}{int(native)}")
    yield started
    janitor.stop(started.proc)


def test_renders_the_sidecar_as_asked(dind: Dind, request) -> None:
    profile, native = request.node.callspec.params["dind"]
    assert ("restartPolicy" in dind.container) is native
    assert dind.config["mtu"] == MTU
    if profile == "strict":
        assert dind.container["command"][:2] == ["/bin/sh", "-c"]
    else:
        assert dind.container["command"] == ["dockerd"]
    print(f"dockerd answered _ping after {dind.started_in:.2f} s")
    assert dind.started_in < 30


def test_only_the_loopback_api_listens(dind: Dind) -> None:
    assert listening(dind.netns, "t") == {"127.0.0.1:2375"}
    assert listening(dind.netns, "u") == set()


@pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe", "readinessProbe"])
def test_rendered_probes_pass(dind: Dind, probe: str) -> None:
    command = dind.container[probe]["exec"]["command"]
    assert command == ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2375/_ping"]
    result = dind.run(command, timeout=dind.container[probe].get("timeoutSeconds", 1) + 10)
    assert result.returncode == 0, result.stderr


def test_job_container(dind: Dind, rootfs_tar: Path, janitor, tmp_path: Path) -> None:
    import_image(dind, rootfs_tar, "job:rt")
    mtu = dind.docker("run", "--rm", "job:rt", "cat", "/sys/class/net/eth0/mtu")
    assert (mtu.returncode, mtu.stdout.strip()) == (0, str(MTU)), mtu.stderr
    gateway = bridge_address(dind.netns)
    # The Docker API is on the pod's loopback only: from a job container, the bridge gateway refuses it ...
    api = dind.docker("run", "--rm", "job:rt", "sh", "-c", f"echo | nc -w 3 {gateway} 2375; echo rc=$?")
    assert api.stdout.strip().splitlines()[-1] == "rc=1", api.stdout + api.stderr
    # ... while the same container reaches a server beyond the pod, which sees the pod's address.
    assert job_source_address(dind.docker, janitor, dind.node, tmp_path) == POD_ADDR
