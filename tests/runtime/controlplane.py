"""A Kubernetes control plane of real binaries in a network namespace of its own: etcd, kube-apiserver and, when
asked, kube-scheduler, kube-controller-manager and kwok (fake nodes whose pods turn Ready without running).

The API server advertises an address on a veth into a second namespace we created (it refuses a loopback
advertise address); clients (kubectl) run inside the plane's namespace and talk to 127.0.0.1:6443.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runtime.harness import TOOLS, Janitor, Proc, built, in_netns, ok, sh, veth, wait_for

ADVERTISE, PEER = "198.51.100.1", "198.51.100.2"  # TEST-NET-2, only on our veth
KWOK_STAGES = TOOLS.parent / "kwok-stages.yaml"


def openssl(*args: str) -> None:
    ok(["openssl", *args])


def make_pki(directory: Path) -> None:
    d = directory
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=edr-ca",
            "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt")  # fmt: skip
    ext = d / "server.ext"
    ext.write_text(f"subjectAltName=IP:127.0.0.1,IP:{ADVERTISE},DNS:kubernetes,DNS:kubernetes.default\n")
    for name, subject, extra in (
        ("server", "/CN=kube-apiserver", ["-extfile", str(ext)]),
        ("admin", "/O=system:masters/CN=admin", []),
    ):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr")  # fmt: skip
        openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.crt", "-CAkey", f"{d}/ca.key",
                "-CAcreateserial", "-days", "2", "-out", f"{d}/{name}.crt", *extra)  # fmt: skip
    openssl("genrsa", "-out", f"{d}/sa.key", "2048")
    openssl("rsa", "-in", f"{d}/sa.key", "-pubout", "-out", f"{d}/sa.pub")
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "edr", "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority": f"{d}/ca.crt"}}
        ],
        "users": [{"name": "admin", "user": {"client-certificate": f"{d}/admin.crt", "client-key": f"{d}/admin.key"}}],
        "contexts": [{"name": "edr", "context": {"cluster": "edr", "user": "admin"}}],
        "current-context": "edr",
    }
    (d / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))


@dataclass
class ControlPlane:
    janitor: Janitor
    directory: Path
    netns: str = ""
    procs: list[Proc] = field(default_factory=list)
    ready_in: float = 0.0

    @property
    def kubeconfig(self) -> str:
        return str(self.directory / "kubeconfig")

    def start(self, with_nodes: bool = False) -> ControlPlane:
        make_pki(self.directory)
        self.netns = self.janitor.netns("plane")
        peer = self.janitor.netns("peer")
        veth(self.netns, peer, ADVERTISE, PEER)
        d = self.directory
        started = time.monotonic()
        self._run(
            "etcd",
            ["etcd", "--data-dir", f"{d}/etcd", "--listen-client-urls", "http://127.0.0.1:2379",
             "--advertise-client-urls", "http://127.0.0.1:2379", "--listen-peer-urls", "http://127.0.0.1:2380",
             "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
             "--initial-cluster", "default=http://127.0.0.1:2380"],
        )  # fmt: skip
        self._run(
            "kube-apiserver",
            [built("kube-apiserver"), "--etcd-servers=http://127.0.0.1:2379", "--bind-address=127.0.0.1",
             "--secure-port=6443", f"--advertise-address={ADVERTISE}", f"--tls-cert-file={d}/server.crt",
             f"--tls-private-key-file={d}/server.key", f"--client-ca-file={d}/ca.crt",
             "--service-account-issuer=https://kubernetes.default.svc", f"--service-account-key-file={d}/sa.pub",
             f"--service-account-signing-key-file={d}/sa.key", "--service-cluster-ip-range=10.96.0.0/16",
             "--authorization-mode=Node,RBAC", "--allow-privileged=true"],
        )  # fmt: skip
        wait_for("kube-apiserver /readyz", self._ready, timeout=90, interval=0.5)
        self.ready_in = time.monotonic() - started
        if with_nodes:
            kc = self.kubeconfig
            self._run(
                "kube-scheduler",
                [built("kube-scheduler"), f"--kubeconfig={kc}", "--leader-elect=false",
                 "--bind-address=127.0.0.1", "--secure-port=10259"],
            )  # fmt: skip
            self._run(
                "kube-controller-manager",
                [built("kube-controller-manager"), f"--kubeconfig={kc}", "--leader-elect=false",
                 "--bind-address=127.0.0.1", "--secure-port=10257", f"--root-ca-file={d}/ca.crt",
                 f"--service-account-private-key-file={d}/sa.key", "--use-service-account-credentials=false",
                 # The node lifecycle controller stays on: it removes the not-ready:NoSchedule taint the API
                 # server's TaintNodesByCondition puts on every new Node (without it nothing ever schedules).
                 # kwok's lease heartbeats lag on 2 busy cores: a long grace period keeps the controller from
                 # marking nodes NotReady mid-rollout, which would measure the machine, not the Deployment.
                 "--node-monitor-grace-period=1h"],
            )  # fmt: skip
            self._run(
                "kwok",
                [built("kwok"), f"--kubeconfig={kc}", "--manage-all-nodes=true", f"--config={KWOK_STAGES}",
                 "--server-address=127.0.0.1:10247"],
            )  # fmt: skip
        return self

    def _run(self, name: str, args: list[str]) -> None:
        self.procs.append(self.janitor.start(name, in_netns(self.netns, args), self.directory / f"{name}.log"))

    def _ready(self) -> bool:
        for proc in self.procs:
            assert proc.alive(), f"{proc.name} exited:\n{proc.output()[-3000:]}"
        return self.kubectl("get", "--raw", "/readyz", timeout=10).stdout.strip() == "ok"

    def stop(self) -> None:
        for proc in reversed(self.procs):
            self.janitor.stop(proc)
        self.procs.clear()

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        command = in_netns(self.netns, ["kubectl", f"--kubeconfig={self.kubeconfig}", *args])
        return sh(command, timeout=timeout, input=stdin)

    def apply(self, text: str, *extra: str) -> subprocess.CompletedProcess:
        return self.kubectl("apply", "--server-side", "--field-manager=edr-runtime", "-f", "-", *extra, stdin=text)

    def get_json(self, *args: str) -> Any:
        result = self.kubectl("get", *args, "-o", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
