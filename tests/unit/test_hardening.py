"""hardening: each control's apply(), the profiles (an explicit `enabled:` wins), and the registration table."""

from __future__ import annotations

import importlib
import ipaddress
import pkgutil
import re
from typing import Any

import pytest

from executor_dind import hardening, model
from executor_dind.hardening import gvisor, network_policy, node_pool, pod_security

from .helpers import context, dind, find, pod, spec


def objects_for(raw: dict[str, Any], namespace: str = "sourcegraph") -> list[dict[str, Any]]:
    return model.build(spec(**raw), context(namespace))


def apply(control, raw: dict[str, Any], namespace: str = "sourcegraph", sg: str = "sourcegraph"):
    spec_ = spec(**raw)
    ctx = context(namespace, sg)
    objects = model.build(spec_, ctx)
    results = control.apply(spec_, ctx, objects)
    return objects, results


# --- the table and profiles -------------------------------------------------------------------------------------


def test_every_control_module_is_registered_once():
    package = hardening.__path__
    modules = {name for _, name, _ in pkgutil.iter_modules(package)} - {"common", "baseline"}
    assert {module.__name__.rsplit(".", 1)[1] for module in hardening.CONTROLS.values()} == modules
    for module_id, module in hardening.CONTROLS.items():
        assert module_id == module.ID
        for attribute in ("PROFILES", "GUARANTEES", "REQUIRES", "RULES", "config", "apply"):
            assert hasattr(module, attribute), (module_id, attribute)


def test_rule_ids_are_unique_stable_and_prefixed():
    ids = [rule.id for module in (hardening.baseline, *hardening.CONTROLS.values()) for rule in module.RULES]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"EXD\d{3}", rule_id) for rule_id in ids)
    assert set(hardening.RULES) == set(ids)
    for module in pkgutil.iter_modules(hardening.__path__):
        imported = importlib.import_module(f"executor_dind.hardening.{module.name}")
        for rule in getattr(imported, "RULES", ()):
            assert hardening.RULES[rule.id] is rule
            assert rule.severity in ("error", "warning", "info")
            assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.slug)


def test_get_unknown_control_raises():
    assert hardening.get("gvisor") is gvisor
    with pytest.raises(ValueError, match="no such hardening control: 'selinux'"):
        hardening.get("selinux")


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("baseline", []),
        ("recommended", ["nodePool", "networkPolicy"]),
        ("strict", ["nodePool", "gvisor", "networkPolicy", "podSecurity"]),
    ],
)
def test_profiles(profile, expected):
    assert [m.ID for m in hardening.enabled(spec(hardening={"profile": profile}))] == expected


def test_explicit_enabled_wins_over_the_profile():
    off = spec(hardening={"profile": "strict", "gvisor": {"enabled": False}, "podSecurity": {"enabled": False}})
    assert [m.ID for m in hardening.enabled(off)] == ["nodePool", "networkPolicy"]
    on = spec(hardening={"profile": "baseline", "networkPolicy": {"enabled": True}})
    assert [m.ID for m in hardening.enabled(on)] == ["networkPolicy"]
    null = spec(hardening={"profile": "recommended", "nodePool": {"enabled": None}})
    assert [m.ID for m in hardening.enabled(null)] == ["nodePool", "networkPolicy"]


# --- node pool --------------------------------------------------------------------------------------------------


