"""Differential test: the audit against SIG Network's reference NetworkPolicy engine, packet by packet, without a
kernel. netpol-oracle (tools/netpol-oracle, `make tools`) runs kube-network-policies v0.8.0's own decision
(evaluatePacket: AdminNetworkPolicy, NetworkPolicy, BaselineAdminNetworkPolicy, egress then ingress) over the objects
an API server would hold: the render of each profile with NetworkPolicies, mutated by the attack corpus's network
classes (netpol_corpus.py), and the stand-in pods around it (the runtime tier's, dual-stack here).

From the executor pod (its jobs' traffic leaves with the pod's address), every destination the audit judges (each
metadata address, an address in each private range, every other pod) on every port/protocol below, IPv4 and IPv6:
the audit says reachable (an error naming it, netpol_corpus.audit_says_open) whenever the oracle lets a packet
through; where the audit says reachable and the oracle drops the packet, the audit is stricter, and the reason is
listed below. What executors need (the frontend's HTTP port, DNS, the registry, the internet) the audit does not
judge: the oracle must open it in every unmutated render, so a blanket-dropping oracle cannot fake agreement.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

import netpol_corpus as corpus
from conftest import find_tool
from executor_dind.audit.rules.network_policy import METADATA_ADDRESSES, PRIVATE_RANGES
from netpol_corpus import ADMIN_CORPUS, CORPUS, STRICTER_THAN_REFERENCE, spec_of
from runtime.harness import render
from runtime.netpol import Pod, pod_object, pods_of

PROFILES = ("recommended", "strict")  # the profiles whose render holds NetworkPolicies
MUTATIONS = {"unmutated": ("none", lambda objects: objects), **CORPUS, **ADMIN_CORPUS}
PORTS = (("TCP", 80), ("TCP", 443), ("TCP", 22), ("TCP", 53), ("UDP", 53), ("TCP", 3080), ("TCP", 5000),
         ("TCP", 8080), ("UDP", 123), ("SCTP", 9000))  # fmt: skip
# An address in each private range (the audit's own table), beside the metadata addresses it cuts out of them.
PRIVATE = {cidr: str(net[10] if net.num_addresses > 10 else net[0])
           for cidr, net in ((c, ipaddress.ip_network(c)) for c in PRIVATE_RANGES)}  # fmt: skip
INTERNET = ("203.0.113.10", "2001:db8::10")  # TEST-NET-3 and the IPv6 documentation range: public to the policy
NEIGHBOUR = Pod("neighbour", "executors", "10.244.0.12", {"app": "neighbour"}, (("http", 8080, "TCP"),))
# What executors need, per pod: (protocol, port) the audit accepts (never judged, opened by every unmutated render).
NEEDED = {"frontend": {("TCP", 3080)}, "kube-dns": {("UDP", 53), ("TCP", 53)}, "registry": {("TCP", 5000)}}
PER_DESTINATION = (
    "the audit's verdict is per destination (EXD302 per metadata address, EXD303 per private range, EXD305 for the "
    "pods as a class), not per port: the oracle opens another packet of the same finding"
)


@pytest.fixture(scope="module")
def oracle() -> str:
    return find_tool("netpol-oracle")


def dual_stack(pod: Pod) -> list[str]:
    return [pod.ip, f"fd00:10:244::{pod.ip.rsplit('.', 1)[1]}"]


def stand_ins(objects: list[dict[str, Any]]) -> dict[str, Pod]:
    return {**pods_of(objects), NEIGHBOUR.name: NEIGHBOUR}


def pods_with_status(pods: dict[str, Pod]) -> list[dict[str, Any]]:
    """The pods as the API server holds them once a kubelet ran them: Running, with an address per family."""
    status = {
        name: {"phase": "Running", "podIPs": [{"ip": ip} for ip in dual_stack(pod)]} for name, pod in pods.items()
    }
    return [{**pod_object(pod), "status": status[name]} for name, pod in pods.items()]


def namespaces_beside(objects: list[dict[str, Any]], pods: dict[str, Pod]) -> list[dict[str, Any]]:
    """The stand-ins' Namespace objects the render does not hold (the engine reads namespaces from the API: a pod in
    a namespace it does not know matches no namespaceSelector)."""
    held = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    out = [o for o in corpus.cluster_objects(pods) if o["kind"] == "Namespace" and o["metadata"]["name"] not in held]
    assert {p.namespace for p in pods.values()} <= held | {o["metadata"]["name"] for o in out}
    return out


def packets(pods: dict[str, Pod]) -> list[dict[str, Any]]:
    """Every packet from the executor pod: (destination, reasons the audit would name it by, needed or not)."""
    out = []
    for family in (0, 1):
        source = dual_stack(pods["executor"])[family]
        version = ipaddress.ip_address(source).version
        addresses = {
            **{f"metadata {a}": a for a in METADATA_ADDRESSES},
            **{f"range {c}": a for c, a in PRIVATE.items()},
        }
        for name, address in addresses.items():
            if ipaddress.ip_address(address).version == version:
                out += [(name, source, address, p, corpus.address_reasons(address), False) for p in PORTS]
        out += [("internet", source, INTERNET[family], p, (), True) for p in PORTS]
        for name, pod in pods.items():
            if name != "executor":
                address = dual_stack(pod)[family]
                reasons = (corpus.POD_REASON, *corpus.address_reasons(address))
                out += [(f"pod {name}", source, address, p, reasons, p in NEEDED.get(name, ())) for p in PORTS]
    keys = ("destination", "src", "dst", "port", "reasons", "needed")
    return [dict(zip(keys, row, strict=True)) for row in out]


def ask_oracle(oracle: str, objects: list[dict[str, Any]], batch: list[dict[str, Any]], where: Path) -> list[dict]:
    """One oracle process for a mutation's whole batch of packets; its verdicts in order."""
    path = where / "objects.yaml"
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    lines = "".join(
        json.dumps({"id": i, "src": p["src"], "dst": p["dst"], "protocol": p["port"][0], "port": p["port"][1]}) + "\n"
        for i, p in enumerate(batch)
    )
    result = subprocess.run([oracle, "--objects", str(path)], input=lines, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["id"] for v in verdicts] == list(range(len(batch))), result.stderr
    return verdicts


