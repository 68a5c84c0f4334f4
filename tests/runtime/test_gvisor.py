"""The strict profile's dind container under gVisor: runsc (built from tools/runtime/runsc) runs the rendered command
with the rendered capabilities and daemon.json in an OCI bundle, joined to a pod network namespace we created.

Proves: dockerd starts inside the sandbox; only 127.0.0.1:2375 listens there; the rendered probes exit 0; a job
container gets the rendered MTU and its traffic reaches the node side as the pod address (the script's SNAT,
since gVisor gives dockerd no netfilter of its own); with no default route the script stops and says why; with a
device-only default route (`default dev eth0 scope link`, no gateway) it finds the device and starts.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from runtime.dind import DOCKER, POD_ADDR, import_image, job_source_address, prepare_pod_network, start_dind
from runtime.harness import Janitor, Proc, built, dind_of, in_netns, render, sh, wait_for

STRICT = {
    "namespace": "executors",
    "frontend": {"url": "http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080"},
    "hardening": {"profile": "strict"},
    "docker": {"mtu": 1280},
}
PROBE_BIN = "/edr-probe/bin"  # the dind image's wget is busybox's: the probes find it first on PATH
PATH = f"{PROBE_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def runsc(root) -> str:
    return built("runsc")


def image_root(directory: Path) -> Path:
    """The dind image, stood in for by this machine's own binaries: the host's /usr (bound read-only by the
    bundle) under a root directory of ours holding a copy of /etc, so that nothing runsc creates for its mount
    points, and nothing the container writes, lands on the host's own filesystem."""
    rootfs = directory / "rootfs"
    rootfs.mkdir()
    for name in ("bin", "sbin", "lib", "lib64"):
        (rootfs / name).symlink_to(os.readlink(f"/{name}"))
    for name in ("usr", "proc", "dev", "sys", "run", "tmp", "root", "var/lib/docker", "scratch", "edr-images"):
        (rootfs / name).mkdir(parents=True)
    shutil.copytree("/etc", rootfs / "etc", symlinks=True)
    return rootfs


