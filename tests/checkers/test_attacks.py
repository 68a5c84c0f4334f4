"""The attack corpus: mutations of a clean render of the real upstream base that reopen what the hardening
closes. Each must fail the audit with exactly the expected error rules, and the findings must name what opens
the hole (the policy, the field). The clean renders they start from pass."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from checkers.conftest import PROFILES
from checkers.tools import dump, find
from conftest import run
from executor_dind.audit import audit
from executor_dind.krm.item import Item
from executor_dind.krm.read import read_stream

EXECUTOR = "Deployment/{ns}/executor-all"
Objects = list[dict[str, Any]]


def policy(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def egress_policy(name: str, namespace: str, *rules: dict[str, Any], selector: Any = None) -> dict[str, Any]:
    pod_selector = selector if selector is not None else {"matchLabels": {"app.kubernetes.io/name": "executor"}}
    return policy(name, namespace, {"podSelector": pod_selector, "policyTypes": ["Egress"], "egress": list(rules)})


def deployment(objects: Objects) -> dict[str, Any]:
    return find(objects, "Deployment", "executor-all")


def pod(objects: Objects) -> dict[str, Any]:
    return deployment(objects)["spec"]["template"]["spec"]


def container(objects: Objects, name: str) -> dict[str, Any]:
    spec = pod(objects)
    return next(c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == name)


def namespace_of(objects: Objects) -> str:
    return deployment(objects)["metadata"]["namespace"]


def add(*extra: Callable[[str], dict[str, Any]]) -> Callable[[Objects], Objects]:
    return lambda objects: [*objects, *(make(namespace_of(objects)) for make in extra)]


def edit(change: Callable[[Objects], None]) -> Callable[[Objects], Objects]:
    def mutate(objects: Objects) -> Objects:
        change(objects)
        return objects

    return mutate


def set_pod(**fields: Any) -> Callable[[Objects], Objects]:
    return edit(lambda objects: pod(objects).update(fields))


def set_container(name: str, **fields: Any) -> Callable[[Objects], Objects]:
    return edit(lambda objects: container(objects, name).update(fields))


def add_volume(volume: dict[str, Any], mount_in: str = "dind") -> Callable[[Objects], Objects]:
    def change(objects: Objects) -> None:
        pod(objects)["volumes"].append(volume)
        container(objects, mount_in)["volumeMounts"].append({"name": volume["name"], "mountPath": "/mnt/x"})

    return edit(change)


def parent_overlay_labels(objects: Objects) -> Objects:
    """A parent overlay's `labels: {deploy: sourcegraph}` with includeTemplates, and upstream's
    components/network/network-policy: Sourcegraph's allow-all-in-namespace policy now selects executor pods."""
    namespace = namespace_of(objects)
    deployment(objects)["spec"]["template"]["metadata"]["labels"]["deploy"] = "sourcegraph"
    for obj in objects:
        if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet"):
            obj["spec"]["template"]["metadata"].setdefault("labels", {})["deploy"] = "sourcegraph"
    marked = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    marked["metadata"]["labels"] = {"deploy": "sourcegraph", "name": "sourcegraph-prod"}
    prod = policy(
        "sourcegraph-prod",
        namespace,
        {
            "podSelector": {"matchLabels": {"deploy": "sourcegraph"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"name": "sourcegraph-prod"}}}]}],
            "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"name": "sourcegraph-prod"}}}]}],
        },
    )
    return [*[o for o in objects if (o["kind"], o["metadata"]["name"]) != ("Namespace", namespace)], marked, prod]


def drop_metadata_except(objects: Objects) -> Objects:
    ours = find(objects, "NetworkPolicy", "executor-dind-executors")
    for rule in ours["spec"]["egress"]:
        for peer in rule.get("to", []):
            block = peer.get("ipBlock") or {}
            if "except" in block:
                block["except"] = [c for c in block["except"] if c not in ("169.254.0.0/16", "10.0.0.0/8")]
    return objects


def runtime_class(handler: str) -> Callable[[str], dict[str, Any]]:
    return lambda _ns: {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": "gvisor"},
        "handler": handler,
    }


def daemon_json_hosts(objects: Objects) -> Objects:
    config_map = find(objects, "ConfigMap", "executor-dind-docker")
    config = json.loads(config_map["data"]["daemon.json"])
    config["hosts"] = ["tcp://127.0.0.1:2375", "tcp://0.0.0.0:2375"]
    config_map["data"]["daemon.json"] = json.dumps(config)
    return objects