def test_node_pool_default_selects_the_tainted_nodes_and_spreads():
    objects, results = apply(node_pool, {})
    assert results == []
    deployment = find(objects, "Deployment", "executor-all")
    spec_ = pod(deployment)
    assert spec_["nodeSelector"] == {"executor-dind.dev/untrusted": "true"}
    assert spec_["tolerations"] == [
        {"key": "executor-dind.dev/untrusted", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    [spread] = spec_["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"  # never blocks scheduling or a drain
    assert spread["labelSelector"] == deployment["spec"]["selector"]


def test_node_pool_leaves_the_registry_off_the_pool():
    objects, _ = apply(node_pool, {})
    registry = pod(find(objects, "StatefulSet", model.REGISTRY))
    assert not {"nodeSelector", "tolerations", "affinity", "topologySpreadConstraints"} & set(registry)


def test_node_pool_custom_selector_taint_and_no_spread():
    objects, _ = apply(
        node_pool,
        {
            "hardening": {
                "nodePool": {
                    "nodeSelector": {"pool": "executors"},
                    "spread": False,
                    "taint": {"key": "dedicated", "value": "executors", "effect": "NoExecute"},
                }
            }
        },
    )
    spec_ = pod(find(objects, "Deployment", "executor-all"))
    assert spec_["nodeSelector"] == {"pool": "executors"}
    assert spec_["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "executors", "effect": "NoExecute"}
    ]
    assert "topologySpreadConstraints" not in spec_


def test_node_pool_applies_to_every_queue():
    objects, _ = apply(node_pool, {"queues": [{"name": "batches"}, {"name": "codeintel"}]})
    for name in ("executor-batches", "executor-codeintel"):
        assert "tolerations" in pod(find(objects, "Deployment", name))


# --- gVisor -----------------------------------------------------------------------------------------------------


def test_gvisor_sandboxes_dind_without_privileged():
    objects, results = apply(gvisor, {})
    assert results == []
    deployment = find(objects, "Deployment", "executor-all")
    assert pod(deployment)["runtimeClassName"] == "gvisor"
    container = dind(deployment)
    assert container["securityContext"]["privileged"] is False
    assert set(container["securityContext"]["capabilities"]["add"]) == set(gvisor.CAPABILITIES)
    assert {"SYS_ADMIN", "NET_ADMIN"} <= set(gvisor.CAPABILITIES)
    script = container["command"][-1]
    assert script.rstrip().endswith("exec dockerd --storage-driver=vfs --iptables=false --ip6tables=false")
    assert not [o for o in objects if o["kind"] == "RuntimeClass"]
    # /var/lib/docker stays a sized emptyDir
    volume = next(v for v in pod(deployment)["volumes"] if v["name"] == "docker-storage")
    assert volume["emptyDir"]["sizeLimit"] == "40Gi"


def test_gvisor_keeps_dockerd_on_loopback():
    objects, _ = apply(gvisor, {})
    # The flags added by gVisor mode never add a host; daemon.json keeps the loopback-only `hosts`.
    assert "--host" not in dind(find(objects, "Deployment", "executor-all"))["command"][-1]
    assert '"tcp://127.0.0.1:2375"' in find(objects, "ConfigMap", model.DOCKER_CONFIG)["data"]["daemon.json"]


def test_gvisor_optional_runtime_class():
    objects, _ = apply(gvisor, {"hardening": {"gvisor": {"runtimeClassName": "sandbox", "createRuntimeClass": True}}})
    runtime_class = find(objects, "RuntimeClass", "sandbox")
    assert runtime_class["handler"] == "runsc"
    assert "namespace" not in runtime_class["metadata"]  # cluster-scoped
    assert pod(find(objects, "Deployment", "executor-all"))["runtimeClassName"] == "sandbox"


@pytest.mark.parametrize("key", ["storage-driver", "iptables", "ip6tables"])
def test_gvisor_refuses_daemon_config_keys_it_passes_as_flags(key):
    _, results = apply(gvisor, {"docker": {"daemonConfig": {key: "x"}}})
    assert [(r.severity, r.field_path) for r in results] == [("error", "spec.docker.daemonConfig")]
    assert results[0].message.startswith(f"docker.daemonConfig sets {key}, which gVisor mode passes to dockerd")


# --- network policy ---------------------------------------------------------------------------------------------


def policy_of(raw: dict[str, Any] | None = None, namespace: str = "sourcegraph", sg: str = "sourcegraph"):
    objects, results = apply(network_policy, raw or {}, namespace, sg)
    assert results == []
    return find(objects, "NetworkPolicy", network_policy.POLICY_NAME), objects


def test_policy_selects_every_executor_pod_and_nothing_else():
    policy, objects = policy_of({"queues": [{"name": "batches"}, {"name": "codeintel"}]})
    assert policy["spec"]["podSelector"] == {"matchLabels": model.EXECUTOR_POD_SELECTOR}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    for name in ("executor-batches", "executor-codeintel"):
        labels = find(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert model.EXECUTOR_POD_SELECTOR.items() <= labels.items()


def test_dns_egress_goes_to_the_cluster_dns_pods_only():
    policy, _ = policy_of()
    dns = policy["spec"]["egress"][0]
    assert dns == {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    # no rule opens port 53 (or anything) to every destination
    for rule in policy["spec"]["egress"]:
        assert rule.get("to"), rule


def test_node_local_dns_opens_exactly_that_address():
    policy, _ = policy_of({"hardening": {"networkPolicy": {"dns": {"nodeLocalIP": "169.254.20.10"}}}})
    rules = [
        r for r in policy["spec"]["egress"] if any("ipBlock" in p and "except" not in p["ipBlock"] for p in r["to"])
    ]
    assert rules == [
        {
            "to": [{"ipBlock": {"cidr": "169.254.20.10/32"}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
    ]


def test_frontend_egress_uses_the_pod_port_in_sourcegraphs_namespace():
    policy, _ = policy_of(namespace="executors", sg="sourcegraph")
    frontend = policy["spec"]["egress"][1]
    assert frontend == {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "sourcegraph"}},
                "podSelector": {"matchLabels": {"app": "sourcegraph-frontend"}},
            }
        ],
        "ports": [{"protocol": "TCP", "port": "http"}],
    }


def test_same_namespace_peers_need_no_namespace_selector():
    policy, _ = policy_of()
    assert policy["spec"]["egress"][1]["to"] == [{"podSelector": {"matchLabels": {"app": "sourcegraph-frontend"}}}]
    assert policy["spec"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}],
            "ports": [{"protocol": "TCP", "port": 6060}],
        }
    ]


def test_registry_egress_targets_the_registry_pods_port():
    policy, _ = policy_of()
    assert policy["spec"]["egress"][2] == {
        "to": [{"podSelector": {"matchLabels": model.REGISTRY_POD_SELECTOR}}],
        "ports": [{"protocol": "TCP", "port": model.REGISTRY_PORT}],
    }


def test_internet_egress_excepts_every_denied_range():
    policy, _ = policy_of()
    internet = next(r for r in policy["spec"]["egress"] if any("except" in p.get("ipBlock", {}) for p in r["to"]))
    assert "ports" not in internet
    blocks = {p["ipBlock"]["cidr"]: set(p["ipBlock"]["except"]) for p in internet["to"]}
    assert set(blocks) == {"0.0.0.0/0", "::/0"}
    denied = set(spec().hardening.network_policy.denied_cidrs)
    assert blocks["0.0.0.0/0"] | blocks["::/0"] == denied
    for probe in (
        "169.254.169.254",
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "127.0.0.1",
        "fd00::1",
        "fe80::1",
    ):
        address = ipaddress.ip_address(probe)
        cidr = "0.0.0.0/0" if address.version == 4 else "::/0"
        assert any(address in ipaddress.ip_network(e) for e in blocks[cidr]), probe
    for public in ("8.8.8.8", "140.82.112.3", "2606:4700::1111"):
        address = ipaddress.ip_address(public)
        cidr = "0.0.0.0/0" if address.version == 4 else "::/0"
        assert not any(address in ipaddress.ip_network(e) for e in blocks[cidr]), public


def test_allowed_cidrs_add_a_rule_of_their_own():
    policy, _ = policy_of({"hardening": {"networkPolicy": {"allowedCIDRs": ["10.20.0.0/16", "fd12::/64"]}}})
    assert policy["spec"]["egress"][-1] == {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}, {"ipBlock": {"cidr": "fd12::/64"}}]
    }