def bundle(directory: Path, dind: dict[str, Any], daemon_json: str, mount_path: str, netns: str, images: Path) -> Path:
    """An OCI bundle of the rendered container: the render's command, capabilities, volumes and daemon.json."""
    config = directory / "daemon.json"
    config.write_text(daemon_json)
    probe_bin = directory / "probe-bin"
    probe_bin.mkdir()
    (probe_bin / "wget").symlink_to("/bin/busybox")
    hosts = directory / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.1 executor-dind-registry\n")
    resolv = directory / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    caps = [f"CAP_{c}" for c in dind["securityContext"]["capabilities"]["add"]]
    assert dind["securityContext"]["capabilities"]["drop"] == ["ALL"]

    def bind(source: Path, destination: str, *options: str) -> dict:
        return {"destination": destination, "type": "bind", "source": str(source), "options": ["rbind", *options]}

    def tmpfs(destination: str) -> dict:
        return {"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}

    spec = {
        "ociVersion": "1.0.2",
        "process": {
            "args": [*dind["command"], *dind.get("args", [])],
            "cwd": "/",
            "env": [f"PATH={PATH}", "HOME=/run/home"],
            "user": {"uid": 0, "gid": 0},
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
        },
        "root": {"path": str(image_root(directory)), "readonly": False},  # the image's root is writable
        "hostname": "dind",
        "mounts": [
            bind(Path("/usr"), "/usr", "ro"),
            {"destination": "/proc", "type": "proc", "source": "proc"},
            tmpfs("/dev"),
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid"]},
            tmpfs("/run"),
            tmpfs("/var/lib/docker"),  # the render's emptyDir docker-storage
            tmpfs("/scratch"),  # the render's emptyDir executor-scratch
            bind(config, mount_path, "ro"),  # the ConfigMap's key as a subPath
            bind(images, "/edr-images", "ro"),  # the job image's tarball, for `docker import`
            bind(probe_bin, PROBE_BIN, "ro"),
            bind(hosts, "/etc/hosts", "ro"),
            bind(resolv, "/etc/resolv.conf", "ro"),
        ],
        "linux": {
            "namespaces": [
                {"type": "pid"},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"},
                {"type": "network", "path": f"/run/netns/{netns}"},
            ]
        },
    }
    path = directory / "bundle"
    path.mkdir()
    (path / "config.json").write_text(json.dumps(spec, indent=1))
    return path


class Sandbox:
    def __init__(self, runsc: str, directory: Path, name: str):
        self.runsc, self.name = runsc, name
        self.state = directory / "runsc-state"
        self.state.mkdir(exist_ok=True)
        self.logs = directory / "runsc-logs"
        self.logs.mkdir(exist_ok=True)
        self.proc: Proc | None = None

    def flags(self) -> list[str]:
        # --net-raw: dockerd needs raw sockets; --ignore-cgroups: the sandbox is bounded by the test, not a pod.
        return [self.runsc, "--root", str(self.state), "--net-raw", "--network=sandbox", "--ignore-cgroups",
                "--debug-log", f"{self.logs}/"]  # fmt: skip

    def run(self, janitor: Janitor, bundle: Path, log: Path) -> Proc:
        self.proc = janitor.start(f"runsc-{self.name}", [*self.flags(), "run", "--bundle", str(bundle), self.name], log)
        return self.proc

    def exec(self, *args: str, timeout: float = 60) -> Any:
        # In the sandbox's PID namespace: runsc checks the sandbox's PID from its state, as `runsc run` saw it.
        assert self.proc is not None
        env = ["--env", f"PATH={PATH}", "--env", "HOME=/run/home"]
        return sh([*self.proc.enter(), *self.flags(), "exec", *env, self.name, *args], timeout=timeout)

    def docker(self, *args: str, timeout: float = 90) -> Any:
        return self.exec(DOCKER, "-H", "tcp://127.0.0.1:2375", *args, timeout=timeout)


def mtu_of(link: str) -> int:
    words = link.split()
    return int(words[words.index("mtu") + 1])


def listening_tcp(sandbox: Sandbox) -> set[str]:
    """The sandbox's listening TCP sockets from its own /proc/net/tcp (its netstack is gVisor's, not the host's)."""
    out = sandbox.exec("cat", "/proc/net/tcp").stdout
    found = set()
    for line in out.splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A":  # LISTEN
            address, port = local.split(":")
            octets = [str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)]
            found.add(f"{'.'.join(octets)}:{int(port, 16)}")
    return found


@pytest.fixture(scope="module")
def sandbox(janitor, runsc, executor_dind, tmp_path_factory, rootfs_tar):
    directory = tmp_path_factory.mktemp("gvisor")
    objects = render(executor_dind, STRICT, directory, "strict")
    dind, pod, daemon_json, mount_path = dind_of(objects)
    assert pod["runtimeClassName"] == "gvisor"
    netns, node = prepare_pod_network(janitor, "gvis")
    box = Sandbox(runsc, directory, f"edr-dind-{time.monotonic_ns()}")
    spec = bundle(directory, dind, daemon_json, mount_path, netns, rootfs_tar.parent)
    proc = box.run(janitor, spec, directory / "runsc.log")

    def ping() -> bool:
        assert proc.alive(), f"runsc exited {proc.popen.returncode}:\n{proc.output()[-3000:]}"
        return box.exec("busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:2375/_ping", timeout=20).stdout == "OK"

    box.started_in = wait_for("dockerd's _ping inside gVisor", ping, timeout=90, interval=1)
    box.dind, box.node, box.directory = dind, node, directory
    imported = box.docker("import", f"/edr-images/{rootfs_tar.name}", "job:rt")
    assert imported.returncode == 0, imported.stderr
    yield box
    janitor.stop(proc)  # SIGTERM: runsc passes it to dockerd and removes the sandbox when dockerd exits