def renamed(objects: Objects, exposed: bool) -> Objects:
    """The dind and executor containers renamed; dind optionally listening beyond loopback."""
    for name, new in (("dind", "docker-daemon"), ("executor", "worker")):
        container(objects, name)["name"] = new
    if exposed:
        spec = pod(objects)
        dind = next(c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == "docker-daemon")
        dind["command"] = ["dockerd", "-H", "tcp://0.0.0.0:2375"]
    return objects


def prometheus_elsewhere(objects: Objects) -> Objects:
    """A pod labelled app=prometheus in a tenant's namespace, let in by a policy that trusts the label anywhere."""
    impostor = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "prometheus", "namespace": "tenant"},
        "spec": {"template": {"metadata": {"labels": {"app": "prometheus"}}, "spec": {"containers": [{"name": "p"}]}}},
    }
    trusting = policy(
        "prometheus-anywhere",
        namespace_of(objects),
        {
            "podSelector": EXECUTOR_SELECTOR,
            "ingress": [
                {
                    "from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "prometheus"}}}],
                    "ports": [{"port": 6060}],
                }
            ],
        },
    )
    return [*objects, impostor, trusting]


def set_except(old: str, new: str) -> Callable[[Objects], Objects]:
    """One `except` entry of our policy's internet rule written another way."""

    def change(objects: Objects) -> None:
        ours = find(objects, "NetworkPolicy", "executor-dind-executors")
        for rule in ours["spec"]["egress"]:
            for peer in rule.get("to", []):
                block = peer.get("ipBlock") or {}
                block["except"] = [new if c == old else c for c in block.get("except", [])]

    return edit(change)


def relabel_our_policy(api_version: str) -> Callable[[Objects], Objects]:
    return edit(lambda o: find(o, "NetworkPolicy", "executor-dind-executors").update(apiVersion=api_version))


def foreign_policy(api_version: str, kind: str, spec: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    return lambda ns: {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "open", "namespace": ns},
        "spec": spec,
    }


def admin_policy(
    *egress: dict[str, Any], api_version: str = "policy.networking.k8s.io/v1alpha1"
) -> Callable[[str], dict[str, Any]]:
    """An AdminNetworkPolicy whose subject is every namespace (cluster-scoped: no namespace)."""
    return lambda _ns: {
        "apiVersion": api_version,
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "cluster-egress"},
        "spec": {"priority": 10, "subject": {"namespaces": {}}, "egress": list(egress)},
    }


def without_namespace(policy_object: dict[str, Any]) -> dict[str, Any]:
    del policy_object["metadata"]["namespace"]
    return policy_object


ALL_PEERS = [{"namespaceSelector": {}}]
EXECUTOR_SELECTOR = {"matchLabels": {"app.kubernetes.io/name": "executor"}}

