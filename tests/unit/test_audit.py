"""audit: each rule on a passing and a failing input, asserting the exact (rule, resource, field path) findings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from executor_dind import function_config, naming
from executor_dind.audit import audit
from executor_dind.audit.allowances import DEFAULT, Allowances
from executor_dind.krm.item import Item
from executor_dind.krm.read import read_stream

from .helpers import config, dind, executor, find, frontend_service, pod, render, replace, secret

DEPLOYMENT = "Deployment/sourcegraph/executor-all"
STRICT_DEPLOYMENT = "Deployment/executors/executor-all"
DIND = "spec.template.spec.initContainers[0]"
EXECUTOR = "spec.template.spec.containers[0]"
REGISTRY = "StatefulSet/sourcegraph/executor-dind-registry"
REGISTRY_IMAGE = ("EXD005", REGISTRY, "spec.template.spec.containers[0].image")


def findings(items: list[Item], rule: str | None = None, auditor: Allowances = DEFAULT) -> list[tuple[str, str, str]]:
    return sorted(
        (r.rule, r.resource.describe(), r.field_path)
        for r in audit(items, allowances=auditor)
        if r.rule and rule in (None, r.rule)
    )


def baseline() -> list[Item]:
    return render(frontend_service("sourcegraph"), secret())


def recommended() -> list[Item]:
    return render(frontend_service("sourcegraph"), secret(), hardening={"profile": "recommended"})


def strict() -> list[Item]:
    return render(
        frontend_service("sourcegraph"),
        secret(namespace="executors"),
        namespace="executors",
        hardening={"profile": "strict"},
    )


def changed(rendered: list[Item], kind: str, name: str, edit) -> list[Item]:
    obj = find(rendered, kind, name)
    edit(obj)
    return replace(rendered, obj)


def edit_deployment(rendered: list[Item], edit) -> list[Item]:
    return changed(rendered, "Deployment", "executor-all", edit)


# --- the profiles as a whole ------------------------------------------------------------------------------------


def test_strict_output_only_warns_about_the_registry_image_tag():
    assert findings(strict()) == [
        ("EXD005", "StatefulSet/executors/executor-dind-registry", "spec.template.spec.containers[0].image")
    ]


def test_baseline_output_warns_about_what_only_hardening_fixes():
    assert findings(baseline()) == [
        REGISTRY_IMAGE,
        ("EXD101", DEPLOYMENT, "spec.template.spec.nodeSelector"),
        ("EXD201", DEPLOYMENT, f"{DIND}.securityContext.privileged"),
        ("EXD301", DEPLOYMENT, "spec.template.metadata.labels"),
        ("EXD304", DEPLOYMENT, "spec.template.metadata.labels"),
        ("EXD304", REGISTRY, "spec.template.metadata.labels"),
    ]
    assert {r.severity for r in audit(baseline()) if r.rule} == {"warning"}


def test_findings_carry_rule_tags_and_slugs():
    result = next(r for r in audit(baseline()) if r.rule == "EXD201")
    assert result.to_krm()["tags"] == {"rule": "EXD201"}
    assert result.message.endswith("(privileged-unsandboxed)")
    assert result.severity == "warning"


NO_EXECUTOR = (
    "no executor workload (a pod running the executor, dockerd or a dind image) found: the function may have been "
    "dropped (kustomize without --enable-exec?) (no-executor-workload)"
)


def test_no_executor_workload_is_an_error_unless_allowed():
    items = read_stream("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert [(r.severity, r.rule, r.message) for r in audit(items)] == [("error", "EXD000", NO_EXECUTOR)]
    assert [(r.severity, r.rule, r.message) for r in audit(items, allow_none=True)] == [("info", "", NO_EXECUTOR)]


def test_no_object_at_all_is_an_error_even_when_none_is_allowed():
    expected = [("error", "EXD000", "the input holds no objects (no-executor-workload)")]
    assert [(r.severity, r.rule, r.message) for r in audit([], allow_none=True)] == expected


def test_audit_is_read_only():
    rendered = baseline()
    before = [json.dumps(item.obj, sort_keys=True) for item in rendered]
    audit(rendered)
    assert [json.dumps(item.obj, sort_keys=True) for item in rendered] == before


# --- EXD001 dockerd-exposed -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["dockerd"],
        ["dockerd", "--host=tcp://127.0.0.1:2375"],
        ["dockerd", "-H", "unix:///var/run/docker.sock"],
        ["dockerd", "--host", "tcp://localhost:2375"],
    ],
)
def test_exd001_passes_on_loopback(command):
    items = edit_deployment(baseline(), lambda d: dind(d).update(command=command))
    assert findings(items, "EXD001") == []


@pytest.mark.parametrize("command", [["dockerd", "--host=tcp://0.0.0.0:2375"], ["dockerd", "-H", "tcp://:2375"]])
def test_exd001_fails_on_a_host_flag_beyond_loopback(command):
    items = edit_deployment(baseline(), lambda d: dind(d).update(command=command))
    assert findings(items, "EXD001") == [("EXD001", DEPLOYMENT, f"{DIND}.command")]
    assert [r.severity for r in audit(items) if r.rule == "EXD001"] == ["error"]


def test_exd001_fails_on_daemon_json_hosts_beyond_loopback():
    def edit(config_map: dict[str, Any]) -> None:
        config = json.loads(config_map["data"]["daemon.json"])
        config["hosts"] = ["tcp://0.0.0.0:2375"]
        config_map["data"]["daemon.json"] = json.dumps(config)

    items = changed(baseline(), "ConfigMap", naming.DOCKER_CONFIG, edit)
    # Reported on the workload that mounts the daemon.json, naming the ConfigMap it comes from.
    assert findings(items, "EXD001") == [
        ("EXD001", f"ConfigMap/sourcegraph/{naming.DOCKER_CONFIG}", "data.daemon.json")
    ]


def test_exd001_fails_on_a_declared_docker_port():
    items = edit_deployment(baseline(), lambda d: dind(d).update(ports=[{"containerPort": 2375}]))
    assert findings(items, "EXD001") == [("EXD001", DEPLOYMENT, f"{DIND}.ports[0]")]


def test_exd001_on_the_upstream_component(upstream_component):
    items = read_stream(upstream_component)
    assert findings(items, "EXD001") == [
        ("EXD001", "Deployment/sourcegraph/executor", "spec.template.spec.containers[1].command"),
        ("EXD001", "Deployment/sourcegraph/executor", "spec.template.spec.containers[1].ports[0]"),
    ]


# --- EXD002 token-mounted ---------------------------------------------------------------------------------------


def test_exd002_passes_when_the_pod_or_its_account_says_no():
    assert findings(baseline(), "EXD002") == []
    # the pod says nothing, its ServiceAccount says false
    items = edit_deployment(baseline(), lambda d: pod(d).pop("automountServiceAccountToken"))
    assert findings(items, "EXD002") == []


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: pod(d).update(automountServiceAccountToken=True),
        lambda d: (pod(d).pop("automountServiceAccountToken"), pod(d).pop("serviceAccountName")),
    ],
    ids=["explicit-true", "default-account"],
)
def test_exd002_fails_when_a_token_is_mounted(edit):
    items = edit_deployment(baseline(), edit)
    assert findings(items, "EXD002") == [("EXD002", DEPLOYMENT, "spec.template.spec.automountServiceAccountToken")]


def test_exd002_fails_when_the_account_allows_it():
    items = edit_deployment(baseline(), lambda d: pod(d).pop("automountServiceAccountToken"))
    items = changed(items, "ServiceAccount", "executor-dind", lambda sa: sa.pop("automountServiceAccountToken"))
    assert findings(items, "EXD002") == [("EXD002", DEPLOYMENT, "spec.template.spec.automountServiceAccountToken")]


# --- EXD003 literal-password ------------------------------------------------------------------------------------


def _set_env(deployment: dict[str, Any], name: str, value: str) -> None:
    variables = executor(deployment)["env"]
    index = next(i for i, v in enumerate(variables) if v["name"] == name)
    variables[index] = {"name": name, "value": value}


def test_exd003_passes_with_a_secret_reference():
    assert findings(baseline(), "EXD003") == []


def test_exd003_fails_on_a_literal_password():
    items = edit_deployment(baseline(), lambda d: _set_env(d, "EXECUTOR_FRONTEND_PASSWORD", "hunter2"))
    assert findings(items, "EXD003") == [("EXD003", DEPLOYMENT, f"{EXECUTOR}.env[1]")]
    assert [r.severity for r in audit(items) if r.rule == "EXD003"] == ["error"]


def test_exd003_finds_a_literal_password_in_an_env_from_config_map():
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "env", "namespace": "sourcegraph"},
        "data": {"EXECUTOR_FRONTEND_PASSWORD": "hunter2"},
    }

    def edit(deployment: dict[str, Any]) -> None:
        container = executor(deployment)
        container["env"] = [v for v in container["env"] if v["name"] != "EXECUTOR_FRONTEND_PASSWORD"]
        container["envFrom"] = [{"configMapRef": {"name": "env"}}]

    items = [*edit_deployment(baseline(), edit), Item.new(config_map)]
    # The finding points at the ConfigMap that holds the literal, and names the workload in its message.
    assert findings(items, "EXD003") == [("EXD003", "ConfigMap/sourcegraph/env", "data.EXECUTOR_FRONTEND_PASSWORD")]


# --- EXD004 frontend-url-no-port --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://sourcegraph-frontend:30080",
        "http://sourcegraph-frontend.sg.svc.cluster.local:30080",
        "https://sourcegraph.example.com",
    ],
)
def test_exd004_passes_with_a_port_or_an_external_url(url):
    items = edit_deployment(baseline(), lambda d: _set_env(d, "EXECUTOR_FRONTEND_URL", url))
    assert findings(items, "EXD004") == []


@pytest.mark.parametrize("url", ["http://sourcegraph-frontend", "http://sourcegraph-frontend.sg.svc.cluster.local/"])
def test_exd004_fails_without_a_port(url):
    items = edit_deployment(baseline(), lambda d: _set_env(d, "EXECUTOR_FRONTEND_URL", url))
    assert findings(items, "EXD004") == [("EXD004", DEPLOYMENT, f"{EXECUTOR}.env[0]")]


def test_exd004_on_the_upstream_component(upstream_component):
    assert findings(read_stream(upstream_component), "EXD004") == [
        ("EXD004", "ConfigMap/sourcegraph/executor-config", "data.EXECUTOR_FRONTEND_URL"),
    ]


# --- EXD005 unpinned-image --------------------------------------------------------------------------------------


def test_exd005_passes_with_digests():
    digest = "index.docker.io/library/registry:2.8.3@sha256:" + "0" * 64
    items = render(frontend_service("sourcegraph"), images={"registry": digest})
    assert findings(items, "EXD005") == []


def test_exd005_fails_on_tags_in_executor_and_registry_workloads():
    items = render(frontend_service("sourcegraph"), images={"dind": "docker:dind"})
    assert findings(items, "EXD005") == [
        ("EXD005", DEPLOYMENT, f"{DIND}.image"),
        # the prune sidecar runs the same dind image
        ("EXD005", DEPLOYMENT, "spec.template.spec.initContainers[1].image"),
        REGISTRY_IMAGE,
    ]


@pytest.mark.parametrize(
    ("digest", "why"),
    [
        (
            "0" * 12,  # shorter than any digest the reference grammar reads
            "is not an image reference ([registry/]repository[:tag][@sha256:<64 hex>], the repository lower-case; "
            "e.g. index.docker.io/sourcegraph/executor:6.2.1106@sha256:...)",
        ),
        ("0" * 40, ": a sha256 digest is exactly 64 lower-case hex digits"),
    ],
)
def test_exd005_fails_on_a_digest_that_is_no_digest(digest: str, why: str):
    rendered = baseline()
    deployment = find(rendered, "Deployment", "executor-all")
    image = "index.docker.io/sourcegraph/dind@sha256:" + digest
    dind(deployment)["image"] = image
    results = [
        r for r in audit(replace(rendered, deployment)) if r.rule == "EXD005" and r.field_path == f"{DIND}.image"
    ]
    shown = repr(image) if len(image) <= 40 else f"{image[:40]!r}... ({len(image)} characters)"
    assert [r.message for r in results] == [
        f"image is not pinned by digest: {shown}{' ' if why[0] != ':' else ''}{why} (unpinned-image)"
    ]
    dind(deployment)["image"] = image[: -len(digest)] + "0" * 64  # the positive control: a real sha256 digest
    assert [r for r in audit(replace(rendered, deployment)) if r.field_path == f"{DIND}.image"] == []


# --- EXD006 no-limits -------------------------------------------------------------------------------------------


def test_exd006_passes_with_limits():
    assert findings(baseline(), "EXD006") == []


def test_exd006_fails_per_container_without_cpu_or_memory_limit():
    def edit(deployment: dict[str, Any]) -> None:
        executor(deployment)["resources"]["limits"].pop("memory")
        dind(deployment).pop("resources")

    items = edit_deployment(baseline(), edit)
    assert findings(items, "EXD006") == [
        ("EXD006", DEPLOYMENT, f"{EXECUTOR}.resources.limits"),
        ("EXD006", DEPLOYMENT, f"{DIND}.resources.limits"),
    ]


# --- EXD007 executor-not-least-privilege ------------------------------------------------------------------------


def test_exd007_passes_on_our_executor():
    assert findings(baseline(), "EXD007") == []


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c.pop("securityContext"),
        lambda c: c["securityContext"].update(privileged=True),
        lambda c: c["securityContext"].pop("allowPrivilegeEscalation"),
        lambda c: c["securityContext"].pop("runAsNonRoot"),
        lambda c: c["securityContext"].update(capabilities={"drop": ["NET_RAW"]}),
    ],
    ids=["no-context", "privileged", "escalation", "root", "capabilities"],
)
def test_exd007_fails_on_each_missing_restriction(edit):
    items = edit_deployment(baseline(), lambda d: edit(executor(d)))
    assert findings(items, "EXD007") == [("EXD007", DEPLOYMENT, f"{EXECUTOR}.securityContext")]


def test_exd007_accepts_run_as_non_root_on_the_pod():
    def edit(deployment: dict[str, Any]) -> None:
        executor(deployment)["securityContext"].pop("runAsNonRoot")
        pod(deployment)["securityContext"]["runAsNonRoot"] = True

    assert findings(edit_deployment(baseline(), edit), "EXD007") == []


# --- EXD008 short-grace-period ----------------------------------------------------------------------------------


def test_exd008_passes_when_a_job_can_finish():
    assert findings(baseline(), "EXD008") == []
    items = render(frontend_service("sourcegraph"), maximumRuntimePerJob="10m", terminationGracePeriodSeconds=600)
    assert findings(items, "EXD008") == []


@pytest.mark.parametrize(
    "edit",
    [lambda d: pod(d).update(terminationGracePeriodSeconds=30), lambda d: pod(d).pop("terminationGracePeriodSeconds")],
    ids=["30s", "kubernetes-default"],
)
def test_exd008_fails_when_the_grace_period_is_shorter_than_a_job(edit):
    items = edit_deployment(baseline(), edit)
    assert findings(items, "EXD008") == [("EXD008", DEPLOYMENT, "spec.template.spec.terminationGracePeriodSeconds")]


# --- EXD011 unbounded-scaling, EXD012 scale-down-kills-jobs -----------------------------------------------------

SCALED = "ScaledObject/sourcegraph/executor-all"
AUTOSCALED = {"queues": [{"name": "all", "queueNames": ["batches", "codeintel"], "autoscaling": {"maxReplicas": 5}}]}


def autoscaled() -> list[Item]:
    return render(frontend_service("sourcegraph"), **AUTOSCALED)


def hpa(**spec: Any) -> dict[str, Any]:
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "executor-all"}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "executor-all", "namespace": "sourcegraph"},
        "spec": {"scaleTargetRef": target, **spec},
    }


def test_exd011_exd012_pass_on_our_autoscaled_render():
    assert findings(autoscaled(), "EXD011") == findings(autoscaled(), "EXD012") == []
    assert [f for f in findings(autoscaled()) if f[1] == SCALED] == []


def test_exd011_fails_on_a_scaled_object_without_a_maximum():
    items = changed(autoscaled(), "ScaledObject", "executor-all", lambda so: so["spec"].pop("maxReplicaCount"))
    assert findings(items, "EXD011") == [("EXD011", SCALED, "spec.maxReplicaCount")]
    (result,) = [r for r in audit(items) if r.rule == "EXD011"]
    assert result.message == (
        "ScaledObject/sourcegraph/executor-all scales Deployment/sourcegraph/executor-all with no maxReplicaCount "
        "(KEDA's default is 100): a long queue starts privileged pods without bound; set the most executors this "
        "queue may have (unbounded-scaling)"
    )


def test_scalers_of_other_workloads_or_namespaces_are_not_ours():
    other = hpa()
    other["metadata"]["namespace"] = "elsewhere"
    items = [
        *baseline(),
        Item.new(other),
        Item.new({**hpa(), "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "executor-all"}}}),
    ]
    assert findings(items, "EXD011") == []


def test_exd012_fails_when_a_scaler_meets_a_short_grace_period():
    items = edit_deployment(autoscaled(), lambda d: pod(d).update(terminationGracePeriodSeconds=60))
    assert findings(items, "EXD012") == [("EXD012", SCALED, "spec.scaleTargetRef")]
    (result,) = [r for r in audit(items) if r.rule == "EXD012"]
    assert result.message == (
        "ScaledObject/sourcegraph/executor-all scales Deployment/sourcegraph/executor-all down while its grace "
        "period (60s) is shorter than the maximum job runtime (30m): every scale-down kills running jobs; set "
        "terminationGracePeriodSeconds to at least the runtime (scale-down-kills-jobs)"
    )
    # a hand-made HPA over a fixed Deployment is judged the same (its maxReplicas is required: no EXD011)
    items = [
        *edit_deployment(baseline(), lambda d: pod(d).update(terminationGracePeriodSeconds=60)),
        Item.new(hpa(maxReplicas=3)),
    ]
    assert findings(items, "EXD012") == [
        ("EXD012", "HorizontalPodAutoscaler/sourcegraph/executor-all", "spec.scaleTargetRef")
    ]
    assert findings(items, "EXD011") == []


# --- EXD101 shared-nodes ----------------------------------------------------------------------------------------


def test_exd101_passes_on_the_node_pool():
    assert findings(recommended(), "EXD101") == []


def test_exd101_fails_without_a_node_selector():
    assert findings(baseline(), "EXD101") == [("EXD101", DEPLOYMENT, "spec.template.spec.nodeSelector")]


def test_exd101_fails_on_selected_nodes_without_a_taint():
    items = edit_deployment(recommended(), lambda d: pod(d).pop("tolerations"))
    assert findings(items, "EXD101") == [("EXD101", DEPLOYMENT, "spec.template.spec.tolerations")]


def test_exd101_accepts_required_node_affinity():
    def edit(deployment: dict[str, Any]) -> None:
        spec = pod(deployment)
        spec.pop("nodeSelector")
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["executors"]}]}
                    ]
                }
            }
        }

    assert findings(edit_deployment(recommended(), edit), "EXD101") == []


# --- EXD201 privileged-unsandboxed ------------------------------------------------------------------------------


def test_exd201_passes_under_gvisor():
    assert findings(strict(), "EXD201") == []


def test_exd201_fails_on_privileged_dind_without_a_runtime_class():
    assert findings(baseline(), "EXD201") == [("EXD201", DEPLOYMENT, f"{DIND}.securityContext.privileged")]
    plain = render(frontend_service("sourcegraph"), docker={"nativeSidecar": False})
    assert findings(plain, "EXD201") == [
        ("EXD201", DEPLOYMENT, "spec.template.spec.containers[1].securityContext.privileged")
    ]


# --- EXD301..EXD304 network policy ------------------------------------------------------------------------------


ALLOW_ALL_EGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "allow-all", "namespace": "sourcegraph"},
    "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
}
SOURCEGRAPH_POLICY = {  # deploy-sourcegraph-k8s components/network/network-policy
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "sourcegraph-prod", "namespace": "sourcegraph"},
    "spec": {
        "podSelector": {"matchLabels": {"deploy": "sourcegraph"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"name": "sourcegraph-prod"}}}]}],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"name": "sourcegraph-prod"}}}]}],
    },
}
LABELS = "spec.template.metadata.labels"


def test_network_rules_pass_with_our_policy():
    items = recommended()
    for rule in ("EXD301", "EXD302", "EXD303", "EXD304"):
        assert findings(items, rule) == [], rule


def test_exd301_exd304_fail_without_any_policy():
    items = baseline()
    assert findings(items, "EXD301") == [("EXD301", DEPLOYMENT, LABELS)]
    assert findings(items, "EXD304") == [("EXD304", DEPLOYMENT, LABELS), ("EXD304", REGISTRY, LABELS)]


def test_sourcegraphs_broad_policy_does_not_select_executor_pods():
    items = [*baseline(), Item.new(SOURCEGRAPH_POLICY)]
    assert findings(items, "EXD301") == [("EXD301", DEPLOYMENT, LABELS)]
    assert findings(items, "EXD302") == []


def test_the_union_of_policies_decides_a_broad_allow_defeats_the_deny():
    items = [*recommended(), Item.new(ALLOW_ALL_EGRESS)]
    assert findings(items, "EXD301") == []
    # one finding per metadata address (9) and per private range (10), and one for the pods it opens
    assert findings(items, "EXD302") == [("EXD302", DEPLOYMENT, LABELS)] * 9
    assert findings(items, "EXD303") == [("EXD303", DEPLOYMENT, LABELS)] * 10
    assert findings(items, "EXD305") == [("EXD305", DEPLOYMENT, LABELS)]
    messages = [r.message for r in audit(items) if r.rule in ("EXD302", "EXD303", "EXD305")]
    assert all("allowed by NetworkPolicy allow-all (egress[0])" in m for m in messages)
    assert {r.severity for r in audit(items) if r.rule in ("EXD302", "EXD303", "EXD305")} == {"error"}


def test_a_policy_in_another_namespace_does_not_count():
    other = {**ALLOW_ALL_EGRESS, "metadata": {"name": "allow-all", "namespace": "elsewhere"}}
    assert findings([*recommended(), Item.new(other)], "EXD302") == []


def test_exd302_fails_when_the_metadata_range_is_not_excepted():
    def edit(policy: dict[str, Any]) -> None:
        for rule in policy["spec"]["egress"]:
            for peer in rule["to"]:
                block = peer.get("ipBlock")
                if block and "except" in block:
                    block["except"] = [c for c in block["except"] if c != "169.254.0.0/16"]

    items = changed(recommended(), "NetworkPolicy", "executor-dind-executors", edit)
    # 169.254.169.254, GKE's 169.254.169.252, ECS's 169.254.170.2, EKS Pod Identity's 169.254.170.23, Tencent's
    # 169.254.0.23
    assert findings(items, "EXD302") == [("EXD302", DEPLOYMENT, LABELS)] * 5
    assert next(r.message for r in audit(items) if r.rule == "EXD302").startswith(
        "jobs can reach the cloud metadata service 169.254.169.254 (AWS, GCP, Azure, Oracle, DigitalOcean, "
        "OpenStack instance metadata) on every port: allowed by NetworkPolicy executor-dind-executors (egress[3])"
    )
    assert [r.message for r in audit(items) if r.rule == "EXD303"] == [
        "jobs can reach the link-local range 169.254.0.0/16 (169.254.0.0/16 on every port): allowed by "
        "NetworkPolicy executor-dind-executors (egress[3]) (private-reachable)"
    ]


def allowances(**hardening: Any) -> Allowances:
    """The auditor's allowances from the same hardening settings the render was made with."""
    return Allowances.of(function_config.parse_function_config(config(hardening=hardening)))


