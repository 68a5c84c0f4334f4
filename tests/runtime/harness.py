"""The runtime tier's machinery: network namespaces it creates, daemons it starts and stops by PID, renders.

Every daemon runs inside a network namespace this module created (`edr-*`), so its traffic stays on that
namespace's loopback or on veth pairs between such namespaces; nothing is routed to the machine's network.
Everything started is registered with a `Janitor`, which stops processes by PID and deletes namespaces at the
end, also when a test fails (pytest finalizers) or the run is interrupted (atexit and SIGTERM).

Each daemon is also PID 1 of a PID namespace of its own (as a container's entrypoint is), under an `unshare`
that dies with this process (PR_SET_PDEATHSIG) and takes its child with it (--kill-child): when a PID
namespace's init dies the kernel kills everything in it, so containerd shims and job containers cannot outlive
their dockerd, even if this process is killed with SIGKILL. Namespaces left by a run killed that way are
deleted by the next run (`sweep`).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "bin"
PREFIX = f"edr{os.getpid()}"
PR_SET_PDEATHSIG = 1
# Every daemon: PID 1 of a new PID namespace (with its own /proc), killed when its unshare parent dies, which
# itself is killed when the test process dies.
PIDNS = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]


def die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the test process exits, however it exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")


def sh(args: list[str], timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(args, check=False, timeout=timeout, **kwargs)


def ok(args: list[str], timeout: float = 120, **kwargs: Any) -> str:
    result = sh(args, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


# The module of tools/runtime that builds each binary of .tools/bin, and where install.sh writes its outcome.
MODULE_OF = {
    "kube-apiserver": "kube",
    "kube-scheduler": "kube",
    "kube-controller-manager": "kube",
    "kwok": "kwok",
    "dockerd-moby": "moby",
    "daemonkeys": "moby",
    "registry": "registry",
    "runsc": "runsc",
    "kube-router": "kube-router",
    "kube-network-policies": "kube-network-policies",
}
STATUS = ROOT / ".tools" / "status"
# A cold build of the Kubernetes module beside the others and the tests: ~16 min here; the bound is generous.
BUILD_WAIT = 45 * 60


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, someone else's
    return True


def built(binary: str) -> str:
    """The path of a Go-built binary once its module's build has finished. tools/runtime/test.sh builds in the
    background while the tests run (EXECUTOR_DIND_BUILDER_PID): wait for the module's status; run by hand after
    install.sh, the status is already there. Not built, or its build failed: missing() with the reason."""
    from conftest import missing

    module = MODULE_OF[binary]
    status = STATUS / module
    builder = int(os.environ.get("EXECUTOR_DIND_BUILDER_PID") or 0)
    deadline = time.monotonic() + BUILD_WAIT
    while builder and not status.exists() and _running(builder) and time.monotonic() < deadline:
        time.sleep(1)
    outcome = status.read_text().strip() if status.exists() else ""
    path = TOOLS / binary
    if outcome not in ("", "ok"):
        missing(f"{binary}: {outcome}")
    if not path.exists() or (builder and outcome != "ok"):
        missing(f"{path} not built: `make test-runtime` builds it from tools/runtime/{module}")
    return str(path)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60, interval: float = 0.2) -> float:
    """Poll `check` until it is true; bounded in time. Returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Proc:
    def __init__(self, name: str, popen: subprocess.Popen, log: Path, grace: float):
        self.name, self.popen, self.log, self.grace = name, popen, log, grace

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def enter(self) -> list[str]:
        """A command prefix that joins this daemon's PID and mount namespaces (its PID 1 as the host sees it)."""
        listing = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        # Right after start, unshare may not have forked its child yet: wait for it, briefly.
        wait_for(f"{self.name}'s PID 1", lambda: len(listing.read_text().split()) == 1, timeout=10, interval=0.05)
        return ["nsenter", f"--target={listing.read_text().split()[0]}", "--pid", "--mount"]


