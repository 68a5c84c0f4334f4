"""A one-node cluster network without kubelet or CNI, for a NetworkPolicy engine to enforce on real packets.

The control plane's network namespace is the node: it holds the node address (the API server's advertise address,
on its veth into the plane's peer namespace), the pods' gateway on its loopback, and one veth per pod namespace
(point-to-point: a /32 in the pod, a host route and proxy ARP on the node, as kindnet or Calico wire pods).
Every address outside the cluster the tests probe (the metadata services, the private ranges, an internet host in
TEST-NET-3) lives in one more namespace of ours, "world", reached through the node by host routes: nothing is
routed to the machine's own interfaces. Pods are Pod objects in the API server with `nodeName` set and their
status (Running, podIP, hostIP) written as a kubelet would; the engine reads them and the render's policies from
there. Stand-in servers (packets.py) answer in every pod and world address.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runtime.controlplane import ADVERTISE, ControlPlane
from runtime.harness import Janitor, Proc, built, find, in_netns, ok, sh, wait_for

NODE = "edr-node"
GATEWAY = "10.244.0.1"
POD_CIDR = "10.244.0.0/24"
PACKETS = str(Path(__file__).resolve().parent / "packets.py")
# kube-router's netpol controller alone: no routing, no service proxy, no CNI; IPv4 (the tier's pods have no IPv6).
ENGINE_FLAGS = (
    f"--hostname-override={NODE}",
    "--run-router=false",
    "--run-service-proxy=false",
    "--run-firewall=true",
    "--enable-cni=false",
    "--enable-ipv6=false",
    "--metrics-port=0",
    "--health-port=0",
)


@dataclass(frozen=True)
class Pod:
    """A stand-in pod: where it is in the API (namespace, labels, named ports) and on the wire (ip, served ports)."""

    name: str
    namespace: str
    ip: str
    labels: dict[str, str]
    ports: tuple[tuple[str, int, str], ...] = ()  # (name, containerPort, protocol) as its spec declares them
    tcp: tuple[int, ...] = ()
    udp: tuple[int, ...] = ()


# The addresses outside the cluster, each on the world namespace's interface.
WORLD = {
    "metadata": "169.254.169.254",
    "azure-wireserver": "168.63.129.16",
    "private-10": "10.100.0.10",
    "private-172.16": "172.16.0.10",
    "private-192.168": "192.168.1.10",
    "cgnat-100.64": "100.64.0.10",
    "internet": "203.0.113.10",  # TEST-NET-3: the stand-in for any public address
}
WORLD_PORTS = (80, 443)
# The labels the workload controllers add to the pods they make, beside the template's.
REPLICA_SET = {"pod-template-hash": "5d4f8b7c9"}
STATEFUL_SET = {"controller-revision-hash": "executor-dind-registry-6b9c", "apps.kubernetes.io/pod-index": "0",
                "statefulset.kubernetes.io/pod-name": "executor-dind-registry-0"}  # fmt: skip


def template_labels(objects: list[dict[str, Any]], kind: str) -> dict[str, str]:
    return find(objects, kind)["spec"]["template"]["metadata"]["labels"]


def pods_of(objects: list[dict[str, Any]]) -> dict[str, Pod]:
    """The executor and registry pods with the render's own template labels, and the pods around them."""
    namespace = find(objects, "Deployment")["metadata"]["namespace"]
    return {
        pod.name: pod
        for pod in (
            Pod("executor", namespace, "10.244.0.10", {**template_labels(objects, "Deployment"), **REPLICA_SET},
                (("debug", 6060, "TCP"),), tcp=(6060, 6061)),
            Pod("registry", namespace, "10.244.0.11", {**template_labels(objects, "StatefulSet"), **STATEFUL_SET},
                (("http", 5000, "TCP"),), tcp=(5000,)),
            Pod("frontend", "sourcegraph", "10.244.0.20", {"app": "sourcegraph-frontend"},
                (("http", 3080, "TCP"),), tcp=(3080, 3082)),
            Pod("prometheus", "sourcegraph", "10.244.0.40", {"app": "prometheus"}),
            Pod("other", "other", "10.244.0.30", {"app": "other"}, (("http", 8080, "TCP"),), tcp=(8080,)),
            Pod("kube-dns", "kube-system", "10.244.0.53", {"k8s-app": "kube-dns"},
                (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")), tcp=(53,), udp=(53,)),
        )
    }  # fmt: skip


def pod_object(pod: Pod) -> dict[str, Any]:
    ports = [{"name": n, "containerPort": p, "protocol": proto} for n, p, proto in pod.ports]
    container = {"name": "main", "image": "stand-in", **({"ports": ports} if ports else {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": pod.labels},
        "spec": {"nodeName": NODE, "automountServiceAccountToken": False, "containers": [container]},
    }


def pod_status(pod: Pod) -> str:
    return json.dumps(
        {
            "status": {
                "phase": "Running",
                "hostIP": ADVERTISE,
                "hostIPs": [{"ip": ADVERTISE}],
                "podIP": pod.ip,
                "podIPs": [{"ip": pod.ip}],
            }
        }
    )


@dataclass
class ClusterNetwork:
    janitor: Janitor
    directory: Path
    plane: ControlPlane | None = None
    netns: dict[str, str] = field(default_factory=dict)  # pod name (or "world") -> its namespace
    servers: list[Proc] = field(default_factory=list)

    @property
    def node(self) -> str:
        assert self.plane is not None
        return self.plane.netns

    def start(self, pods: dict[str, Pod]) -> ClusterNetwork:
        (self.directory / "plane").mkdir(exist_ok=True)
        self.plane = ControlPlane(self.janitor, self.directory / "plane").start()
        node = self.node
        ok(["ip", "-n", node, "addr", "add", f"{GATEWAY}/32", "dev", "lo"])
        ok(in_netns(node, ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                           "net.ipv4.conf.default.rp_filter=0"]))  # fmt: skip
        for index, pod in enumerate(pods.values()):
            self.netns[pod.name] = self._wire(f"p{index}", [pod.ip])
            self._serve(pod.name, pod.tcp, pod.udp)
        self.netns["world"] = self._wire("w", list(WORLD.values()))
        self._serve("world", WORLD_PORTS, ())
        self._register(pods)
        return self

    def _wire(self, tag: str, addresses: list[str]) -> str:
        netns = self.janitor.netns(f"pk{tag}")
        outside = f"edrpk{tag}"
        ok(["ip", "link", "add", outside, "netns", self.node, "type", "veth", "peer", "name", "eth0", "netns", netns])
        ok(["ip", "-n", netns, "link", "set", "eth0", "up"])
        ok(["ip", "-n", self.node, "link", "set", outside, "up"])
        for address in addresses:
            ok(["ip", "-n", netns, "addr", "add", f"{address}/32", "dev", "eth0"])
            ok(["ip", "-n", self.node, "route", "add", f"{address}/32", "dev", outside])
        ok(["ip", "-n", netns, "route", "add", "default", "via", GATEWAY, "dev", "eth0", "onlink"])
        ok(in_netns(self.node, ["sysctl", "-qw", f"net.ipv4.conf.{outside}.proxy_arp=1"]))
        return netns

    def _serve(self, name: str, tcp: tuple[int, ...], udp: tuple[int, ...]) -> None:
        if not tcp and not udp:
            return
        args = [sys.executable, PACKETS, "serve", ",".join(map(str, tcp)), ",".join(map(str, udp))]
        log = self.directory / f"serve-{name}.log"
        self.servers.append(self.janitor.start(f"serve-{name}", in_netns(self.netns[name], args), log, grace=0))
        wanted = {f"0.0.0.0:{p}" for p in tcp}
        wait_for(f"{name}'s stand-in servers", lambda: wanted <= self._listening(name), timeout=20)

    def _listening(self, name: str) -> set[str]:
        out = sh(in_netns(self.netns[name], ["ss", "-Hltn"]), timeout=10).stdout
        return {line.split()[3] for line in out.splitlines() if line.strip()}

    def _register(self, pods: dict[str, Pod]) -> None:
        """The Node and the pods' namespaces; the pods themselves come with each render (apply_pods)."""
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE},
                "spec": {"podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR]}}  # fmt: skip
        namespaces = sorted({pod.namespace for pod in pods.values()})
        # No controller-manager: each namespace's default ServiceAccount (which Pod admission looks up) is ours.
        docs = [node]
        for name in namespaces:
            docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
            docs.append({"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": {"name": "default", "namespace": name}})  # fmt: skip
        self.kubectl_ok("apply", "--server-side", "--field-manager=edr-network", "-f", "-",
                        stdin=yaml.safe_dump_all(docs))  # fmt: skip
        status = {"status": {"addresses": [{"type": "InternalIP", "address": ADVERTISE}]}}
        self.kubectl_ok("patch", "node", NODE, "--subresource=status", "--type=merge", "-p", json.dumps(status))

    def apply_pods(self, pods: dict[str, Pod]) -> None:
        self.kubectl_ok("apply", "--server-side", "--force-conflicts", "--field-manager=edr-pods", "-f", "-",
                        stdin=yaml.safe_dump_all([pod_object(pod) for pod in pods.values()]))  # fmt: skip
        for pod in pods.values():
            self.kubectl_ok("-n", pod.namespace, "patch", "pod", pod.name, "--subresource=status", "--type=merge",
                            "-p", pod_status(pod))  # fmt: skip

    def kubectl_ok(self, *args: str, stdin: str | None = None) -> str:
        assert self.plane is not None
        result = self.plane.kubectl(*args, stdin=stdin)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def probe(self, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each case {"from", "to", "ip", "port", "proto", ...} probed from the namespace of its "from" pod; the
        cases of one source run in parallel, the sources one after another."""
        verdicts = []
        for source in dict.fromkeys(case["from"] for case in cases):
            mine = [case for case in cases if case["from"] == source]
            lines = "".join(json.dumps(case) + "\n" for case in mine)
            result = sh(in_netns(self.netns[source], [sys.executable, PACKETS, "probe"]), timeout=30, input=lines)
            assert result.returncode == 0, result.stderr
            verdicts += [json.loads(line) for line in result.stdout.splitlines()]
        return verdicts

    def iptables(self) -> str:
        return ok(in_netns(self.node, ["iptables-save"]))


@dataclass
class Engine:
    """kube-router's netpol controller in the node namespace, with the admin's kubeconfig."""

    network: ClusterNetwork
    proc: Proc | None = None

    def start(self) -> Engine:
        assert self.network.plane is not None
        args = [built("kube-router"), f"--kubeconfig={self.network.plane.kubeconfig}", *ENGINE_FLAGS]
        log = self.network.directory / "kube-router.log"
        self.proc = self.network.janitor.start("kube-router", in_netns(self.network.node, args), log)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def log(self) -> str:
        return self.proc.output() if self.proc else ""

    def stop(self) -> None:
        """Stop the engine, then flush the filter table and the ipsets of the node namespace (which hold only the
        engine's): kube-router leaves its rules in place on exit, and they keep enforcing."""
        if self.proc is not None:
            self.network.janitor.stop(self.proc)
            self.proc = None
        for command in (["iptables", "-F"], ["iptables", "-X"], ["ipset", "destroy"]):
            ok(in_netns(self.network.node, command))


# SIG Network's reference engine (kube-network-policies v0.8.0, patched for this kernel: tools/runtime/
# kube-network-policies) with AdminNetworkPolicy and BaselineAdminNetworkPolicy on: with either on it queues every
# new forwarded connection to userspace (the x_tables NFQUEUE target: KNP_XT_NFQUEUE=1) and drops what it denies.
REFERENCE_FLAGS = (
    f"--hostname-override={NODE}",
    "--admin-network-policy",
    "--baseline-admin-network-policy",
    "--disable-nri",
    "--metrics-bind-address=127.0.0.1:9080",
)
REFERENCE_TABLE = ("inet", "kube-network-policies")


class ReferenceEngine(Engine):
    """The reference engine in the node namespace, with the admin's kubeconfig."""

    def start(self) -> ReferenceEngine:
        assert self.network.plane is not None
        args = [built("kube-network-policies"), f"--kubeconfig={self.network.plane.kubeconfig}", *REFERENCE_FLAGS]
        log = self.network.directory / "kube-network-policies.log"
        env = {**os.environ, "KNP_XT_NFQUEUE": "1"}
        self.proc = self.network.janitor.start("kube-network-policies", in_netns(self.network.node, args), log, env)
        return self

    def ruleset(self) -> str:
        """Its nftables table in the node namespace ("" when there is none)."""
        return sh(in_netns(self.network.node, ["nft", "list", "table", *REFERENCE_TABLE]), timeout=10).stdout

    def queues(self) -> bool:
        """Whether its table sends packets to its queue (nft prints the x_tables target as `queue` or `NFQUEUE`)."""
        return "queue" in self.ruleset().lower()

    def stop(self) -> None:
        """Stop the engine, then delete its table: killed, it leaves the table queueing to a queue nobody reads."""
        if self.proc is not None:
            self.network.janitor.stop(self.proc)
            self.proc = None
        if self.ruleset():
            ok(in_netns(self.network.node, ["nft", "delete", "table", *REFERENCE_TABLE]))
