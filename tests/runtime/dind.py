"""Start the dind sidecar the way the rendered pod does: its command, args and mounted daemon.json, in a network
namespace of its own, with /var/lib/docker, /run and /etc/docker private to it (a mount namespace)."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.harness import Janitor, Proc, dind_of, in_netns, ok, sh, veth, wait_for

DOCKER = "/usr/bin/docker"
POD_ADDR, NODE_ADDR = "192.0.2.2", "192.0.2.1"  # TEST-NET-1, only on a veth between two namespaces we created
ADDR_CGI = '#!/bin/busybox sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n'


@dataclass
class Dind:
    netns: str
    node: str
    proc: Proc
    directory: Path
    container: dict[str, Any]
    config: dict[str, Any]
    started_in: float

    def run(self, args: list[str], timeout: float = 60) -> Any:
        return sh(in_netns(self.netns, args, env_path(self.directory)), timeout=timeout)

    def docker(self, *args: str, timeout: float = 60, **kwargs: Any) -> Any:
        return sh(in_netns(self.netns, [DOCKER, "-H", "tcp://127.0.0.1:2375", *args]), timeout=timeout, **kwargs)


def env_path(directory: Path) -> str:
    # The dind image's wget is busybox's: the probes run with that wget first on PATH.
    return f"export PATH={directory / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin"


def prepare_pod_network(janitor: Janitor, role: str, device_only_route: bool = False) -> tuple[str, str]:
    """A pod namespace with a default route over a veth to a 'node' namespace (both created here): via the node's
    address, or (device_only_route) through the device alone, `default dev eth0 scope link`, as some CNIs set it."""
    pod = janitor.netns(f"{role}-pod")
    node = janitor.netns(f"{role}-node")
    device, _ = veth(pod, node, POD_ADDR, NODE_ADDR)
    ok(["ip", "-n", pod, "route", "add", "default", *(["dev", device] if device_only_route else ["via", NODE_ADDR])])
    return pod, node


def mount_prelude(directory: Path, daemon_json: Path, mount_path: str, net_sysfs: bool = False) -> str:
    """net_sysfs: /sys/class/net shows the pod namespace's devices (a sysfs mounted in it, bound over the host's
    net directories only, so /sys/fs/cgroup stays), for a start script that reads the pod interface's MTU."""
    data = directory / "var-lib-docker"
    data.mkdir(exist_ok=True)
    hosts = directory / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.1 executor-dind-registry\n")
    # Name lookups stay on the pod's loopback: nothing this daemon resolves can leave the namespaces.
    resolv = directory / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    parent = str(Path(mount_path).parent)
    steps = [
        "mount -t tmpfs tmpfs /run",
        "mkdir -p /var/lib/docker",
        f"mount --bind {data} /var/lib/docker",
        f"mkdir -p {parent}",
        f"mount -t tmpfs tmpfs {parent}",
        f"cp {daemon_json} {mount_path}",
        f"mount --bind {hosts} /etc/hosts",
        f"mount --bind {resolv} /etc/resolv.conf",
        env_path(directory),
    ]
    if net_sysfs:
        sysfs = directory / "sysfs"
        sysfs.mkdir(exist_ok=True)
        steps[-1:-1] = [
            f"mount -t sysfs sysfs {sysfs}",
            f"mount --bind {sysfs}/class/net /sys/class/net",
            f"mount --bind {sysfs}/devices/virtual/net /sys/devices/virtual/net",
        ]
    return " && ".join(steps)


def start_dind(
    janitor: Janitor, objects: list[dict[str, Any]], directory: Path, role: str, device_only_route: bool = False
) -> Dind:
    pod, node = prepare_pod_network(janitor, role, device_only_route)
    return start_dind_in(janitor, objects, directory, role, pod, node)


def start_dind_in(
    janitor: Janitor,
    objects: list[dict[str, Any]],
    directory: Path,
    role: str,
    pod: str,
    node: str,
    net_sysfs: bool = False,
) -> Dind:
    """The render's dind in an existing pod namespace (`node`: the namespace its default route leads to);
    net_sysfs as for mount_prelude."""
    container, _pod, daemon_json, mount_path = dind_of(objects)
    (directory / "bin").mkdir(parents=True, exist_ok=True)
    wget = directory / "bin" / "wget"
    if not wget.exists():
        wget.symlink_to("/bin/busybox")
    config_file = directory / "daemon.json"
    config_file.write_text(daemon_json)
    argv = [*container["command"], *container.get("args", [])]
    started = time.monotonic()
    proc = janitor.start(
        f"dockerd-{role}",
        in_netns(pod, argv, mount_prelude(directory, config_file, mount_path, net_sysfs)),
        directory / "dockerd.log",
    )

    def ping() -> bool:
        assert proc.alive(), f"dockerd exited {proc.popen.returncode}:\n{proc.output()[-3000:]}"
        ping = ["busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:2375/_ping"]
        try:
            return sh(in_netns(pod, ping), 5).stdout == "OK"
        except subprocess.TimeoutExpired:
            return False  # a daemon still starting can accept and not yet answer: ask again (wait_for bounds it)

    wait_for("dockerd's _ping", ping, timeout=60)
    return Dind(pod, node, proc, directory, container, json.loads(daemon_json), time.monotonic() - started)


def listening(netns: str, proto: str) -> set[str]:
    out = ok(in_netns(netns, ["ss", "-Hln", f"-{proto}"]))
    return {line.split()[3] for line in out.splitlines() if line.strip()}


def serve_addr_cgi(janitor: Janitor, netns: str, address: str, port: int, directory: Path) -> None:
    """busybox httpd answering with the client address it sees, in a namespace we created."""
    www = directory / f"www-{netns}"
    (www / "cgi-bin").mkdir(parents=True, exist_ok=True)
    script = www / "cgi-bin" / "addr"
    script.write_text(ADDR_CGI)
    script.chmod(0o755)
    janitor.start(
        f"httpd-{netns}",
        in_netns(netns, ["/bin/busybox", "httpd", "-f", "-p", f"{address}:{port}", "-h", str(www)]),
        directory / f"httpd-{netns}.log",
        grace=0,  # busybox httpd has no SIGTERM handler
    )
    wait_for(f"httpd on {address}:{port}", lambda: f"{address}:{port}" in listening(netns, "t"), timeout=10)


def job_source_address(docker: Callable[..., Any], janitor: Janitor, node: str, directory: Path) -> str:
    """The address a server on the node side sees when a job container (image job:rt) connects to it."""
    serve_addr_cgi(janitor, node, NODE_ADDR, 8080, directory)
    request = f"printf 'GET /cgi-bin/addr HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {NODE_ADDR} 8080"
    seen = docker("run", "--rm", "job:rt", "sh", "-c", request)
    assert seen.returncode == 0, seen.stderr
    return seen.stdout.strip().splitlines()[-1]


def import_image(dind: Dind, rootfs: Path, name: str) -> None:
    ok(in_netns(dind.netns, [DOCKER, "-H", "tcp://127.0.0.1:2375", "import", str(rootfs), name]))


def shell(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def quote(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)
