"""Drive the real checkers and read their output. Every verdict the tests assert on comes from a checker's
output; nothing here reads a NetworkPolicy or a securityContext to decide anything itself."""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conftest import run

SOURCEGRAPH_NS = "sourcegraph"
DNS_NS = "kube-system"


def load(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def dump(objects: Iterable[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(list(objects), sort_keys=False)


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return obj["kind"], meta.get("namespace") or "", meta["name"]


# ------------------------------------------------------------------------------------------------------------
# np-guard netpol-analyzer (`netpolicy`)
#
# Naming, found by running it: `list` names a workload `<namespace>/<name>[<Kind>]` and an address range
# `a.b.c.d-e.f.g.h` (or a CIDR), and prints connections as `All Connections`, `No Connections` or
# `TCP 53,UDP 53` / `TCP 80-90,443`. `evaluate --dirpath` reads only kind: Pod objects (it names a workload's
# pods `<name>-1`, `<name>-2` but never loads workloads from a directory), so the tests use `list -o json`.
#
# netpol-analyzer v1.2.0 (np-guard/models v0.3.4, ipblock.cidrToInterval) reads only the first four bytes of a
# CIDR: the IPv6 block `::/0` becomes 0.0.0.0/0 and opens all of IPv4 in its analysis. In Kubernetes an IPv6
# ipBlock never matches IPv4 traffic, so the analysed copy leaves IPv6 peers out; test_netpol.py checks that
# the analyser still misreads them (when it stops, this workaround goes).
# ------------------------------------------------------------------------------------------------------------

CLUSTER = [
    {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": DNS_NS, "labels": {"kubernetes.io/metadata.name": DNS_NS}},
    },
    {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": SOURCEGRAPH_NS, "labels": {"kubernetes.io/metadata.name": SOURCEGRAPH_NS}},
    },
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": DNS_NS},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-dns"}},
                "spec": {
                    "containers": [
                        {
                            "name": "coredns",
                            "image": "registry.k8s.io/coredns/coredns:v1.11.1",
                            "ports": [
                                {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
                            ],
                        }
                    ]
                },
            },
        },
    },
]


def ipv4_only(obj: dict[str, Any]) -> dict[str, Any]:
    """A NetworkPolicy without its IPv6 ipBlock peers (see above); a rule left with no peer is dropped, since
    an empty peer list would mean every destination."""
    if obj.get("kind") != "NetworkPolicy":
        return obj
    obj = copy.deepcopy(obj)
    spec = obj.get("spec") or {}
    for direction, peers_key in (("egress", "to"), ("ingress", "from")):
        if direction not in spec:
            continue
        kept_rules = []
        for rule in spec[direction] or []:
            peers = (rule or {}).get(peers_key)
            if not peers:
                kept_rules.append(rule)
                continue
            kept = [peer for peer in peers if ":" not in str((peer.get("ipBlock") or {}).get("cidr", ""))]
            if kept:
                kept_rules.append({**rule, peers_key: kept})
        spec[direction] = kept_rules
    return obj


def analysed_dir(where: Path, objects: list[dict[str, Any]], ipv6_workaround: bool = True) -> Path:
    """A directory for `netpolicy --dirpath`: the render, the cluster's DNS pods, labelled Namespaces."""
    where.mkdir(parents=True, exist_ok=True)
    names = {key(obj) for obj in objects}
    cluster = [obj for obj in CLUSTER if key(obj) not in names]
    rendered = [ipv4_only(obj) for obj in objects] if ipv6_workaround else objects
    (where / "render.yaml").write_text(dump(rendered))
    (where / "cluster.yaml").write_text(dump(cluster))
    return where


def _ranges(text: str) -> list[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]] | None:
    """The address ranges of an IP peer as netpolicy prints it, or None for a workload peer (`ns/name[Kind]`)
    or a pseudo-peer (`{ingress-controller}`, for an Ingress object)."""
    if text.endswith(("]", "}")):
        return None
    out = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            out.append((ipaddress.IPv4Address(low), ipaddress.IPv4Address(high)))
        else:
            network = ipaddress.IPv4Network(part, strict=False)
            out.append((network[0], network[-1]))
    return out