# name -> (profile, mutation, the exact set of error rules, a text some error finding must contain)
CORPUS: dict[str, tuple[str, Callable[[Objects], Objects], set[str], str]] = {
    # --- extra allow policies ---
    "namespace-selector-everything": (
        "recommended",
        add(lambda ns: egress_policy("open-namespaces", ns, {"to": ALL_PEERS})),
        {"EXD305"},
        "NetworkPolicy open-namespaces (egress[0])",
    ),
    "namespace-selector-everything-strict": (
        "strict",
        add(lambda ns: egress_policy("open-namespaces", ns, {"to": ALL_PEERS})),
        {"EXD305"},
        "any pod in any other namespace (every port)",
    ),
    "pod-selector-everything-in-namespace": (
        "recommended",
        add(lambda ns: egress_policy("open-pods", ns, {"to": [{"podSelector": {}}]})),
        {"EXD305"},
        "any other pod in namespace sourcegraph (every port)",
    ),
    "namespace-not-in-expression": (
        "strict",
        add(
            lambda ns: egress_policy(
                "not-kube-system",
                ns,
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["x"]}
                                ]
                            }
                        }
                    ]
                },
            )
        ),
        {"EXD305"},
        "any pod in any other namespace",
    ),
    "private-block-10-20": (
        "recommended",
        add(lambda ns: egress_policy("to-vpc", ns, {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]})),
        {"EXD303"},
        "private range 10.0.0.0/8 (10.20.0.0/16 on every port): allowed by NetworkPolicy to-vpc (egress[0])",
    ),
    "private-block-172-16-5": (
        "strict",
        add(lambda ns: egress_policy("to-db", ns, {"to": [{"ipBlock": {"cidr": "172.16.5.0/24"}}]})),
        {"EXD303"},
        "private range 172.16.0.0/12 (172.16.5.0/24 on every port): allowed by NetworkPolicy to-db",
    ),
    "private-block-192-168-single-port": (
        "recommended",
        add(
            lambda ns: egress_policy(
                "to-ssh", ns, {"to": [{"ipBlock": {"cidr": "192.168.1.7/32"}}], "ports": [{"port": 22}]}
            )
        ),
        {"EXD303"},
        "192.168.1.7/32 on TCP 22",
    ),
    "cgnat-block-with-end-port": (
        "recommended",
        add(
            lambda ns: egress_policy(
                "to-cgnat",
                ns,
                {"to": [{"ipBlock": {"cidr": "100.64.0.0/10"}}], "ports": [{"port": 8000, "endPort": 9000}]},
            )
        ),
        {"EXD302", "EXD303"},  # Alibaba's 100.100.100.200 is in CGNAT
        "100.64.0.0/10 on TCP 8000-9000",
    ),
    "metadata-address-only": (
        "strict",
        add(lambda ns: egress_policy("imds", ns, {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}]})),
        {"EXD302"},
        "169.254.169.254 (AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack instance metadata) on every port: "
        "allowed by NetworkPolicy imds (egress[0])",
    ),
    "ecs-task-metadata": (
        "recommended",
        add(lambda ns: egress_policy("ecs", ns, {"to": [{"ipBlock": {"cidr": "169.254.170.0/24"}}]})),
        {"EXD302", "EXD303"},
        "169.254.170.2 (AWS ECS task metadata and credentials)",
    ),
    "azure-wireserver": (
        "recommended",
        add(lambda ns: egress_policy("azure", ns, {"to": [{"ipBlock": {"cidr": "168.63.0.0/16"}}]})),
        {"EXD302"},
        "168.63.129.16 (Azure WireServer)",
    ),
    "ipv6-everything-without-except": (
        "strict",
        add(lambda ns: egress_policy("v6", ns, {"to": [{"ipBlock": {"cidr": "::/0"}}]})),
        {"EXD302", "EXD303"},
        "fd00:ec2::254 (AWS instance metadata over IPv6)",
    ),
    "allow-all-egress": (
        "recommended",
        add(lambda ns: egress_policy("allow-all", ns, {}, selector={})),
        {"EXD302", "EXD303", "EXD305", "EXD309"},
        "allowed by NetworkPolicy allow-all (egress[0])",
    ),
    "ports-only-rule": (
        "strict",
        add(lambda ns: egress_policy("https-anywhere", ns, {"ports": [{"port": 443}]})),
        {"EXD302", "EXD303", "EXD305"},
        "10.0.0.0/8 on TCP 443",
    ),
    "dns-port-everywhere": (
        "recommended",
        add(lambda ns: egress_policy("dns-any", ns, {"ports": [{"port": 53, "protocol": "UDP"}]})),
        {"EXD302", "EXD303", "EXD305"},
        "on UDP 53",
    ),
    "frontend-internal-api-port": (
        "recommended",
        add(
            lambda ns: egress_policy(
                "frontend-internal",
                ns,
                {"to": [{"podSelector": {"matchLabels": {"app": "sourcegraph-frontend"}}}], "ports": [{"port": 3090}]},
            )
        ),
        {"EXD305"},
        "Deployment/sourcegraph/sourcegraph-frontend (TCP 3090)",
    ),
    "dns-pods-every-port": (
        "strict",
        add(
            lambda ns: egress_policy(
                "dns-all-ports",
                ns,
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ]
                },
            )
        ),
        {"EXD305"},
        "the DNS pods in kube-system (TCP 1-52",
    ),
    "named-port-to-internal-service": (
        "recommended",
        add(
            lambda ns: egress_policy(
                "named", ns, {"to": [{"podSelector": {"matchLabels": {"app": "pgsql"}}}], "ports": [{"port": "pgsql"}]}
            )
        ),
        {"EXD305"},
        "StatefulSet/sourcegraph/pgsql (TCP 5432)",
    ),
    "metadata-and-private-except-dropped": (
        "recommended",
        drop_metadata_except,
        {"EXD302", "EXD303"},
        "allowed by NetworkPolicy executor-dind-executors (egress[3])",
    ),
    "parent-overlay-labels-select-executors": (
        "recommended",
        parent_overlay_labels,
        {"EXD305", "EXD306", "EXD309"},
        "allowed by NetworkPolicy sourcegraph-prod (egress[0])",
    ),
    # --- ipBlock values as the API server stores them ---
    "ipv4-mapped-metadata-address": (
        "strict",
        add(lambda ns: egress_policy("mapped", ns, {"to": [{"ipBlock": {"cidr": "::ffff:169.254.169.254/128"}}]})),
        {"EXD302"},
        "169.254.169.254 (AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack instance metadata) on every port: "
        "allowed by NetworkPolicy mapped (egress[0])",
    ),
    "ipv4-mapped-private-range": (
        "recommended",
        add(lambda ns: egress_policy("mapped-vpc", ns, {"to": [{"ipBlock": {"cidr": "::ffff:10.0.0.0/104"}}]})),
        {"EXD303"},
        "private range 10.0.0.0/8 (10.0.0.0/8 on every port): allowed by NetworkPolicy mapped-vpc (egress[0])",
    ),
    "ipv4-mapped-everything": (
        "strict-plain-containers",
        add(lambda ns: egress_policy("mapped-all", ns, {"to": [{"ipBlock": {"cidr": "::ffff:0.0.0.0/96"}}]})),
        {"EXD302", "EXD303"},
        "168.63.129.16 (Azure WireServer) on every port: allowed by NetworkPolicy mapped-all (egress[0])",
    ),
    "leading-zero-octet-cidr": (
        "recommended",
        add(lambda ns: egress_policy("zeros", ns, {"to": [{"ipBlock": {"cidr": "010.0.0.0/8"}}]})),
        {"EXD302", "EXD303", "EXD307"},
        "NetworkPolicy zeros: spec.egress[0].to[0].ipBlock.cidr '010.0.0.0/8' has an IPv4 octet with a leading zero",
    ),
    "leading-zero-octet-in-our-except": (
        "strict",
        set_except("169.254.0.0/16", "169.254.000.0/16"),
        {"EXD302", "EXD303", "EXD307"},
        "NetworkPolicy executor-dind-executors: spec.egress[3].to[0].ipBlock.except[3] '169.254.000.0/16' has an "
        "IPv4 octet with a leading zero",
    ),
    "mapped-cidr-with-an-ipv4-except": (
        "recommended-plain-containers",
        add(
            lambda ns: egress_policy(
                "mapped-except",
                ns,
                {"to": [{"ipBlock": {"cidr": "::ffff:100.64.0.0/106", "except": ["100.100.100.200/32"]}}]},
            )
        ),
        # The API server compares prefix lengths as written (106 >= 32) and rejects it; the engines read both.
        {"EXD303", "EXD307"},
        "spec.egress[0].to[0].ipBlock.except[0] '100.100.100.200/32' must be a strict subset of the block's cidr",
    ),
    # --- named ports toward addresses: the name is resolved on the pod that owns the address ---
    "named-port-on-a-private-block": (
        "recommended",
        add(
            lambda ns: egress_policy(
                "to-db", ns, {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": "pgsql"}]}
            )
        ),
        {"EXD303"},
        "private range 10.0.0.0/8 (10.0.0.0/8 on TCP 5432): allowed by NetworkPolicy to-db (egress[0])",
    ),
    "named-port-redis-on-cgnat": (
        "strict",
        add(
            lambda ns: egress_policy(
                "to-cache", ns, {"to": [{"ipBlock": {"cidr": "100.64.0.0/10"}}], "ports": [{"port": "redis"}]}
            )
        ),
        {"EXD302", "EXD303"},
        "CGNAT range 100.64.0.0/10 (100.64.0.0/10 on TCP 6379)",
    ),
    "named-port-nobody-names": (
        "strict-runtimeclass",
        add(
            lambda ns: egress_policy(
                "to-any", ns, {"to": [{"ipBlock": {"cidr": "192.168.0.0/16"}}], "ports": [{"port": "memcached"}]}
            )
        ),
        {"EXD303"},
        "192.168.0.0/16 on TCP 1-65535",
    ),
    # --- policy APIs the audit does not model, and NetworkPolicy of another apiVersion ---
    "calico-kind-network-policy": (
        "recommended",
        add(foreign_policy("projectcalico.org/v3", "NetworkPolicy", {"selector": "all()", "types": ["Egress"]})),
        {"EXD308"},
        "NetworkPolicy/sourcegraph/open is a NetworkPolicy of projectcalico.org/v3, not networking.k8s.io/v1",
    ),
    "our-policy-relabelled": (
        "strict",
        relabel_our_policy("networking.k8s.io/v1beta1"),
        {"EXD308"},
        "NetworkPolicy/sourcegraph-executors/executor-dind-executors is a NetworkPolicy of networking.k8s.io/v1beta1",
    ),
    "cilium-network-policy": (
        "strict",
        add(foreign_policy("cilium.io/v2", "CiliumNetworkPolicy", {"endpointSelector": {}, "egress": [{}]})),
        {"EXD308"},
        "is a CiliumNetworkPolicy (cilium.io/v2): a policy API the audit does not model",
    ),
    "antrea-cluster-network-policy": (
        "recommended",
        add(foreign_policy("crd.antrea.io/v1beta1", "ClusterNetworkPolicy", {"priority": 1, "egress": []})),
        {"EXD308"},
        "is a ClusterNetworkPolicy (crd.antrea.io/v1beta1)",
    ),
    "admin-network-policy-allows-metadata": (
        "strict",
        add(admin_policy({"name": "imds", "action": "Allow", "to": [{"networks": ["169.254.169.254/32"]}]})),
        {"EXD302", "EXD309"},
        "allowed by AdminNetworkPolicy cluster-egress (egress[0])",
    ),
    "admin-network-policy-allows-every-pod": (
        "recommended",
        add(
            admin_policy(
                {"name": "pods", "action": "Allow", "to": [{"pods": {"namespaceSelector": {}, "podSelector": {}}}]}
            )
        ),
        {"EXD305", "EXD309"},
        "any pod in any other namespace (every port), any other pod in namespace kube-system (every port)",
    ),
    "admin-network-policy-allows-nodes-on-ssh": (
        "strict-plain-containers",
        add(
            admin_policy(
                {
                    "name": "nodes",
                    "action": "Allow",
                    "to": [{"nodes": {}}],
                    "ports": [{"portNumber": {"protocol": "TCP", "port": 22}}],
                }
            )
        ),
        {"EXD302", "EXD303", "EXD309"},
        "10.0.0.0/8 on TCP 22): allowed by AdminNetworkPolicy cluster-egress (egress[0])",
    ),
    "admin-network-policy-other-version": (
        "recommended",
        add(
            admin_policy(
                {"name": "x", "action": "Allow", "to": [{"namespaces": {}}]},
                api_version="policy.networking.k8s.io/v1alpha2",
            )
        ),
        {"EXD308"},
        "is a AdminNetworkPolicy (policy.networking.k8s.io/v1alpha2)",
    ),
    # --- selectors on labels the controllers add: at worst they match ---
    "policy-selects-by-pod-template-hash": (
        "recommended",
        add(lambda ns: egress_policy("by-hash", ns, {}, selector={"matchLabels": {"pod-template-hash": "5d8f7c9b4"}})),
        {"EXD302", "EXD303", "EXD305", "EXD309"},  # the registry's pods carry such labels too
        "allowed by NetworkPolicy by-hash, whose podSelector reads pod-template-hash, a label the controllers add "
        "(egress[0])",
    ),
    "policy-selects-by-controller-revision-hash-expression": (
        "strict",
        add(
            lambda ns: egress_policy(
                "by-revision",
                ns,
                {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
                selector={"matchExpressions": [{"key": "controller-revision-hash", "operator": "Exists"}]},
            )
        ),
        {"EXD303", "EXD309"},
        "by-revision, whose podSelector reads controller-revision-hash, a label the controllers add",
    ),
    "peer-selects-pods-by-pod-template-hash": (
        "recommended-plain-containers",
        add(
            lambda ns: egress_policy(
                "to-one-replicaset", ns, {"to": [{"podSelector": {"matchLabels": {"pod-template-hash": "7f9c"}}}]}
            )
        ),
        {"EXD305"},
        "any other pod in namespace sourcegraph (every port)",
    ),
    # --- a policy whose namespace is left to whoever applies it ---
    "network-policy-without-namespace": (
        "recommended",
        add(lambda ns: without_namespace(egress_policy("allow-all", ns, {}, selector={}))),
        {"EXD302", "EXD303", "EXD305", "EXD307", "EXD309"},
        "NetworkPolicy allow-all has no namespace",
    ),
    "network-policy-without-namespace-strict": (
        "strict",
        add(lambda ns: without_namespace(egress_policy("to-vpc", ns, {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}))),
        {"EXD303", "EXD307"},
        "whether it selects the executor pods in sourcegraph-executors cannot be known",
    ),
    # --- the registry jobs reach: its egress is theirs one hop away ---
    "registry-egress-policy-type-dropped": (
        "recommended",
        edit(
            lambda o: find(o, "NetworkPolicy", "executor-dind-registry")["spec"].update(
                policyTypes=["Ingress"], egress=[]
            )
        ),
        {"EXD309"},
        "no NetworkPolicy restricts egress of the registry that jobs reach",
    ),
    "registry-reaches-metadata": (
        "strict",
        edit(
            lambda o: find(o, "NetworkPolicy", "executor-dind-registry")["spec"]["egress"][1]["to"][0]["ipBlock"].pop(
                "except"
            )
        ),
        {"EXD309"},
        "the registry can reach the cloud metadata service 169.254.169.254",
    ),
    "registry-reaches-internal-pods": (
        "recommended-plain-containers",
        add(
            lambda ns: egress_policy(
                "registry-out",
                ns,
                {"to": ALL_PEERS},
                selector={"matchLabels": {"app.kubernetes.io/name": "executor-dind-registry"}},
            )
        ),
        {"EXD309"},
        "the registry can reach pods beyond DNS: any pod in any other namespace (every port)",
    ),
    # --- ingress ---
    "allow-all-ingress": (
        "recommended",
        add(lambda ns: policy("allow-all-in", ns, {"podSelector": {}, "ingress": [{}]})),
        {"EXD306"},
        "allowed by NetworkPolicy allow-all-in (ingress[0])",
    ),
    "ingress-from-every-namespace-strict": (
        "strict",
        add(lambda ns: policy("in-ns", ns, {"podSelector": {}, "ingress": [{"from": ALL_PEERS}]})),
        {"EXD306"},
        "any other pod in namespace sourcegraph (every port)",
    ),
    "metrics-open-to-an-ip-block": (
        "strict",
        add(
            lambda ns: policy(
                "metrics-lb",
                ns,
                {
                    "podSelector": EXECUTOR_SELECTOR,
                    "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 6060}]}],
                },
            )
        ),
        {"EXD306"},
        "0.0.0.0/0 (TCP 6060) can connect: allowed by NetworkPolicy metrics-lb (ingress[0])",
    ),
    "prometheus-label-in-another-namespace": (
        "strict",
        prometheus_elsewhere,
        {"EXD306"},
        "Deployment/tenant/prometheus (TCP 6060) can connect: allowed by NetworkPolicy prometheus-anywhere",
    ),
    # --- the node ---
    "host-network": ("recommended", set_pod(hostNetwork=True), {"EXD009"}, "spec.template.spec.hostNetwork"),
    "host-pid": ("strict", set_pod(hostPID=True), {"EXD009"}, "hostPID: true"),
    "host-ipc": ("strict", set_pod(hostIPC=True), {"EXD009"}, "hostIPC: true"),
    "host-port": (
        "strict",
        set_container("executor", ports=[{"name": "debug", "containerPort": 6060, "hostPort": 6060}]),
        {"EXD009"},
        "hostPort 6060",
    ),
    "host-path-docker-socket": (
        "strict",
        add_volume({"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}),
        {"EXD010"},
        "the node's container runtime socket (/var/run/docker.sock)",
    ),
    "host-path-containerd-directory": (
        "recommended",
        add_volume({"name": "run", "hostPath": {"path": "/run/containerd"}}),
        {"EXD010"},
        "(/run/containerd/containerd.sock)",
    ),
    "host-path-anything": (
        "recommended",
        add_volume({"name": "etc", "hostPath": {"path": "/etc"}}),
        {"EXD010"},
        "the node's /etc",
    ),
    "projected-service-account-token": (
        "strict",
        add_volume(
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}, "executor"
        ),
        {"EXD002"},
        "a projected service-account token",
    ),
    "automounted-token": ("recommended", set_pod(automountServiceAccountToken=True), {"EXD002"}, "executor-dind"),
    # --- privilege ---
    "privileged-executor": (
        "strict",
        edit(lambda o: container(o, "executor")["securityContext"].update(privileged=True)),
        {"EXD007"},
        "privileged",
    ),
    "escalating-executor": (
        "recommended",
        edit(lambda o: container(o, "executor")["securityContext"].update(allowPrivilegeEscalation=True)),
        {"EXD007"},
        "allowPrivilegeEscalation not false",
    ),
    "executor-with-capabilities": (
        "strict",
        edit(lambda o: container(o, "executor")["securityContext"]["capabilities"].update(add=["NET_ADMIN"])),
        {"EXD007"},
        "capabilities added (NET_ADMIN)",
    ),
    "executor-writable-root": (
        "recommended",
        edit(lambda o: container(o, "executor")["securityContext"].pop("readOnlyRootFilesystem")),
        {"EXD007"},
        "root filesystem writable",
    ),
    "strict-without-runtime-class": (
        "strict",
        edit(lambda o: pod(o).pop("runtimeClassName")),
        {"EXD202"},
        "runs with no RuntimeClass",
    ),
    "strict-with-runc": (
        "strict",
        set_pod(runtimeClassName="runc"),
        {"EXD202"},
        "RuntimeClass 'runc', which is not a sandbox",
    ),
    "strict-runtime-class-handler-runc": (
        "strict",
        add(runtime_class("runc")),
        {"EXD202"},
        "RuntimeClass 'gvisor', which is not a sandbox",
    ),
    # --- dockerd's listen address ---
    "dockerd-glued-short-flag": (
        "recommended",
        set_container("dind", command=["dockerd", "-Htcp://0.0.0.0:2375"]),
        {"EXD001"},
        "listens on tcp://0.0.0.0:2375",
    ),
    "dockerd-long-flag-separate": (
        "recommended",
        set_container("dind", command=["dockerd"], args=["--host", "tcp://0.0.0.0:2375"]),
        {"EXD001"},
        "listens on tcp://0.0.0.0:2375",
    ),
    "dockerd-in-sh-c": (
        "strict",
        set_container("dind", command=["/bin/sh", "-c", 'exec dockerd --host=tcp://0.0.0.0:2375 "$@"']),
        {"EXD001"},
        "listens on tcp://0.0.0.0:2375",
    ),
    "dockerd-in-sh-c-after-the-gvisor-script": (
        "strict",
        edit(
            lambda o: container(o, "dind")["command"].__setitem__(
                2, container(o, "dind")["command"][2].replace("exec dockerd", "exec dockerd -H tcp://:2375")
            )
        ),
        {"EXD001"},
        "listens on tcp://:2375",
    ),
    "dockerd-docker-host-env": (
        "recommended",
        set_container("dind", env=[{"name": "DOCKER_HOST", "value": "tcp://0.0.0.0:2375"}]),
        {"EXD001"},
        "listens on tcp://0.0.0.0:2375",
    ),
    "dockerd-daemon-json-hosts": (
        "recommended",
        daemon_json_hosts,
        {"EXD001"},
        "data.daemon.json: dockerd of Deployment/sourcegraph/executor-all listens on tcp://0.0.0.0:2375",
    ),
    "dind-image-entrypoint": (
        "recommended",
        edit(lambda o: container(o, "dind").pop("command")),
        {"EXD001"},
        "listens on tcp://0.0.0.0:2376",
    ),
    "renamed-containers-exposed": (
        "recommended",
        lambda o: renamed(o, exposed=True),
        {"EXD001"},
        "listens on tcp://0.0.0.0:2375",
    ),
}


def errors(items: list[Item]) -> tuple[set[str], list[str]]:
    results = [r for r in audit(items) if r.severity == "error"]
    return {r.rule for r in results}, [f"{r.field_path}: {r.message}" for r in results]


def items_of(objects: Objects) -> list[Item]:
    return [Item.new(obj) for obj in objects]


def assert_attack_fails(renders, case: tuple[str, Callable[[Objects], Objects], set[str], str]) -> None:
    """The mutated render of the profile fails with exactly the expected error rules, one naming the field."""
    profile, mutate, expected, named = case
    objects = mutate(copy.deepcopy(renders[profile].objects))
    rules, messages = errors(items_of(objects))
    assert rules == expected, messages
    assert any(named in message for message in messages), messages


@pytest.mark.parametrize("case", CORPUS)
def test_attack_fails_the_audit(renders, case):
    assert_attack_fails(renders, CORPUS[case])


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("profile", PROFILES)
def test_clean_renders_of_every_profile_pass(renders, profile):
    assert errors(items_of(renders[profile].objects)) == (set(), [])


def test_renamed_containers_are_still_executors(renders):
    clean = renders["strict"].objects
    findings = {(r.rule, r.severity) for r in audit(items_of(clean))}
    assert findings == {(r.rule, r.severity) for r in audit(items_of(renamed(copy.deepcopy(clean), exposed=False)))}


def test_a_policy_in_a_namespace_without_executors_does_not_select_them(renders):
    objects = [*renders["strict"].objects, egress_policy("allow-all", "sourcegraph", {}, selector={})]
    assert errors(items_of(objects)) == (set(), [])


def test_egress_rules_of_an_ingress_only_policy_do_not_count(renders):
    ingress_only = policy("odd", "sourcegraph", {"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}]})
    ingress_only["spec"]["ingress"] = [{"from": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]}]
    objects = [*renders["recommended"].objects, ingress_only]
    assert "EXD302" not in errors(items_of(objects))[0]


def test_garbage_workload_fields_are_findings_not_tracebacks(renders):
    objects = copy.deepcopy(renders["strict"].objects)
    spec = pod(objects)
    spec["volumes"].append("not-a-volume")
    spec["securityContext"] = "root please"
    container(objects, "executor").update(env=7, ports="many", securityContext=["x"], volumeMounts=5)
    container(objects, "dind")["command"] = ["sh", "-c", 'dockerd -H tcp://0.0.0.0:2375 "unterminated']
    objects.append({"kind": "NetworkPolicy", "metadata": {"name": "bad", "namespace": namespace_of(objects)}})
    objects.append(egress_policy("worse", namespace_of(objects), {"to": [{"ipBlock": {"cidr": "nonsense"}}]}))
    # Shapes a fuzzer found: kinds, names, metadata and port lists that are not what they should be.
    spec["initContainers"][0]["ports"] = [{"containerPort": 1, "name": ["x"]}, True]
    spec["volumes"][0]["name"] = ["x"]
    objects.append({"kind": {"a": 1}, "metadata": {"name": "x"}})
    objects.append({"kind": "Namespace", "metadata": "sourcegraph"})
    objects.append({"kind": "StatefulSet", "metadata": {"name": {"x": 1}}, "spec": {"template": {"spec": 5}}})
    rules, messages = errors(items_of(objects))
    # The policy without an apiVersion is no networking.k8s.io/v1 NetworkPolicy (EXD308); the unreadable cidr is
    # a located error (EXD307) and counts at its worst, every address (EXD302, EXD303).
    assert rules == {"EXD001", "EXD007", "EXD302", "EXD303", "EXD307", "EXD308"}
    assert (
        "spec.egress[0].to[0].ipBlock.cidr: NetworkPolicy worse: spec.egress[0].to[0].ipBlock.cidr 'nonsense' is not a "
        "CIDR: an address, '/', and a prefix length (e.g. 10.0.0.0/8 or fd00::/8) (policy-unreadable)"
    ) in messages


@pytest.mark.parametrize(
    "text",
    ["", "---\n", "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: 5\n", "{{{\n"],
    ids=["empty", "empty-documents", "items-5", "unparsable"],
)
def test_no_usable_input_exits_1(executor_dind, text):
    assert run([executor_dind, "audit"], input=text).returncode == 1


def test_the_function_dropped_exits_1_unless_allowed(executor_dind, base_stream):
    """What kustomize without --enable-exec leaves: the base alone."""
    assert run([executor_dind, "audit", str(base_stream)]).returncode == 1
    assert run([executor_dind, "audit", "--allow-none", str(base_stream)]).returncode == 0


def test_the_audit_of_the_full_upstream_render_is_fast(renders):
    """A bound against blow-ups, ~4x what it takes (0.12 s); the figures are `make bench`'s. CPU time, not wall
    time: another process's load on the machine does not count against it."""
    text = renders["strict"].path.read_text()
    started = time.process_time()
    findings = audit(read_stream(text))
    elapsed = time.process_time() - started
    assert findings and elapsed < 0.5, elapsed


def test_a_mutated_render_fails_the_command_line_too(executor_dind, renders, tmp_path):
    """The same verdict through the console script users put in CI: exit code 1."""
    path = tmp_path / "render.yaml"
    path.write_text(dump(CORPUS["host-network"][1](copy.deepcopy(renders["recommended"].objects))))
    assert run([executor_dind, "audit", str(path)]).returncode == 1


# What an input could say about itself to widen the audit's verdict, were it believed: the allowance annotations
# the function once wrote (and read back), and the labels that mark our own objects.
SELF_DECLARATIONS = {
    "annotations": {
        "executor-dind.dev/allowed-cidrs": "0.0.0.0/0,::/0",
        "executor-dind.dev/dns-pods": "sourcegraph/app=pgsql",
        "executor-dind.dev/node-local-dns": "169.254.169.254",
        "executor-dind.dev/sandbox-runtime-class": "runc",
    },
    "labels": {"app.kubernetes.io/part-of": "executor-dind", "app.kubernetes.io/managed-by": "executor-dind"},
}


def self_declared(objects: Objects) -> Objects:
    """Every object, and every pod template, carrying every allowance annotation and our labels."""
    for obj in objects:
        metas = [obj.setdefault("metadata", {})]
        template = obj.get("spec", {}).get("template") if isinstance(obj.get("spec"), dict) else None
        if isinstance(template, dict):
            metas.append(template.setdefault("metadata", {}))
        for meta in metas:
            for key, values in SELF_DECLARATIONS.items():
                meta[key] = {**(meta.get(key) or {}), **values}
    return objects


@pytest.mark.parametrize("case", CORPUS)
def test_no_annotation_or_label_of_the_input_widens_a_verdict(renders, case):
    profile, mutate, expected, _ = CORPUS[case]
    mutated = mutate(copy.deepcopy(renders[profile].objects))
    declared = self_declared(copy.deepcopy(mutated))
    assert errors(items_of(declared))[0] == expected
    # Positive control: the declarations did land on the executor's pod template.
    annotations = deployment(declared)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["executor-dind.dev/allowed-cidrs"] == "0.0.0.0/0,::/0"


def test_declarations_on_a_clean_render_change_nothing(renders):
    clean = renders["strict"].objects
    assert errors(items_of(self_declared(copy.deepcopy(clean)))) == errors(items_of(clean)) == (set(), [])
