"""checkov: the skip annotations the executor Deployment carries, one key per check."""

from __future__ import annotations

import re
from typing import Any

import pytest

from executor_dind import naming
from executor_dind.checkov import CHECKOV_SKIPS, PLAIN_CONTAINER_SKIPS, checkov_skip_key, skip_annotations

from .helpers import dind, executor, find, frontend_service, pod, render, secret


def test_one_annotation_per_check_with_the_check_id_before_the_reason():
    assert checkov_skip_key("CKV_K8S_16") == "checkov.io/skip16"
    assert skip_annotations({"CKV_K8S_16": "why"}) == {"checkov.io/skip16": "CKV_K8S_16=why"}


def test_no_reason_holds_an_equals_sign():
    for reason in (*CHECKOV_SKIPS.values(), *PLAIN_CONTAINER_SKIPS.values()):
        assert "=" not in reason
    with pytest.raises(AssertionError):
        skip_annotations({"CKV_K8S_16": "a=b"})


# --- checkov skip reasons: each claim true for the render it sits on ----------------------------------------------


def _security(container: dict[str, Any]) -> dict[str, Any]:
    return container.get("securityContext") or {}


def _daemon_hosts(objects: list[Any]) -> list[str]:
    import json

    return json.loads(find(objects, "ConfigMap", naming.DOCKER_CONFIG)["data"]["daemon.json"])["hosts"]


# A claim a skip reason makes about its render, and how to check it on that render (deployment, all objects).
SKIP_CLAIMS = {
    "privileged is set on the dind container only": lambda d, o: (
        _security(dind(d)).get("privileged") is True and not _security(executor(d)).get("privileged")
    ),
    "a privileged container": lambda d, o: _security(dind(d)).get("privileged") is True,
    "dockerd bound to 127.0.0.1": lambda d, o: (
        _daemon_hosts(o) == ["tcp://127.0.0.1:2375"] and not any("host" in str(a) for a in dind(d).get("command", []))
    ),
    "no service-account token": lambda d, o: pod(d)["automountServiceAccountToken"] is False,
    "executor container unprivileged": lambda d, o: (
        not _security(executor(d)).get("privileged") and _security(executor(d))["allowPrivilegeEscalation"] is False
    ),
    "the executor sets allowPrivilegeEscalation false": lambda d, o: (
        _security(executor(d))["allowPrivilegeEscalation"] is False
    ),
    "the executor root filesystem is read-only": lambda d, o: _security(executor(d))["readOnlyRootFilesystem"],
    "the executor drops ALL": lambda d, o: _security(executor(d))["capabilities"] == {"drop": ["ALL"]},
    "the executor sets runAsNonRoot": lambda d, o: _security(executor(d))["runAsNonRoot"] is True,
    "the executor sets seccompProfile RuntimeDefault": lambda d, o: (
        _security(executor(d))["seccompProfile"] == {"type": "RuntimeDefault"}
    ),
    "the executor runs as uid 100": lambda d, o: _security(executor(d))["runAsUser"] == 100,
    "no capabilities, no privilege escalation": lambda d, o: (
        _security(executor(d))["capabilities"] == {"drop": ["ALL"]}
        and _security(executor(d))["allowPrivilegeEscalation"] is False
    ),
    "it comes from a Secret by secretKeyRef": lambda d, o: (
        "secretKeyRef" in str(next(v for v in executor(d)["env"] if v["name"] == "EXECUTOR_FRONTEND_PASSWORD"))
    ),
    "dind runs dockerd as root": lambda d, o: "runAsNonRoot" not in _security(dind(d)),
    "the pod runs in the gVisor sandbox": lambda d, o: pod(d).get("runtimeClassName") == "gvisor",
    "under gVisor": lambda d, o: pod(d).get("runtimeClassName") == "gvisor",
    "gVisor implements them": lambda d, o: pod(d).get("runtimeClassName") == "gvisor",
    "it is a capability of the sandbox's user-space kernel": lambda d, o: pod(d).get("runtimeClassName") == "gvisor",
    "gVisor's user-space kernel serves them": lambda d, o: pod(d).get("runtimeClassName") == "gvisor",
    "dockerd needs this explicit set": lambda d, o: "add" in _security(dind(d)).get("capabilities", {}),
}
# Words that claim a mitigation; each must sit inside a checked claim.
MITIGATION_WORDS = (
    "nodePool",
    "node pool",
    "networkPolicy",
    "NetworkPolicy",
    "metadata",
    "private",
    "gVisor",
    "gvisor",
    "sandbox",
    "isolat",
    "block",
)
SKIP_PROFILES = {
    "baseline": {},
    "recommended": {"hardening": {"profile": "recommended"}},
    "recommended-plain": {"hardening": {"profile": "recommended"}, "docker": {"nativeSidecar": False}},
    "strict": {"namespace": "executors", "hardening": {"profile": "strict"}},
    "strict-plain": {"namespace": "executors", "hardening": {"profile": "strict"}, "docker": {"nativeSidecar": False}},
}


@pytest.mark.parametrize("profile", SKIP_PROFILES)
def test_checkov_skip_reasons_claim_only_what_their_render_has(profile):
    objects = render(frontend_service(), secret(), **SKIP_PROFILES[profile])
    deployment = find(objects, "Deployment", "executor-all")
    reasons = {
        key: value.split("=", 1)[1]
        for key, value in deployment["metadata"]["annotations"].items()
        if key.startswith("checkov.io/skip")
    }
    assert reasons, "the executor Deployment carries checkov skips"
    checked = 0
    for key, reason in reasons.items():
        rest = reason
        for claim, holds in SKIP_CLAIMS.items():
            if claim in reason:
                assert holds(deployment, objects), (profile, key, claim)
                rest = rest.replace(claim, "")
                checked += 1
        assert not [word for word in MITIGATION_WORDS if word in rest], (profile, key, rest)
        for ref in re.findall(r"CKV_K8S_(\d+)", reason):
            assert f"checkov.io/skip{ref}" in reasons, (profile, key, f"refers to CKV_K8S_{ref}, not skipped here")
    assert checked >= len(reasons), (profile, checked)
