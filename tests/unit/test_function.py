"""function: upsert (idempotent, conflicts, pruning), replaceUpstream, orchestrator annotations, kpt paths."""

from __future__ import annotations

from typing import Any

import pytest

from executor_dind import function, naming
from executor_dind.function import run, upsert
from executor_dind.krm.item import Item, ResourceList
from executor_dind.krm.read import read_resource_list, read_stream
from executor_dind.krm.write import write_resource_list
from executor_dind.results import ResourceRef

from .conftest import UPSTREAM_NAMES
from .helpers import DEFAULT_OBJECTS, config, find, frontend_service, items, secret

OWNED = {"app.kubernetes.io/part-of": "executor-dind"}


def names(out: list[Item]) -> list[tuple[str, str]]:
    return [(item.kind, item.name) for item in out]


def through_stdio(out: list[Item], function_config: dict[str, Any]) -> list[Item]:
    """What the next run reads: the output written as a ResourceList and read back."""
    text = write_resource_list(ResourceList("config.kubernetes.io/v1", out, function_config))
    return read_resource_list(text).items


def infos(outcome: function.Outcome) -> list[str]:
    return [r.message for r in outcome.results if r.severity == "info"]


# --- the happy path ---------------------------------------------------------------------------------------------


def test_objects_are_added_after_the_input_which_stays_as_it_was():
    given = items(frontend_service("sourcegraph"), secret())
    outcome = run(given, config())
    assert not outcome.failed
    assert outcome.items[:2] == given  # the same Item objects, text untouched
    assert [item.text for item in outcome.items[:2]] == [item.text for item in given]
    assert names(outcome.items[2:]) == DEFAULT_OBJECTS
    [summary] = infos(outcome)
    assert summary.startswith(
        "executor-dind: 6 objects for queue(s) all in namespace sourcegraph (6 added); "
        "frontend http://sourcegraph-frontend:30080; hardening profile baseline"
    )


def test_a_second_run_over_its_own_output_changes_nothing():
    fc = config(
        namespace="executors", hardening={"profile": "strict"}, queues=[{"name": "batches"}, {"name": "codeintel"}]
    )
    first = run(items(frontend_service("sourcegraph")), fc, file_paths=True)
    assert not first.failed
    reread = through_stdio(first.items, fc)
    second = run(reread, fc, file_paths=True)
    assert not second.failed
    assert second.items == reread  # nothing replaced, added or removed: every item keeps its text
    assert all(item.text is not None for item in second.items)
    assert "(10 unchanged)" in infos(second)[0]


def test_a_config_change_updates_only_what_changes():
    fc = config()
    first = through_stdio(run(items(frontend_service("sourcegraph")), fc).items, fc)
    changed_config = config(docker={"mtu": 1400})
    second = run(first, changed_config)
    kept = [item for item in second.items if item.text is not None]
    assert names(kept) == [
        ("Service", "sourcegraph-frontend"),
        ("ServiceAccount", "executor-dind"),
        ("Service", "executor-dind-metrics"),
        ("StatefulSet", "executor-dind-registry"),
        ("Service", "executor-dind-registry"),
    ]
    assert names(second.items) == names(first)  # updated in place, order kept
    assert '"mtu": 1400' in find(second.items, "ConfigMap", naming.DOCKER_CONFIG)["data"]["daemon.json"]
    assert "(2 updated, 4 unchanged)" in infos(second)[0]


def test_idempotent_upsert_by_group_kind_namespace_name():
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n", "labels": OWNED}}]
    once, results, counts = upsert([], objects)
    assert (results, counts) == ([], {"added": 1, "updated": 0, "unchanged": 0, "removed": 0})
    twice, results, counts = upsert(once, objects)
    assert (results, counts) == ([], {"added": 0, "updated": 0, "unchanged": 1, "removed": 0})
    assert twice == once
    # same name in another namespace, or another kind: a different object
    other = [{**objects[0], "metadata": {**objects[0]["metadata"], "namespace": "m"}}]
    _, _, counts = upsert(once, objects + other)
    assert counts["added"] == 1


# --- conflicts and pruning --------------------------------------------------------------------------------------


def test_an_object_not_owned_with_the_same_identity_is_a_conflict_never_overwritten():
    mine = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "executor-dind", "namespace": "sourcegraph"},
    }
    given = items(frontend_service("sourcegraph"), secret(), mine)
    outcome = run(given, config())
    assert outcome.failed
    assert outcome.items == given
    errors = [r for r in outcome.results if r.severity == "error"]
    assert [(r.resource, r.field_path) for r in errors] == [
        (ResourceRef("v1", "ServiceAccount", "executor-dind", "sourcegraph"), "")
    ]
    assert "is in the input but not managed by executor-dind" in errors[0].message


