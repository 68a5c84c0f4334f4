"""checkov on the objects executor-dind injects (the render of the upstream base minus the base's own
objects).

Every check that fails on our objects is either fixed in the model or carried as a `checkov.io/skip<N>`
annotation whose reason a reviewer can check; these tests pin the exact failing and skipped sets per profile,
prove that every skip hides a real failure (no stale skip), and compare with upstream's component.
"""

from __future__ import annotations

import copy

import pytest

from checkers.conftest import PROFILES
from checkers.tools import checkov, dump, load, without_skips
from conftest import run

EXECUTOR = "Deployment/executor-all"
REGISTRY = "StatefulSet/executor-dind-registry"
# The registry image has no digest we could verify (config.DEFAULT_IMAGES): an exact tag, and the audit warns
# (EXD005). Baseline has no NetworkPolicy by definition: hardening.networkPolicy is what fixes CKV2_K8S_6.
EXPECTED_FAILING = {
    "baseline": {
        ("CKV_K8S_43", REGISTRY),
        ("CKV2_K8S_6", "Pod/executor-all"),
        ("CKV2_K8S_6", "Pod/executor-dind-registry"),
    },
    "recommended": {("CKV_K8S_43", REGISTRY)},
    "strict": {("CKV_K8S_43", REGISTRY)},
    "strict-runtimeclass": {("CKV_K8S_43", REGISTRY)},
    "recommended-plain-containers": {("CKV_K8S_43", REGISTRY)},
    "strict-plain-containers": {("CKV_K8S_43", REGISTRY)},
}
PRIVILEGED_SKIPS = {f"CKV_K8S_{n}" for n in (16, 20, 22, 28, 35, 37, 40)}
# gVisor: no privileged (16 passes), drop ALL + an explicit add list (28 and 37 pass; 25 and 39 fail instead).
GVISOR_SKIPS = {"CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_25", "CKV_K8S_35", "CKV_K8S_39", "CKV_K8S_40"}
EXPECTED_SKIPPED = {
    "baseline": PRIVILEGED_SKIPS,
    "recommended": PRIVILEGED_SKIPS,
    "strict": GVISOR_SKIPS,
    "strict-runtimeclass": GVISOR_SKIPS,
    # checkov reads only `containers` for CKV_K8S_23 (runAsNonRoot) and CKV_K8S_31 (seccomp): they fail on
    # dind as a plain container, and pass on it as a native sidecar only because checkov does not look there.
    "recommended-plain-containers": PRIVILEGED_SKIPS | {"CKV_K8S_23", "CKV_K8S_31"},
    "strict-plain-containers": GVISOR_SKIPS | {"CKV_K8S_23", "CKV_K8S_31"},
}
# The checks the executor container fails on its own: the rest of the skips are for dind only.
EXECUTOR_CONTAINER_FAILS = {"CKV_K8S_35", "CKV_K8S_40"}
# baseline-measurements.md §4: upstream components/executors/dind + private-docker-registry, 19 failing IDs.
UPSTREAM_KUSTOMIZE_FAILING = {
    "CKV2_K8S_6",
    *(f"CKV_K8S_{n}" for n in (10, 11, 12, 13, 15, 16, 20, 22, 23, 28, 29, 30, 31, 35, 37, 38, 40, 43)),
}


def test_profiles_are_covered():
    assert set(EXPECTED_FAILING) == set(EXPECTED_SKIPPED) == set(PROFILES)


@pytest.mark.parametrize("profile", PROFILES)
def test_failing_checks_are_exactly_the_known_ones(checkov_runs, profile):
    assert set(checkov_runs.rendered[profile].failed) == EXPECTED_FAILING[profile]


@pytest.mark.parametrize("profile", PROFILES)
def test_skipped_checks_are_exactly_the_documented_ones(checkov_runs, profile):
    skipped = set(checkov_runs.rendered[profile].skipped)
    assert skipped == {(check, EXECUTOR) for check in EXPECTED_SKIPPED[profile]}