def test_exd303_accepts_the_auditors_allowed_cidrs_and_nothing_more():
    """allowedCIDRs come from the auditor's config, never from the render: the policy carries no declaration."""
    spec = {"profile": "recommended", "networkPolicy": {"allowedCIDRs": ["10.0.0.0/24", "192.168.7.0/24"]}}
    items = render(frontend_service("sourcegraph"), hardening=spec)
    policy = find(items, "NetworkPolicy", "executor-dind-executors")
    assert "annotations" not in policy["metadata"]
    auditor = allowances(**spec)
    assert auditor.allowed_cidrs == ("10.0.0.0/24", "192.168.7.0/24")
    assert findings(items, "EXD303", auditor) == []
    # Positive control: the same render judged with the default allowances opens two private ranges.
    assert [r.message for r in audit(items) if r.rule == "EXD303"] == [
        "jobs can reach the private range 10.0.0.0/8 (10.0.0.0/24 on every port): allowed by NetworkPolicy "
        "executor-dind-executors (egress[4]) (private-reachable)",
        "jobs can reach the private range 192.168.0.0/16 (192.168.7.0/24 on every port): allowed by NetworkPolicy "
        "executor-dind-executors (egress[4]) (private-reachable)",
    ]

    def widen(policy: dict[str, Any]) -> None:
        policy["spec"]["egress"][-1]["to"].append({"ipBlock": {"cidr": "10.0.1.0/24"}})

    widened = changed(items, "NetworkPolicy", "executor-dind-executors", widen)
    assert [r.message for r in audit(widened, allowances=auditor) if r.rule == "EXD303"] == [
        "jobs can reach the private range 10.0.0.0/8 outside the auditor's allowedCIDRs (10.0.1.0/24 on every "
        "port): allowed by NetworkPolicy executor-dind-executors (egress[4]) (private-reachable)"
    ]