def conn_allows(conn: str, protocol: str, port: int) -> bool:
    """Does a netpolicy connection string (`All Connections`, `TCP 53,UDP 53`, `TCP 80-90,443`) allow this?"""
    if conn == "All Connections":
        return True
    if conn == "No Connections":
        return False
    current = None
    for token in (t.strip() for t in conn.split(",")):
        head, _, rest = token.partition(" ")
        if head in ("TCP", "UDP", "SCTP"):
            current, token = head, rest
        if current != protocol.upper():
            continue
        low, _, high = token.partition("-")
        if low.isdigit() and int(low) <= port <= int(high or low):
            return True
    return False


@dataclass(frozen=True)
class Connectivity:
    """netpolicy's list of allowed connections, as printed (`-o json`)."""

    entries: tuple[tuple[str, str, str], ...]

    def allows(self, src: str, dst: str, port: int, protocol: str = "TCP") -> bool:
        """src/dst: a workload as netpolicy names it (`ns/name[Kind]`) or an IPv4 address."""
        for entry_src, entry_dst, conn in self.entries:
            if not (self._matches(entry_src, src) and self._matches(entry_dst, dst)):
                continue
            if conn_allows(conn, protocol, port):
                return True
        return False

    @staticmethod
    def _matches(peer: str, wanted: str) -> bool:
        ranges = _ranges(peer)
        if ranges is None:
            return peer == wanted
        try:
            address = ipaddress.IPv4Address(wanted)
        except ValueError:
            return False
        return any(low <= address <= high for low, high in ranges)

    def workloads(self) -> set[str]:
        return {peer for entry in self.entries for peer in entry[:2] if peer.endswith("]")}


def connectivity(netpolicy: str, dirpath: Path) -> Connectivity:
    """`netpolicy list`: every allowed connection between the workloads and address ranges of a directory."""
    result = run([netpolicy, "list", "-q", "--dirpath", str(dirpath), "-o", "json"])
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert entries, f"netpolicy listed no connection: {result.stderr}"
    return Connectivity(tuple((e["src"], e["dst"], e["conn"]) for e in entries))


# ------------------------------------------------------------------------------------------------------------
# checkov
# ------------------------------------------------------------------------------------------------------------


def resource_name(resource: str) -> str:
    """checkov's resource id (`Kind.namespace.name[.labels]`) as `Kind/name`."""
    parts = resource.split(".")
    return f"{parts[0]}/{parts[2] if len(parts) > 2 else parts[-1]}"


@dataclass(frozen=True)
class CheckovReport:
    failed: frozenset[tuple[str, str]]  # (check id, Kind/name)
    skipped: dict[tuple[str, str], str]  # (check id, Kind/name) -> the reason checkov recorded
    passed: int

    @property
    def failed_ids(self) -> set[str]:
        return {check for check, _ in self.failed}


def checkov(binary: str, *paths: Path) -> CheckovReport | dict[str, CheckovReport]:
    """One checkov run. On one file: its report. On several: a report per file name; their graph checks
    (CKV2_*) see the objects of all of them, so give it only files with the same NetworkPolicies."""
    args = [binary, "--framework", "kubernetes", "--skip-download", "-o", "json"]
    result = run([*args, *(arg for path in paths for arg in ("-f", str(path)))])
    assert result.returncode in (0, 1), result.stderr[-2000:]
    data = json.loads(result.stdout)
    if isinstance(data, list):
        data = next(d for d in data if d.get("check_type") == "kubernetes")
    results = data["results"]
    by_file: dict[str, dict[str, list[dict[str, Any]]]] = {path.name: {} for path in paths}
    for outcome in ("failed_checks", "skipped_checks", "passed_checks"):
        for check in results[outcome]:
            by_file[Path(check["file_path"]).name].setdefault(outcome, []).append(check)
    reports = {}
    for name, checks in by_file.items():
        failed = checks.get("failed_checks", [])
        reports[name] = CheckovReport(
            failed=frozenset((c["check_id"], resource_name(c["resource"])) for c in failed),
            skipped={
                (c["check_id"], resource_name(c["resource"])): c["check_result"].get("suppress_comment", "")
                for c in checks.get("skipped_checks", [])
            },
            passed=len(checks.get("passed_checks", [])),
        )
    assert len(reports) == len(paths), "file names must differ"
    return reports[paths[0].name] if len(paths) == 1 else reports


def without_skips(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects without their `checkov.io/skip*` annotations."""
    out = copy.deepcopy(objects)
    for obj in out:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        for name in [n for n in annotations if n.startswith("checkov.io/skip")]:
            del annotations[name]
    return out