@pytest.mark.parametrize("profile", PROFILES)
def test_every_skip_hides_a_real_failure_and_nothing_else(checkov_runs, profile):
    """Without the annotations checkov fails exactly the skipped checks on top: no stale skip."""
    rendered, unskipped = checkov_runs.rendered[profile], checkov_runs.unskipped[profile]
    assert set(unskipped.failed) == set(rendered.failed) | set(rendered.skipped)
    assert not unskipped.skipped


@pytest.mark.parametrize("profile", PROFILES)
def test_every_skip_carries_a_reason_checkov_records_in_full(checkov_runs, renders, profile):
    report = checkov_runs.rendered[profile]
    annotations = {
        name: value
        for obj in renders[profile].ours
        for name, value in ((obj.get("metadata") or {}).get("annotations") or {}).items()
        if name.startswith("checkov.io/skip")
    }
    assert len(annotations) == len(report.skipped)
    for name, value in annotations.items():
        check, _, reason = value.partition("=")
        assert name == "checkov.io/skip" + check.rsplit("_", 1)[1], (name, check)
        assert "=" not in reason, "checkov splits the annotation value on '='"
        # The reason a reviewer reads: what needs it and why, not a placeholder.
        assert len(reason.split()) >= 15, reason
        assert "dind" in reason or "executor" in reason, reason
        assert report.skipped[(check, EXECUTOR)] == reason


def test_the_executor_container_itself_fails_only_two_of_the_skipped_checks(checkov_bin, renders, tmp_path):
    """The reasons say 'dind only (the executor ...)' for the rest: checkov on the executor container
    alone."""
    for profile in ("baseline", "strict", "strict-plain-containers"):
        deployment = copy.deepcopy(renders[profile].executor())
        pod = deployment["spec"]["template"]["spec"]
        pod.pop("initContainers", None)
        pod["containers"] = [c for c in pod["containers"] if c["name"] == "executor"]
        path = tmp_path / f"executor-only-{profile}.yaml"
        path.write_text(dump(without_skips([deployment])))
        report = checkov(checkov_bin, path)
        failed = {check for check, resource in report.failed if resource == EXECUTOR}
        assert failed == EXECUTOR_CONTAINER_FAILS, profile
        assert failed < EXPECTED_SKIPPED[profile]


def test_a_digest_pinned_registry_image_leaves_no_failing_check(
    executor_dind, checkov_bin, base_stream, renders, tmp_path
):
    """CKV_K8S_43 is the default registry image alone: users who pin one get a clean scan."""
    config = tmp_path / "config.yaml"
    image = "index.docker.io/library/registry:2.8.3@sha256:" + "0" * 64
    spec = {**PROFILES["recommended"], "images": {"registry": image}}
    document = {"apiVersion": "executor-dind.dev/v1alpha1", "kind": "ExecutorDind", "spec": spec}
    config.write_text(dump([document]))
    result = run([executor_dind, "render", "--config", str(config), str(base_stream)])
    assert result.returncode == 0, result.stderr
    ours_names = {(o["kind"], o["metadata"]["name"]) for o in renders["recommended"].ours}
    ours = [o for o in load(result.stdout) if (o["kind"], o["metadata"]["name"]) in ours_names]
    assert len(ours) == len(ours_names)
    path = tmp_path / "ours.yaml"
    path.write_text(dump(ours))
    report = checkov(checkov_bin, path)
    assert not report.failed, report.failed
    assert len(report.skipped) == len(PRIVILEGED_SKIPS)


def test_upstream_component_fails_the_19_measured_checks(checkov_runs):
    """The comparison in docs/evidence-checkers.md: upstream's kustomize component, measured the same way."""
    assert checkov_runs.upstream.failed_ids == UPSTREAM_KUSTOMIZE_FAILING


@pytest.mark.parametrize("profile", PROFILES)
def test_ours_fail_only_checks_upstream_fails_too(checkov_runs, profile):
    failing = checkov_runs.rendered[profile].failed_ids
    assert failing < checkov_runs.upstream.failed_ids