def test_exd304_is_about_ingress_only():
    egress_only = {**ALLOW_ALL_EGRESS, "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": []}}
    items = [*baseline(), Item.new(egress_only)]
    assert findings(items, "EXD301") == []
    assert findings(items, "EXD304") == [("EXD304", DEPLOYMENT, LABELS), ("EXD304", REGISTRY, LABELS)]


# --- EXD401 shared-namespace ------------------------------------------------------------------------------------


FRONTEND_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "sourcegraph-frontend", "namespace": "sourcegraph", "labels": {"deploy": "sourcegraph"}},
    "spec": {"template": {"spec": {"containers": [{"name": "frontend", "image": "x"}]}}},
}


def test_exd401_fails_beside_sourcegraph_workloads():
    items = render(frontend_service("sourcegraph"), FRONTEND_DEPLOYMENT)
    assert findings(items, "EXD401") == [("EXD401", DEPLOYMENT, "metadata.namespace")]


def test_exd401_passes_in_a_namespace_of_their_own():
    items = render(
        frontend_service("sourcegraph"), FRONTEND_DEPLOYMENT, namespace="executors", hardening={"profile": "strict"}
    )
    assert findings(items, "EXD401") == []


def test_exd401_ignores_the_registries_and_other_executors():
    items = render(frontend_service("sourcegraph"), queues=[{"name": "batches"}, {"name": "codeintel"}])
    assert findings(items, "EXD401") == []


