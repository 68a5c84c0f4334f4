"""`executor-dind audit` on the same renders the checkers see, on upstream's component, and on a render that a
broad allow policy defeats; where the audit judges NetworkPolicies, netpol-analyzer must agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checkers.conftest import HARDENED
from checkers.tools import analysed_dir, connectivity, dump
from conftest import run

LINE = re.compile(r"^(error|warning|info) (EXD\d{3}) (\S+) (.*?): (.*)$")
ALLOW_ALL_EGRESS = "allow-all-egress"


def audit(executor_dind: str, path: Path) -> tuple[int, list[tuple[str, str, str, str]]]:
    """Exit code and findings (severity, rule, object, message); every output line must be a finding."""
    result = run([executor_dind, "audit", str(path)])
    findings = []
    for line in result.stdout.splitlines():
        match = LINE.match(line)
        assert match, f"not a finding line: {line!r}"
        severity, rule, ref, _field, message = match.groups()
        findings.append((severity, rule, ref, message))
    return result.returncode, findings


def ids(findings, severity: str | None = None) -> set[str]:
    return {rule for sev, rule, _, _ in findings if severity in (None, sev)}


def allow_all_egress(namespace: str) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": ALLOW_ALL_EGRESS, "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
    }


def test_baseline_passes_with_warnings(executor_dind, renders):
    code, findings = audit(executor_dind, renders["baseline"].path)
    assert code == 0, findings
    assert not ids(findings, "error")
    # No network policy, no node pool, no sandbox, Sourcegraph's namespace: each said, as a warning.
    assert {"EXD101", "EXD201", "EXD301", "EXD304", "EXD401"} <= ids(findings, "warning")
    about = {ref for _, rule, ref, _ in findings if rule != "EXD005"}
    # The registry's only finding beside its image tag: nothing restricts ingress to it either.
    assert about == {"Deployment/sourcegraph/executor-all", "StatefulSet/sourcegraph/executor-dind-registry"}
    assert {rule for _, rule, ref, _ in findings if ref.startswith("StatefulSet/")} == {"EXD005", "EXD304"}


@pytest.mark.parametrize("profile", HARDENED)
def test_hardened_profiles_have_no_error_and_no_network_or_node_finding(executor_dind, renders, profile):
    code, findings = audit(executor_dind, renders[profile].path)
    assert code == 0, findings
    assert not ids(findings, "error"), findings
    assert not ids(findings) & {"EXD101", "EXD301", "EXD302", "EXD303", "EXD304"}, findings
    if profile.startswith("strict"):
        assert not ids(findings) & {"EXD201", "EXD401"}, findings
    else:
        assert {"EXD201", "EXD401"} <= ids(findings), "privileged without gVisor, in Sourcegraph's namespace"


def test_upstream_component_fails_the_audit(executor_dind, upstream_component):
    code, findings = audit(executor_dind, upstream_component)
    assert code == 1
    # dockerd on 0.0.0.0:2375 with the port declared, a mounted token, a frontend URL without its port, an
    # executor container with none of the restrictions the checkov skips assume.
    assert ids(findings, "error") == {"EXD001", "EXD002", "EXD004", "EXD007"}, findings
    assert {"EXD005", "EXD006", "EXD008", "EXD301"} <= ids(findings, "warning"), findings
    exposed = [message for _, rule, _, message in findings if rule == "EXD001"]
    assert any("0.0.0.0:2375" in message for message in exposed), exposed
    assert any("2375" in message and "port" in message for message in exposed), exposed


def test_a_broad_allow_policy_defeats_the_deny_and_both_say_so(executor_dind, netpolicy, renders, tmp_path):
    """Policies add up: one allow-all egress policy beside ours opens the metadata service again."""
    render = renders["recommended"]
    objects = [*render.objects, allow_all_egress(render.namespace)]
    path = tmp_path / "render.yaml"
    path.write_text(dump(objects))

    code, findings = audit(executor_dind, path)
    assert code == 1
    metadata = [message for sev, rule, _, message in findings if rule == "EXD302" and sev == "error"]
    assert metadata and all(ALLOW_ALL_EGRESS in message for message in metadata), findings
    assert "EXD303" in ids(findings, "error")

    defeated = connectivity(netpolicy, analysed_dir(tmp_path / "defeated", objects))
    assert defeated.allows(render.executor_peer, "169.254.169.254", 80)
    assert defeated.allows(render.executor_peer, "10.0.0.1", 443)
    intact = connectivity(netpolicy, analysed_dir(tmp_path / "intact", render.objects))
    assert not intact.allows(render.executor_peer, "169.254.169.254", 80)


def test_an_allow_policy_in_another_namespace_changes_nothing(executor_dind, netpolicy, renders, tmp_path):
    """strict: the executors have a namespace of their own, so Sourcegraph's policies do not apply to them."""
    render = renders["strict"]
    objects = [*render.objects, allow_all_egress("sourcegraph")]
    path = tmp_path / "render.yaml"
    path.write_text(dump(objects))

    code, findings = audit(executor_dind, path)
    assert code == 0, findings
    assert not ids(findings) & {"EXD302", "EXD303"}

    analysed = connectivity(netpolicy, analysed_dir(tmp_path / "analysed", objects))
    assert not analysed.allows(render.executor_peer, "169.254.169.254", 80)


