"""components: every generated Component, applied with the jsonpatch library to the base objects, gives the
function's objects for the same spec; and the checked-in components/ are what the generator writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from executor_dind.components import COMPONENT_HEADER, SPEC_CHANGES, all_components, difference, write
from executor_dind.hardening.common import snake_case
from executor_dind.plan import plan
from executor_dind.spec import Spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = all_components()
BASE = {"privateRegistry": {"enabled": False}}


def applied(objects: list[dict[str, Any]], directory: str) -> list[dict[str, Any]]:
    """What kustomize does with a Component: add its resources, apply its JSON6902 patches to their targets (an
    object each, or none: a Deployment's patch where isolation-job made it a ScaledJob, and the reverse), and its
    `$patch: delete` patches."""
    files = COMPONENTS[directory]
    kustomization = yaml.safe_load(files["kustomization.yaml"])
    out = [*objects, *(yaml.safe_load(files[name]) for name in kustomization.get("resources", []))]
    for patch in kustomization.get("patches", []):
        body = yaml.safe_load(patch["patch"])
        if "target" not in patch:
            assert body.pop("$patch") == "delete", patch
            deleted = (body["kind"], body["metadata"]["name"])
            assert deleted in keyed(out), deleted
            out = [o for o in out if (o["kind"], o["metadata"]["name"]) != deleted]
            continue
        target = patch["target"]
        matched = [
            i for i, o in enumerate(out) if (o["kind"], o["metadata"]["name"]) == (target["kind"], target["name"])
        ]
        assert len(matched) <= 1, target
        for index in matched:
            out[index] = jsonpatch.apply_patch(out[index], body)
    return out


def objects_for(raw: dict[str, Any]) -> list[dict[str, Any]]:
    planned = plan(parse_spec(raw), [])
    assert not planned.failed, planned.results
    return list(planned.objects)


def keyed(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_the_base_component_is_the_baseline_objects():
    assert applied([], "executor-dind") == objects_for(BASE)


def test_the_registry_component_turns_the_registry_on():
    base = applied([], "executor-dind")
    assert keyed(applied(base, "executor-dind/private-registry")) == keyed(objects_for({}))


@pytest.mark.parametrize("control", ["nodePool", "gvisor", "networkPolicy", "podSecurity"])
def test_each_hardening_component_equals_the_function_with_that_control_on(control):
    directory = "hardening/" + snake_case(control).replace("_", "-")
    raw = {**BASE, "hardening": {control: {"enabled": True}}}
    for dotted, value in SPEC_CHANGES.get(control, {}).items():
        head, _, rest = dotted.partition("__")
        raw[head] = {rest: value} if rest else value
    expected = objects_for(raw)
    if control == "podSecurity":  # the function places every object in that namespace; the overlay does that
        expected = [o for o in expected if o["kind"] == "Namespace"] + objects_for(BASE)
    assert keyed(applied(applied([], "executor-dind"), directory)) == keyed(expected)


def test_components_compose_like_the_profiles():
    objects = applied(applied([], "executor-dind"), "executor-dind/private-registry")
    for directory in ("hardening/node-pool", "hardening/network-policy"):
        objects = applied(objects, directory)
    assert keyed(objects) == keyed(objects_for({"hardening": {"profile": "recommended"}}))


def test_difference_is_a_jsonpatch_diff_of_the_changed_objects_only():
    base = (
        {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1"}},
        {"kind": "Service", "metadata": {"name": "s"}},
    )
    variant = ({**base[0], "data": {"x": "2"}}, base[1], {"kind": "Service", "metadata": {"name": "new"}})
    result = difference(base, variant)
    assert result.added == (variant[2],)
    assert [(p.kind, p.name, p.ops) for p in result.patches] == [
        ("ConfigMap", "a", ({"op": "replace", "path": "/data/x", "value": "2"},))
    ]


def test_every_file_carries_the_generated_header():
    for directory, files in COMPONENTS.items():
        for name, text in files.items():
            assert text.startswith(COMPONENT_HEADER), (directory, name)


def test_checked_in_components_are_what_the_generator_writes(tmp_path):
    write(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.yaml"))
    checked_in = sorted(p.relative_to(ROOT / "components") for p in (ROOT / "components").rglob("*.yaml"))
    assert generated == checked_in
    for path in generated:
        assert (tmp_path / path).read_text() == (ROOT / "components" / path).read_text(), path


def test_the_generator_needs_no_input_and_fails_no_check():
    assert plan(Spec(), []).failed is False


JOB = {
    "queues": [
        {
            "name": "all",
            "queueNames": ["batches", "codeintel"],
            "isolation": "job",
            "autoscaling": {"maxReplicas": 10, "prometheus": "http://prometheus.sourcegraph.svc.cluster.local:30090"},
        }
    ]
}


def test_the_isolation_job_component_replaces_the_deployment_with_a_scaled_job():
    objects = applied(applied([], "executor-dind"), "executor-dind/isolation-job")
    assert objects == objects_for({**BASE, **JOB})
    assert ("Deployment", "executor-all") not in keyed(objects)


def composed(*directories: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for directory in directories:
        objects = applied(objects, directory)
    return objects


HARDENED = ("executor-dind/private-registry", "hardening/node-pool", "hardening/gvisor", "hardening/network-policy")


def test_every_component_after_isolation_job_patches_the_scaled_job_as_the_function_does():
    objects = composed("executor-dind", "executor-dind/isolation-job", *HARDENED)
    profile = {"nodePool": {"enabled": True}, "gvisor": {"enabled": True}, "networkPolicy": {"enabled": True}}
    expected = objects_for({**JOB, "hardening": profile})
    assert keyed(objects) == keyed(expected)
    pod = keyed(objects)[("ScaledJob", "executor-all")]["spec"]["jobTargetRef"]["template"]["spec"]
    assert (pod["runtimeClassName"], pod["nodeSelector"]) == ("gvisor", {"executor-dind.dev/untrusted": "true"})
    # Positive control: without isolation-job the same components give the function's shared Deployment.
    shared = composed("executor-dind", *HARDENED)
    assert keyed(shared) == keyed(objects_for({"hardening": profile}))