# --- the upstream component as a whole --------------------------------------------------------------------------


def test_upstream_component_findings(upstream_component):
    found = {(rule, resource) for rule, resource, _ in findings(read_stream(upstream_component))}
    executor_ref = "Deployment/sourcegraph/executor"
    for rule in ("EXD001", "EXD002", "EXD007", "EXD008", "EXD101", "EXD201", "EXD301", "EXD304"):
        assert (rule, executor_ref) in found, rule
    assert ("EXD004", "ConfigMap/sourcegraph/executor-config") in found  # where the URL without a port is
    assert ("EXD005", "Deployment/sourcegraph/private-docker-registry") in found
    assert ("EXD003", executor_ref) not in found  # upstream reads the password from a Secret


def test_the_auditors_dns_pods_and_node_local_dns_are_not_holes():
    dns = {"namespace": "dns", "podLabels": {"app": "coredns"}, "nodeLocalIP": "169.254.20.10"}
    hardening = {"profile": "recommended", "networkPolicy": {"dns": dns}}
    items = render(frontend_service("sourcegraph"), hardening=hardening)
    assert "annotations" not in find(items, "NetworkPolicy", "executor-dind-executors")["metadata"]
    assert [r for r in audit(items, allowances=allowances(**hardening)) if r.severity == "error"] == []
    # Judged with the default allowances, the NodeLocal DNSCache address is a link-local hole, and the pods the
    # policies let through on port 53 (app=coredns in namespace dns, which the input does not show) are pods the
    # auditor did not name as DNS: holes for the executors and for the registry.
    coredns = (
        "a pod the input does not show in namespace dns (podSelector app=coredns: no pod the input shows there "
        "carries it; read as matching) (TCP 53, UDP 53)"
    )
    assert [r.message for r in audit(items) if r.severity == "error"] == [
        "jobs can reach the link-local range 169.254.0.0/16 (169.254.20.10/32 on TCP 53, UDP 53): allowed by "
        "NetworkPolicy executor-dind-executors (egress[1]) (private-reachable)",
        "jobs can reach pods beyond the frontend's HTTP port, DNS and the registry: "
        f"{coredns}: allowed by NetworkPolicy executor-dind-executors (egress[0]) (internal-reachable)",
        "the registry can reach the link-local range 169.254.0.0/16 (169.254.20.10/32 on TCP 53, UDP 53): allowed "
        "by NetworkPolicy executor-dind-registry (egress[1]) (registry-egress-open)",
        f"the registry can reach pods beyond DNS: {coredns}: allowed by NetworkPolicy executor-dind-registry "
        "(egress[0]) (registry-egress-open)",
    ]