def test_allowances_come_from_the_auditors_config(executor_dind, renders, checkers_tmp):
    """`audit --config CFG`: the config the render was made with says what is allowed beyond the defaults; the
    same render without it fails on exactly what the config allows."""
    namespace = renders["recommended"].namespace
    to_vpc = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "to-vpc", "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "executor"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]}],
        },
    }
    cilium = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "l7", "namespace": namespace},
        "spec": {"endpointSelector": {}},
    }
    render = checkers_tmp / "render-with-allowances.yaml"
    render.write_text(dump([*renders["recommended"].objects, to_vpc, cilium]))
    spec = {
        "hardening": {"profile": "recommended", "networkPolicy": {"allowedCIDRs": ["10.20.0.0/16"]}},
        "auditOutOfScope": [{"kind": "CiliumNetworkPolicy", "reason": "L7 rules only, reviewed by the platform team"}],
    }
    config = checkers_tmp / "auditor.yaml"
    config.write_text(
        dump(
            [
                {
                    "apiVersion": "executor-dind.dev/v1alpha1",
                    "kind": "ExecutorDind",
                    "metadata": {"name": "x"},
                    "spec": spec,
                }
            ]
        )
    )
    # Positive control: with the defaults, the same render fails on the CIDR and the Cilium policy.
    code, findings = audit(executor_dind, render)
    assert (code, ids(findings, "error")) == (1, {"EXD303", "EXD308"})
    allowed = run([executor_dind, "audit", "--config", str(config), str(render)])
    assert allowed.returncode == 0, allowed.stdout
    assert not [line for line in allowed.stdout.splitlines() if line.startswith("error")]
    assert (
        "info: out of the audit's scope by the auditor's config: CiliumNetworkPolicy (L7 rules only, reviewed by "
        "the platform team)"
    ) in allowed.stdout.splitlines()


def test_a_bad_auditor_config_is_a_located_error(executor_dind, renders, checkers_tmp):
    config = checkers_tmp / "bad-auditor.yaml"
    config.write_text(
        "apiVersion: executor-dind.dev/v1alpha1\nkind: ExecutorDind\nmetadata: {name: x}\n"
        "spec:\n  auditOutOfScope: [{kind: cilium}]\n"
    )
    result = run([executor_dind, "audit", "--config", str(config), str(renders["strict"].path)])
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"executor-dind: {config}: spec.auditOutOfScope[0].kind: 'cilium' is not a Kubernetes kind "
        "(e.g. CiliumNetworkPolicy)",
        f"executor-dind: {config}: spec.auditOutOfScope[0].reason: is required",
    ]