def test_stale_owned_objects_are_pruned():
    fc = config(queues=[{"name": "batches"}, {"name": "codeintel"}])
    first = through_stdio(run(items(frontend_service("sourcegraph")), fc).items, fc)
    second = run(first, config(queues=[{"name": "batches"}], privateRegistry={"enabled": False}))
    assert not second.failed
    assert names(second.items) == [
        ("Service", "sourcegraph-frontend"),
        ("ServiceAccount", "executor-dind"),
        ("ConfigMap", "executor-dind-docker"),
        ("Service", "executor-dind-metrics"),
        ("Deployment", "executor-batches"),
    ]
    assert "removed" in infos(second)[0]


def test_a_control_turned_off_removes_its_objects():
    fc = config(hardening={"profile": "recommended"})
    first = through_stdio(run(items(frontend_service("sourcegraph")), fc).items, fc)
    assert ("NetworkPolicy", "executor-dind-executors") in names(first)
    second = run(first, config())
    assert [n for n in names(second.items) if n[0] == "NetworkPolicy"] == []
    assert "nodeSelector" not in find(second.items, "Deployment", "executor-all")["spec"]["template"]["spec"]


def test_unowned_objects_that_look_like_ours_are_never_pruned():
    lookalike = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "executor-dind-old", "namespace": "sourcegraph", "labels": {"app": "executor"}},
    }
    outcome = run(items(frontend_service("sourcegraph"), lookalike), config())
    assert ("ConfigMap", "executor-dind-old") in names(outcome.items)


def test_a_users_object_labelled_part_of_executor_dind_is_kept():
    # A user labels the executors' password Secret as part of the app: a common, documented label.
    users_secret = {**secret(), "metadata": {**secret()["metadata"], "labels": OWNED}}
    outcome = run(items(frontend_service("sourcegraph"), users_secret), config())
    assert ("Secret", "executor-secret") in names(outcome.items)


# --- upstream objects -------------------------------------------------------------------------------------------


def test_upstream_objects_are_a_conflict_with_the_fix(upstream_component):
    given = [*items(frontend_service("sourcegraph")), *read_stream(upstream_component)]
    outcome = run(given, config())
    assert outcome.failed
    assert outcome.items == given
    [error] = [r for r in outcome.results if r.severity == "error"]
    assert error.message.startswith("the input already has the upstream components/executors/dind objects (")
    assert "set spec.replaceUpstream: true" in error.message
    assert (error.resource.kind, error.resource.name) in UPSTREAM_NAMES


def test_replace_upstream_removes_them_and_injects_ours(upstream_component):
    given = [*items(frontend_service("sourcegraph")), *read_stream(upstream_component)]
    outcome = run(given, config(replaceUpstream=True))
    assert not outcome.failed
    assert names(outcome.items) == [("Service", "sourcegraph-frontend"), *DEFAULT_OBJECTS]
    assert "removed 7 upstream executor objects" in infos(outcome)[0]
    # and the next run is a no-op
    fc = config(replaceUpstream=True)
    reread = through_stdio(outcome.items, fc)
    assert run(reread, fc).items == reread


def test_replace_upstream_without_an_overlay_namespace_removes_everything(kubectl, upstream, tmp_path):
    from .conftest import build_upstream

    given = [*items(frontend_service(None)), *read_stream(build_upstream(kubectl, upstream, tmp_path, ""))]
    outcome = run(given, config(replaceUpstream=True))
    assert not outcome.failed
    assert [n for n in names(outcome.items) if n[1] == "private-docker-registry"] == []


# --- orchestrator annotations -----------------------------------------------------------------------------------


KPT_ANNOTATIONS = {
    "config.kubernetes.io/index": "0",
    "config.kubernetes.io/path": "custom/docker.yaml",
    "internal.config.kubernetes.io/index": "0",
    "internal.config.kubernetes.io/path": "custom/docker.yaml",
    "internal.config.kubernetes.io/id": "7",
    "config.k8s.io/id": "7",
    "internal.config.kubernetes.io/seqindent": "compact",
    "kustomize.config.k8s.io/id": "kind: ConfigMap\nname: executor-dind-docker\n",
}