class Janitor:
    """Owns every process and namespace the tier starts; `cleanup` stops and deletes them all."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []
        self.namespaces: list[str] = []
        self.counter = 0
        self.swept = sweep()
        atexit.register(self.cleanup)
        previous = signal.getsignal(signal.SIGTERM)

        def on_term(signum: int, frame: Any) -> None:
            self.cleanup()
            if callable(previous):
                previous(signum, frame)
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_term)

    def netns(self, role: str) -> str:
        self.counter += 1
        name = f"{PREFIX}-{role}-{self.counter}"[:40]
        ok(["ip", "netns", "add", name])
        self.namespaces.append(name)
        ok(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def start(
        self, name: str, args: list[str], log: Path, env: dict[str, str] | None = None, grace: float = 20
    ) -> Proc:
        """`grace`: seconds between SIGTERM and SIGKILL; 0 for a daemon without a SIGTERM handler (as a PID
        namespace's init it would ignore SIGTERM)."""
        handle = log.open("wb")
        # A session of its own: the whole daemon (and what it forks) is signalled by its process group id.
        popen = subprocess.Popen(
            [*PIDNS, *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        handle.close()
        proc = Proc(name, popen, log, grace)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        if proc.alive():
            try:
                os.killpg(proc.pid, signal.SIGTERM if proc.grace else signal.SIGKILL)
                proc.popen.wait(timeout=proc.grace or 10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.popen.wait(timeout=10)
            except ProcessLookupError:
                pass
        # What the daemon forked outside its process group (containerd's shims, job containers) died with its
        # PID namespace when the daemon, that namespace's init, exited.
        if proc in self.procs:
            self.procs.remove(proc)

    def cleanup(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)
        for name in reversed(self.namespaces):
            # Anything still inside (which the PID namespaces should already have ended) goes with it.
            pids = sh(["ip", "netns", "pids", name], timeout=10).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            sh(["ip", "netns", "del", name], timeout=10)
        self.namespaces.clear()

    def leftovers(self) -> tuple[list[int], list[str]]:
        """(live PIDs this janitor started, namespaces of this run that still exist): both empty after cleanup."""
        live = [p.pid for p in self.procs if p.alive()]
        return live, [n for n in netns_list() if n.startswith(f"{PREFIX}-")]


def netns_list() -> list[str]:
    return [line.split()[0] for line in sh(["ip", "netns", "list"], timeout=10).stdout.splitlines() if line.strip()]


def sweep() -> list[str]:
    """Delete the empty namespaces of earlier runs of this tier whose test process is gone (killed with SIGKILL)."""
    swept = []
    for name in netns_list():
        match = re.fullmatch(r"edr(\d+)-.*", name)
        if not match or Path(f"/proc/{match.group(1)}").exists():
            continue
        if sh(["ip", "netns", "pids", name], timeout=10).stdout.split():
            continue  # not ours to end: say so rather than kill what runs there
        sh(["ip", "netns", "del", name], timeout=10)
        swept.append(name)
    return swept


def in_netns(netns: str, args: list[str], mounts: str = "") -> list[str]:
    """Run in `netns` with a private mount namespace (not `ip netns exec`: it remounts /sys, which dockerd's
    cgroup code then misses); `mounts` is a shell prelude that sets up bind mounts before exec."""
    enter = ["nsenter", f"--net=/run/netns/{netns}"]
    if not mounts:
        return [*enter, *args]
    script = mounts + ' && exec "$@"'
    return [*enter, "unshare", "--mount", "--propagation", "private", "sh", "-ec", script, "sh", *args]


def veth(left: str, right: str, left_addr: str, right_addr: str, prefix: int = 24) -> tuple[str, str]:
    """A veth pair between two namespaces this tier created, addressed from TEST-NET ranges only."""
    a, b = f"va{left[-6:]}", f"vb{right[-6:]}"
    ok(["ip", "link", "add", a, "netns", left, "type", "veth", "peer", "name", b, "netns", right])
    for ns, dev, addr in ((left, a, left_addr), (right, b, right_addr)):
        ok(["ip", "-n", ns, "addr", "add", f"{addr}/{prefix}", "dev", dev])
        ok(["ip", "-n", ns, "link", "set", dev, "up"])
    return a, b


def render(executor_dind: str, spec: dict[str, Any], directory: Path, name: str) -> list[dict[str, Any]]:
    config = directory / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "executor-dind.dev/v1alpha1",
                "kind": "ExecutorDind",
                "metadata": {"name": "executors"},
                "spec": spec,
            }
        )
    )
    out = ok([executor_dind, "render", "--config", str(config)])
    return [doc for doc in yaml.safe_load_all(out) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert matches, f"no {kind} {name or ''} in the render"
    return matches[0]


def pod_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def dind_of(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """(dind container, pod spec, daemon.json text, its mount path) as the render emits them."""
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    dind = next(c for c in pod_containers(pod) if c["name"] == "dind")
    mount = next(m for m in dind["volumeMounts"] if m.get("subPath") == "daemon.json")
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    config_map = find(objects, "ConfigMap", volume["configMap"]["name"])
    return dind, pod, config_map["data"]["daemon.json"], mount["mountPath"]


def daemon_config(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return json.loads(dind_of(objects)[2])
