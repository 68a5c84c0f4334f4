"""results: the KRM form of a result, its one human line, ordering and the stderr summary."""

from __future__ import annotations

from executor_dind.krm.item import Item
from executor_dind.results import ResourceRef, Result, about, has_errors, sort_results, summary

REF = ResourceRef("apps/v1", "Deployment", "executor-all", "executors")


def test_to_krm_carries_every_field_it_has():
    result = Result("bad", "error", REF, "spec.replicas", "executor-dind/x.yaml", "EXD001")
    assert result.to_krm() == {
        "message": "bad",
        "severity": "error",
        "resourceRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "executor-all",
            "namespace": "executors",
        },
        "field": {"path": "spec.replicas"},
        "file": {"path": "executor-dind/x.yaml"},
        "tags": {"rule": "EXD001"},
    }
    assert Result("plain", "info").to_krm() == {"message": "plain", "severity": "info"}


def test_a_field_path_without_a_resource_is_not_a_krm_field():
    assert "field" not in Result("x", "error", None, "spec.a").to_krm()


def test_line_never_says_the_field_path_twice():
    assert Result("bad", "error", REF, "spec.replicas", rule="EXD001").line() == (
        "error EXD001 Deployment/executors/executor-all spec.replicas: bad"
    )
    assert Result("spec.replicas: bad", "error", REF, "spec.replicas").line() == (
        "error Deployment/executors/executor-all: spec.replicas: bad"
    )
    assert Result("bad", "warning", ResourceRef("v1", "Namespace", "x")).line() == "warning Namespace/-/x: bad"


def test_line_names_the_file_once():
    """A check of the config that needs the input (gvisor's runtimeClassName) names the config file as a parse
    error does; a message that already says the file is not given it twice."""
    config = ResourceRef("executor-dind.dev/v1alpha1", "ExecutorDind", "executors")
    assert Result("runc is no sandbox", "error", config, "spec.x", "cfg.yaml").line() == (
        "error ExecutorDind/-/executors spec.x in cfg.yaml: runc is no sandbox"
    )
    message = "invalid functionConfig in cfg.yaml: spec.x: bad"
    assert Result(message, "error", config, "spec.x", "cfg.yaml").line() == f"error ExecutorDind/-/executors: {message}"


def test_about_points_at_the_item_and_its_file():
    item = Item.new(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "n", "annotations": {"config.kubernetes.io/path": "s.yaml"}},
        }
    )
    assert about(item, "m", "warning") == Result("m", "warning", ResourceRef("v1", "Secret", "s", "n"), "", "s.yaml")


def test_sorting_and_summary():
    results = [
        Result("i", "info"),
        Result("w2", "warning", rule="EXD301"),
        Result("e", "error"),
        Result("w1", "warning"),
    ]
    assert [r.message for r in sort_results(results)] == ["e", "w1", "w2", "i"]
    assert has_errors(results) and not has_errors(results[:2])
    assert summary(results) == "executor-dind: error: e"
    assert summary(results[1:2] + results[3:]) == "executor-dind: warning: w1 (and 1 more warning)"
    assert summary([Result("a"), Result("b"), Result("c")]) == "executor-dind: error: a (and 2 more errors)"
    assert summary([]) == "executor-dind: ok"