def test_a_replaced_item_keeps_the_orchestrators_annotations():
    stale = find(run(items(frontend_service("sourcegraph")), config()).items, "ConfigMap", naming.DOCKER_CONFIG)
    stale["data"]["daemon.json"] = "{}\n"
    stale["metadata"]["annotations"] = dict(KPT_ANNOTATIONS)
    outcome = run(items(frontend_service("sourcegraph"), stale), config())
    updated = find(outcome.items, "ConfigMap", naming.DOCKER_CONFIG)
    assert updated["metadata"]["annotations"] == KPT_ANNOTATIONS
    assert '"tcp://127.0.0.1:2375"' in updated["data"]["daemon.json"]


def test_orchestrator_annotations_alone_do_not_make_an_item_changed():
    fresh = find(run(items(frontend_service("sourcegraph")), config()).items, "ConfigMap", naming.DOCKER_CONFIG)
    fresh["metadata"]["annotations"] = dict(KPT_ANNOTATIONS)
    given = items(frontend_service("sourcegraph"), fresh)
    outcome = run(given, config())
    assert outcome.items[1] is given[1]


# --- paths of new items in KRM mode -----------------------------------------------------------------------------


def _with_path(obj: dict[str, Any], path: str) -> dict[str, Any]:
    meta = {
        **obj["metadata"],
        "annotations": {"config.kubernetes.io/path": path, "internal.config.kubernetes.io/path": path},
    }
    return {**obj, "metadata": meta}


def test_new_items_get_a_file_each_under_executor_dind_in_krm_mode():
    # kpt writes each new item to its path; kustomize strips the annotations.
    outcome = run(items(_with_path(frontend_service("sourcegraph"), "frontend.yaml")), config(), file_paths=True)
    paths = {}
    for item in outcome.items[1:]:
        annotations = item.annotations
        assert annotations["internal.config.kubernetes.io/index"] == "0"
        assert annotations["config.kubernetes.io/index"] == "0"
        assert annotations["config.kubernetes.io/path"] == annotations["internal.config.kubernetes.io/path"]
        paths[(item.kind, item.name)] = annotations["internal.config.kubernetes.io/path"]
    assert paths == {
        ("ServiceAccount", "executor-dind"): "executor-dind/serviceaccount-executor-dind.yaml",
        ("ConfigMap", "executor-dind-docker"): "executor-dind/configmap-executor-dind-docker.yaml",
        ("Service", "executor-dind-metrics"): "executor-dind/service-executor-dind-metrics.yaml",
        ("Deployment", "executor-all"): "executor-dind/deployment-executor-all.yaml",
        ("StatefulSet", "executor-dind-registry"): "executor-dind/statefulset-executor-dind-registry.yaml",
        ("Service", "executor-dind-registry"): "executor-dind/service-executor-dind-registry.yaml",
    }
    assert len(set(paths.values())) == len(paths)
    assert outcome.items[0].annotation("config.kubernetes.io/path") == "frontend.yaml"


def test_no_path_annotations_in_streams():
    # legacy exec plugin and standalone render: the output is a plain YAML stream
    outcome = run(items(frontend_service("sourcegraph")), config())
    for item in outcome.items[1:]:
        assert not any(key.startswith(("config.kubernetes.io/", "internal.")) for key in item.annotations), item


def test_generated_objects_never_carry_local_config_or_the_config_annotations():
    fc = config()
    fc["metadata"]["annotations"] = {
        "config.kubernetes.io/local-config": "true",
        "config.kubernetes.io/function": "exec: {path: executor-dind}",
    }
    outcome = run(items(frontend_service("sourcegraph")), fc, file_paths=True)
    for item in outcome.items[1:]:
        assert "config.kubernetes.io/local-config" not in item.annotations
        assert "config.kubernetes.io/function" not in item.annotations


# --- errors leave the input untouched ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function_config", "path"),
    [
        (config(queus=[]), "spec.queus"),
        (config(namespace="executors"), "spec.frontend.url"),
        (config(hardening={"podSecurity": {"enabled": True}}), "spec.namespace"),
    ],
    ids=["config", "no-frontend-url", "control"],
)
def test_on_any_error_the_items_come_back_unchanged(function_config, path):
    given = items(_with_path(frontend_service(None), "frontend.yaml"))
    outcome = run(given, function_config)
    assert outcome.failed
    assert outcome.items == given
    assert [r.field_path for r in outcome.results if r.severity == "error"] == [path]


def test_config_errors_point_at_the_function_config():
    outcome = run(items(frontend_service("sourcegraph")), config(queus=[]))
    [error] = outcome.results
    assert error.resource == ResourceRef("executor-dind.dev/v1alpha1", "ExecutorDind", "executors", "")
    assert (error.field_path, error.message) == (
        "spec.queus",
        "invalid functionConfig: spec.queus: unknown field (did you mean 'queues'?)",
    )