@pytest.fixture(scope="module")
def judged(oracle, executor_dind, tmp_path_factory) -> list[dict[str, Any]]:
    """Every (profile, mutation, packet) with the oracle's and the audit's verdicts."""
    rows = []
    for profile in PROFILES:
        rendered = render(executor_dind, spec_of(profile), tmp_path_factory.mktemp(profile), profile)
        for name, (klass, mutate) in MUTATIONS.items():
            objects = mutate(copy.deepcopy(rendered))
            pods = stand_ins(objects)
            batch = packets(pods)
            engine_objects = [*objects, *namespaces_beside(objects, pods), *pods_with_status(pods)]
            where = tmp_path_factory.mktemp(f"{profile}-{name}")
            verdicts = ask_oracle(oracle, engine_objects, batch, where)
            targets = {str(i): p["reasons"] for i, p in enumerate(batch)}
            audit = corpus.audit_says_open([*objects, *corpus.cluster_objects(pods)], targets)
            for i, (packet, verdict) in enumerate(zip(batch, verdicts, strict=True)):
                assert verdict["srcPod"] == "executors/executor", verdict
                pod = packet["destination"].removeprefix("pod ")
                assert verdict["dstPod"] == (f"{pods[pod].namespace}/{pod}" if pod in pods else ""), verdict
                rows.append({**packet, "profile": profile, "mutation": name, "class": klass,
                             "oracle": verdict["allowed"], "audit": audit[str(i)]})  # fmt: skip
    return rows


def classify(rows: list[dict[str, Any]]) -> Counter:
    """Each judged verdict as agreement, stricter (by reason) or looser (the audit misses a reachable packet)."""
    opened = {(r["profile"], r["mutation"], reason) for r in rows if r["oracle"] and not r["needed"]
              for reason in r["reasons"]}  # fmt: skip
    out: Counter = Counter()
    for r in rows:
        if r["needed"]:
            continue
        if r["audit"] == r["oracle"]:
            out["agree"] += 1
        elif r["oracle"]:
            out[("LOOSER", r["profile"], r["mutation"], r["destination"], r["dst"], *r["port"])] += 1
        elif any((r["profile"], r["mutation"], reason) in opened for reason in r["reasons"]):
            out["stricter", PER_DESTINATION] += 1
        elif r["mutation"] in STRICTER_THAN_REFERENCE:
            out["stricter", r["mutation"]] += 1
        else:
            out[("UNLISTED", r["profile"], r["mutation"], r["destination"], r["dst"], *r["port"])] += 1
    return out