def test_dockerd_starts_under_runsc(sandbox) -> None:
    print(f"dockerd answered _ping inside gVisor after {sandbox.started_in:.2f} s")
    kernel = sandbox.exec("dmesg").stdout
    assert "Starting gVisor..." in kernel
    assert sandbox.started_in < 60


def test_only_the_loopback_api_listens(sandbox) -> None:
    assert listening_tcp(sandbox) == {"127.0.0.1:2375"}


@pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe", "readinessProbe"])
def test_rendered_probes_pass(sandbox, probe) -> None:
    command = sandbox.dind[probe]["exec"]["command"]
    result = sandbox.exec(*command, timeout=sandbox.dind[probe].get("timeoutSeconds", 1) + 20)
    assert result.returncode == 0, result.stderr


def test_job_traffic_leaves_as_the_pod_address(sandbox, janitor, tmp_path) -> None:
    # gVisor's sysfs has no /sys/class/net: the MTUs as its netlink reports them, which (found here) is each
    # Ethernet device's MTU less its 14-byte header: docker0 at dockerd's default 1500 shows 1486, and the job's
    # eth0, at the rendered 1280, shows 1266.
    link = sandbox.docker("run", "--rm", "job:rt", "ip", "-o", "link", "show", "eth0")
    assert link.returncode == 0, link.stderr
    bridge = sandbox.exec("ip", "-o", "link", "show", "docker0")
    print("job eth0:", link.stdout.strip(), "| docker0:", bridge.stdout.strip())
    assert (mtu_of(bridge.stdout), mtu_of(link.stdout)) == (1500 - 14, 1280 - 14)
    assert job_source_address(sandbox.docker, janitor, sandbox.node, tmp_path) == POD_ADDR


def test_no_default_route_fails_with_the_reason(janitor, runsc, executor_dind, tmp_path) -> None:
    dind, _pod, daemon_json, mount_path = dind_of(render(executor_dind, STRICT, tmp_path, "strict"))
    netns = janitor.netns("noroute")  # loopback only: no default route
    box = Sandbox(runsc, tmp_path, f"edr-noroute-{time.monotonic_ns()}")
    spec = bundle(tmp_path, dind, daemon_json, mount_path, netns, tmp_path)
    proc = box.run(janitor, spec, tmp_path / "runsc.log")
    assert proc.wait(timeout=60) == 1
    assert proc.output().strip() == "no default route: no interface to NAT job traffic through"


def test_no_default_route_fails_with_the_reason_on_the_host_kernel(janitor, executor_dind, tmp_path) -> None:
    """The same script without runsc (as test_dind's strict cases run it): the check is the script's own."""
    dind = dind_of(render(executor_dind, STRICT, tmp_path, "strict"))[0]
    netns = janitor.netns("noroute")
    result = sh(in_netns(netns, [*dind["command"], *dind.get("args", [])]), timeout=30)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.strip() == "no default route: no interface to NAT job traffic through"


def test_device_only_default_route_starts_on_the_host_kernel(janitor, executor_dind, rootfs_tar, tmp_path) -> None:
    """`default dev eth0 scope link` has no fifth word `eth0`: the script takes the word after `dev` (also for
    docker.mtu: auto, the same line; /sys here is the host's, so that case is left to the unit test's text). Its
    positive twin is every other strict case, whose route goes `via` a gateway."""
    dind = start_dind(janitor, render(executor_dind, STRICT, tmp_path, "strict"), tmp_path, "devroute", True)
    route = sh(in_netns(dind.netns, ["ip", "route", "show", "default"]), timeout=10).stdout.split()
    assert route[:2] == ["default", "dev"] and "via" not in route, route
    nat = sh(in_netns(dind.netns, ["iptables-legacy", "-t", "nat", "-S", "POSTROUTING"]), timeout=10).stdout
    assert f"-A POSTROUTING -o {route[2]} -p tcp -j SNAT --to-source {POD_ADDR}" in nat.splitlines(), nat
    import_image(dind, rootfs_tar, "job:rt")
    assert job_source_address(dind.docker, janitor, dind.node, tmp_path) == POD_ADDR
    janitor.stop(dind.proc)
