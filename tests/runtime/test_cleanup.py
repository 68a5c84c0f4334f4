"""The tier cleans up after itself: a test process ended by SIGTERM stops every daemon and deletes every network
namespace it made; one killed by SIGKILL still takes its daemons with it (PID namespaces), and the next run deletes
the namespaces it left. The "daemon" forks a child that leaves its process group (as containerd's shims do)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.harness import ROOT, netns_list, sh, sweep, wait_for

CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from runtime.harness import Janitor, in_netns
janitor = Janitor()
netns = janitor.netns("gone")
# `setsid -f`: a grandchild in a session of its own, out of reach of the daemon's process group. The trap: a
# PID namespace's init gets only the signals it handles (dockerd, etcd and the kube daemons handle SIGTERM).
script = "trap 'exit 0' TERM; setsid -f sleep 300; sleep 300 & wait"
daemon = janitor.start("daemon", in_netns(netns, ["sh", "-c", script]), Path({log!r}))
print(netns, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def start_child(tmp_path: Path) -> tuple[subprocess.Popen, str, list[int]]:
    script = CHILD.format(tests=str(ROOT / "tests"), log=str(tmp_path / "daemon.log"))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    netns = child.stdout.readline().strip()
    assert netns in netns_list()

    def both_sleeping() -> bool:
        return len(sh(["ip", "netns", "pids", netns], timeout=10).stdout.split()) == 3  # sh, its sleep, setsid's

    wait_for("the daemon and its escaped grandchild", both_sleeping, timeout=20)
    pids = [int(p) for p in sh(["ip", "netns", "pids", netns], timeout=10).stdout.split()]
    groups = {os.getpgid(pid) for pid in pids}
    assert len(groups) == 2  # the grandchild really left the daemon's process group
    return child, netns, pids


def test_sigterm_stops_every_daemon_and_deletes_every_namespace(root, tmp_path) -> None:
    child, netns, pids = start_child(tmp_path)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 128 + signal.SIGTERM
    assert [pid for pid in pids if alive(pid)] == []
    assert netns not in netns_list()


def test_sigkill_still_ends_the_daemons_and_the_next_run_deletes_the_namespace(root, tmp_path) -> None:
    child, netns, pids = start_child(tmp_path)
    child.kill()
    assert child.wait(timeout=10) == -signal.SIGKILL
    wait_for("the daemons to die with the test process", lambda: not any(alive(p) for p in pids), timeout=10)
    assert netns in netns_list()  # nothing ran to delete it ...
    time.sleep(0.2)
    assert netns in sweep()  # ... until the next run's janitor does
    assert netns not in netns_list()


@pytest.fixture(autouse=True)
def _no_stray_namespace() -> None:
    before = set(netns_list())
    yield
    assert set(netns_list()) <= before