# --- the self-audit -----------------------------------------------------------------------------------------------

OPEN_POLICIES = {
    # a config whose policy the audit would reject is refused at its own field, before anything is built
    "allowedCIDRs: [0.0.0.0/0]": ({"allowedCIDRs": ["0.0.0.0/0"]}, {"spec.hardening.networkPolicy.allowedCIDRs[0]"}),
    "deniedCIDRs: []": ({"deniedCIDRs": []}, {"spec.hardening.networkPolicy.deniedCIDRs"}),
    "nodeLocalIP on the metadata address": (
        {"dns": {"nodeLocalIP": "169.254.169.254"}},
        {"spec.hardening.networkPolicy.dns.nodeLocalIP"},
    ),
}


@pytest.mark.parametrize("case", OPEN_POLICIES)
def test_a_config_whose_render_its_audit_rejects_is_refused_at_its_own_field(case):
    policy, fields = OPEN_POLICIES[case]
    given = items(frontend_service("sourcegraph"), secret())
    outcome = run(given, config(hardening={"profile": "recommended", "networkPolicy": policy}))
    assert outcome.failed
    assert outcome.items == given
    errors = [r for r in outcome.results if r.severity == "error"]
    assert {r.field_path for r in errors} == fields
    assert all(r.message.startswith(f"invalid functionConfig: {r.field_path}: ") for r in errors)
    assert all(r.rule == "" and r.resource.kind == "ExecutorDind" for r in errors)


# An input policy that opens every egress of the executors' namespace: only the self-audit, the last line, sees it.
OPEN_EGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "allow-all-egress", "namespace": "sourcegraph"},
    "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
}


def test_a_render_its_own_audit_rejects_is_never_emitted():
    given = items(frontend_service("sourcegraph"), secret(), OPEN_EGRESS)
    outcome = run(given, config(hardening={"profile": "recommended"}))
    assert outcome.failed
    assert outcome.items == given
    errors = [r for r in outcome.results if r.severity == "error"]
    # the allow-all policy selects the registry too: jobs reach what it reaches (EXD309)
    assert {r.rule for r in errors} == {"EXD302", "EXD303", "EXD305", "EXD309"}
    assert all(r.message.startswith("the render fails its own audit: ") for r in errors)
    # the positive control: without that policy the same config renders
    assert not run(
        items(frontend_service("sourcegraph"), secret()), config(hardening={"profile": "recommended"})
    ).failed


def test_an_audit_exception_turns_that_rules_errors_into_warnings_that_give_the_reason():
    # The registry's policy reaches the same address: its rule (EXD309) is accepted on its own.
    exceptions = [
        {"rule": "EXD302", "reason": "bare metal, no metadata service"},
        {"rule": "EXD309", "reason": "bare metal, no metadata service"},
    ]
    raw = {
        "hardening": {
            "profile": "recommended",
            "networkPolicy": OPEN_POLICIES["nodeLocalIP on the metadata address"][0],
        }
    }
    outcome = run(items(frontend_service("sourcegraph"), secret()), config(**raw, auditExceptions=exceptions))
    assert not outcome.failed
    accepted = [r for r in outcome.results if r.rule == "EXD302"]
    assert [r.severity for r in accepted] == ["warning"]
    assert accepted[0].message.startswith("accepted by spec.auditExceptions (bare metal, no metadata service): ")
    assert [r.severity for r in outcome.results if r.rule == "EXD309"] == ["warning"]


def test_an_exception_for_one_rule_leaves_the_others_errors():
    exceptions = [{"rule": "EXD302", "reason": "bare metal, no metadata service"}]
    given = items(frontend_service("sourcegraph"), secret(), OPEN_EGRESS)
    outcome = run(given, config(hardening={"profile": "recommended"}, auditExceptions=exceptions))
    assert outcome.failed
    assert {r.rule for r in outcome.results if r.severity == "error"} == {"EXD303", "EXD305", "EXD309"}
    assert {r.rule for r in outcome.results if r.severity == "warning"} >= {"EXD302"}


@pytest.mark.parametrize("profile", ["baseline", "recommended", "strict"])
def test_every_profile_passes_its_own_audit(profile):
    raw = {"namespace": "executors", "hardening": {"profile": profile}}
    # strict creates the executors' Namespace; below it, the input has it
    namespace = (
        [] if profile == "strict" else [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "executors"}}]
    )
    outcome = run(items(frontend_service("sourcegraph"), *namespace, secret(namespace="executors")), config(**raw))
    assert [r.line() for r in outcome.results if r.severity != "info"] == []