def test_the_audit_is_never_more_permissive_than_the_reference_engine(judged) -> None:
    counts = classify(judged)
    judged_total = sum(counts.values())
    print(
        f"\n== netpol-oracle (kube-network-policies v0.8.0): {len(judged)} verdicts, {judged_total} judged by the "
        f"audit over {len(PROFILES)} profiles x {len(MUTATIONS)} mutations; {counts['agree']} agree"
    )
    for key, number in sorted(counts.items(), key=str):
        if key != "agree":
            reason = STRICTER_THAN_REFERENCE.get(key[1], key[1]) if key[0] == "stricter" else ""
            print(f"   {number:5d}  {' '.join(map(str, key))}{': ' + reason if reason != key[1] else ''}")
    for name in MUTATIONS:
        mine = [r for r in judged if r["mutation"] == name and not r["needed"]]
        print(f"   {name:<30} {MUTATIONS[name][0]:<27} judged {len(mine):4d}  oracle opens "
              f"{sum(r['oracle'] for r in mine):4d}  audit flags {sum(r['audit'] for r in mine):4d}")  # fmt: skip
    assert judged_total >= 3000
    assert [key for key in counts if key[0] == "LOOSER"] == []
    assert [key for key in counts if key[0] == "UNLISTED"] == []
    unseen = set(STRICTER_THAN_REFERENCE) - {key[1] for key in counts if key[0] == "stricter"}
    assert sorted(unseen) == [], "the audit agrees with the engine on these now: drop them from the list"


def test_the_oracle_opens_what_executors_need_in_every_unmutated_render(judged) -> None:
    """The positive control of the oracle and its stand-ins: the frontend's HTTP port, DNS over UDP and TCP, the
    registry and the internet are open, and every destination the audit judges is closed, in both families."""
    unmutated = [r for r in judged if r["mutation"] == "unmutated"]
    assert {r["profile"] for r in unmutated} == set(PROFILES)
    assert [
        (r["profile"], r["destination"], r["dst"], r["port"]) for r in unmutated if r["oracle"] != r["needed"]
    ] == []
    assert sum(r["needed"] for r in unmutated) == len(PROFILES) * 2 * (len(PORTS) + 4)
    assert [r for r in unmutated if r["audit"]] == []


def test_an_opened_metadata_address_is_an_audit_error(judged) -> None:
    """The positive control of the comparison: allow-all egress opens 169.254.169.254 to the oracle, and the audit
    says so (EXD302), in every profile."""
    rows = [r for r in judged if r["mutation"] == "allow-all-egress" and r["dst"] == "169.254.169.254"]
    assert {(r["profile"], r["oracle"], r["audit"]) for r in rows} == {(p, True, True) for p in PROFILES}
    assert len(rows) == len(PROFILES) * len(PORTS)


def test_the_oracle_refuses_what_it_cannot_read(oracle, tmp_path: Path) -> None:
    """Exit 2 with the reason for an unknown field of a policy and for a packet that is not one; the same objects
    and packets, well formed, are judged (the control)."""
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p"},
              "spec": {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}}  # fmt: skip
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(policy))
    packet = {"src": "10.244.0.10", "dst": "10.0.0.1", "protocol": "TCP", "port": 80}
    judged = subprocess.run([oracle, "--objects", str(good)], input=json.dumps(packet), capture_output=True, text=True)
    assert (judged.returncode, json.loads(judged.stdout)["allowed"]) == (0, True), judged.stderr
    policy["spec"]["egress"][0]["too"] = []
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(policy))
    refused = subprocess.run([oracle, "--objects", str(bad)], input="", capture_output=True, text=True)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == f'netpol-oracle: {bad}: document 0: json: unknown field "too"\n'
    odd = subprocess.run([oracle, "--objects", str(good)], input=json.dumps({**packet, "port": 0}),
                         capture_output=True, text=True)  # fmt: skip
    assert (odd.returncode, odd.stdout) == (2, "")
    assert odd.stderr.splitlines() == [
        "netpol-oracle: 1 objects served, 0 skipped (kinds the engine does not read)",
        "netpol-oracle: packet line 1: port 0 is not 1-65535",
    ]