def test_items_of_other_kinds_are_never_constructed():
    """The audit picks workloads by the kind in the node: a ConfigMap's object is never built (and the
    self-audit builds no object it does not judge)."""
    untouched = read_stream("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {a: x}\n")
    items = [*baseline(), *untouched]
    assert findings(items) == findings(baseline())
    assert untouched[0]._obj is None


# --- EXD013 bad-password, EXD014 password-not-rendered ----------------------------------------------------------

PASSWORD_REF = f"{EXECUTOR}.env[1].valueFrom.secretKeyRef"


@pytest.mark.parametrize(
    "password, problem",
    [
        (
            naming.PASSWORD_PLACEHOLDER,
            "still holds the placeholder `executor-dind init` wrote (in executor-password.txt)",
        ),
        ("our-shared-secret", "is the example of deploy-sourcegraph-k8s's template (public)"),
        (" \n", "is empty"),
    ],
)
def test_exd013_fails_on_a_password_that_is_none_and_passes_a_real_one(password, problem):
    rendered = baseline()
    assert findings(rendered, "EXD013") == []
    items = replace(rendered, secret(password=password))
    assert findings(items, "EXD013") == [("EXD013", "Secret/sourcegraph/executor-secret", "data.password")]
    (result,) = [r for r in audit(items) if r.rule == "EXD013"]
    assert (result.severity, result.message) == (
        "error",
        f"the password of {DEPLOYMENT} (Secret 'executor-secret', key 'password') {problem}: put the value of "
        "executors.accessToken from the site configuration there (bad-password)",
    )