def test_registry_policy_admits_only_executor_pods():
    _, objects = policy_of()
    registry = find(objects, "NetworkPolicy", network_policy.REGISTRY_POLICY_NAME)
    assert registry["spec"]["podSelector"] == {"matchLabels": model.REGISTRY_POD_SELECTOR}
    assert registry["spec"]["policyTypes"] == ["Ingress"]
    assert registry["spec"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": model.EXECUTOR_POD_SELECTOR}}],
            "ports": [{"protocol": "TCP", "port": model.REGISTRY_PORT}],
        }
    ]


def test_policies_live_beside_the_executors():
    _, objects = policy_of(namespace="executors")
    for obj in objects:
        if obj["kind"] == "NetworkPolicy":
            assert obj["metadata"]["namespace"] == "executors"
            assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "executor-dind"


# --- pod security -----------------------------------------------------------------------------------------------


def test_pod_security_adds_a_labelled_namespace_for_the_executors():
    objects, results = apply(pod_security, {"namespace": "executors"}, namespace="executors")
    assert results == []
    namespace = find(objects, "Namespace", "executors")
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "baseline"
    assert labels["pod-security.kubernetes.io/audit"] == "baseline"
    assert "namespace" not in namespace["metadata"]
    assert [o for o in objects if o["kind"] == "Namespace"] == [namespace]  # Sourcegraph's is never touched


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({}, "is not set"),
        ({"namespace": "sourcegraph"}, "is Sourcegraph's own namespace ('sourcegraph')"),
    ],
)
def test_pod_security_needs_a_namespace_of_their_own(raw, reason):
    objects, results = apply(pod_security, raw)
    assert [(r.severity, r.field_path) for r in results] == [("error", "spec.namespace")]
    assert results[0].message.startswith(
        f"hardening.podSecurity needs the executors in a namespace of their own, but spec.namespace {reason}"
    )
    assert not [o for o in objects if o["kind"] == "Namespace"]


def test_an_unknown_sourcegraph_namespace_never_becomes_an_empty_namespace_selector():
    objects, _ = apply(network_policy, {"namespace": "executors"}, namespace="executors", sg="")
    policy = find(objects, "NetworkPolicy", network_policy.POLICY_NAME)
    peers = [peer for rule in policy["spec"]["egress"] for peer in rule["to"]]
    peers += [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    names = [
        p["namespaceSelector"].get("matchLabels", {}).get("kubernetes.io/metadata.name")
        for p in peers
        if "namespaceSelector" in p
    ]
    assert "" not in names


def test_cluster_scoped_objects_say_they_need_a_cluster_admin():
    """Like deploy-sourcegraph-k8s's RBAC objects: a Namespace or RuntimeClass cannot be applied without one."""
    objects, _ = apply(gvisor, {"hardening": {"gvisor": {"createRuntimeClass": True}}})
    runtime_class = find(objects, "RuntimeClass", "gvisor")
    namespace = pod_security.namespace_object("sourcegraph-executors")
    for obj in (runtime_class, namespace):
        assert obj["metadata"]["labels"]["sourcegraph-resource-requires"] == "cluster-admin"
        assert obj["metadata"]["labels"]["deploy"] == "sourcegraph"
    namespaced = [o for o in objects if o["kind"] not in ("RuntimeClass", "Namespace")]
    assert {o["metadata"]["labels"]["sourcegraph-resource-requires"] for o in namespaced} == {"no-cluster-admin"}