@pytest.mark.parametrize(
    "fields",
    [{"data": {"password": "not base64!"}}, {"data": {"password": "%%%"}, "stringData": {"password": "a-real-token"}}],
    ids=["data", "data-beside-string-data"],
)
def test_exd013_fails_on_a_password_that_is_not_valid_base64(fields):
    items = replace(baseline(), {**secret(), **fields})
    (result,) = [r for r in audit(items) if r.rule == "EXD013"]
    assert (result.severity, result.field_path, result.message) == (
        "error",
        "data.password",
        f"the password of {DEPLOYMENT} (Secret 'executor-secret', key 'password') is not valid base64 (the API "
        "server refuses the Secret): put the value of executors.accessToken from the site configuration there "
        "(bad-password)",
    )
    # Control: stringData alone (valid) passes.
    assert findings(replace(baseline(), {**secret(), "stringData": {"password": "a-real-token"}}), "EXD013") == []


def test_exd013_fails_on_a_secret_without_the_key():
    items = replace(baseline(), {**secret(), "data": {"token": "dG9rZW4="}})
    (result,) = [r for r in audit(items) if r.rule == "EXD013"]
    assert "key 'password') is missing (the Secret has no such key; the kubelet cannot start the executor)" in (
        result.message
    )


def test_exd014_warns_when_the_render_does_not_hold_the_secret():
    rendered = baseline()
    assert findings(rendered, "EXD014") == []
    items = [item for item in rendered if item.kind != "Secret"]
    assert findings(items, "EXD014") == [("EXD014", DEPLOYMENT, PASSWORD_REF)]
    (result,) = [r for r in audit(items) if r.rule == "EXD014"]
    assert (result.severity, result.message) == (
        "warning",
        f"the password Secret 'executor-secret' of {DEPLOYMENT} is not in the render, so its value is not checked: "
        "make sure it exists beside the executors with the value of executors.accessToken (kubectl -n sourcegraph "
        "get secret executor-secret), or generate it in the overlay "
        "(password-not-rendered)",
    )


# --- EXD015 prometheus-elsewhere --------------------------------------------------------------------------------


def prometheus_service(namespace: str) -> dict[str, Any]:
    meta = {"name": "prometheus", "namespace": namespace}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"ports": [{"port": 30090}]}}


def with_address(address: str) -> list[Item]:
    def edit(scaled: dict[str, Any]) -> None:
        scaled["spec"]["triggers"][0]["metadata"]["serverAddress"] = address

    return changed(
        [*autoscaled(), Item.new(prometheus_service("ns-sourcegraph"))], "ScaledObject", "executor-all", edit
    )


def test_exd015_passes_when_keda_asks_the_renders_prometheus():
    assert findings(with_address("http://prometheus.ns-sourcegraph.svc.cluster.local:30090"), "EXD015") == []
    # No Prometheus in the render (an external one): nothing to compare with.
    assert findings(autoscaled(), "EXD015") == []


@pytest.mark.parametrize(
    "address",
    [
        "http://prometheus.sourcegraph.svc.cluster.local:30090",
        "http://prometheus:30090",
        "http://prometheus.ns-sourcegraph.svc.cluster.local:9090",
        "http://prometheus.ns-sourcegraph.svc.cluster.local:" + "3" * 5000,  # no internal error: out of range
    ],
    ids=lambda address: address[:60],
)
def test_exd015_fails_when_keda_asks_another_address(address):
    items = with_address(address)
    assert findings(items, "EXD015") == [("EXD015", SCALED, "spec.triggers[0].metadata.serverAddress")]
    (result,) = [r for r in audit(items) if r.rule == "EXD015"]
    assert (result.severity, result.message) == (
        "error",
        f"{SCALED} asks Prometheus at {address}, but the render's Prometheus is at "
        "prometheus.ns-sourcegraph.svc.cluster.local:30090: KEDA would scale on errors; point serverAddress there "
        "(with the plain autoscaling component, the replacement in docs/autoscaling.md) (prometheus-elsewhere)",
    )


def test_prometheus_anywhere_is_expected_when_the_frontend_service_has_no_namespace():
    """A frontend Service without a namespace lands wherever it is applied, so the render lets Prometheus pods in
    from every namespace (`namespaceSelector: {}`), and the audit expects them there: the render passes its own
    audit. The control: with the frontend in `sg`, the same policy opened to every namespace lets in Prometheus
    pods of namespaces the input does not show, and EXD306 names them."""
    strict_anywhere = render(
        frontend_service(None),
        secret(namespace="executors"),
        namespace="executors",
        frontend={"url": "http://sourcegraph-frontend.sg.svc.cluster.local:30080"},
        hardening={"profile": "strict"},
    )
    policy = find(strict_anywhere, "NetworkPolicy", "executor-dind-executors")
    assert policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"] == {}
    assert findings(strict_anywhere, "EXD306") == []

    def every_namespace(obj: dict[str, Any]) -> None:
        obj["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {}

    opened = changed(strict(), "NetworkPolicy", "executor-dind-executors", every_namespace)
    assert findings(opened, "EXD306") == [
        ("EXD306", "Deployment/executors/executor-all", "spec.template.metadata.labels")
    ]
