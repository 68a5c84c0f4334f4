"""Every bad input through the installed `executor-dind` (KRM mode, legacy plugin, render), as kpt and kustomize
run it.

In KRM mode a failure is: results on stdout (in a ResourceList that still holds the input items), one summary
line on stderr, exit 1, never a traceback, never exit 0 with empty output or `items: []`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from executor_dind.krm.dump import dump
from unit.conftest import UPSTREAM_NAMES
from unit.helpers import config, frontend_service, secret

FRONTEND = dump(frontend_service("sourcegraph"))


def invoke(executable: str, stdin: str | bytes, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [executable, *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=60,
        cwd=cwd,
        text=isinstance(stdin, str),
    )


def resource_list(items: list[dict[str, Any]], function_config: dict[str, Any] | None = None) -> str:
    document: dict[str, Any] = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    if function_config is not None:
        document["functionConfig"] = function_config
    return dump(document)


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    for stream in (proc.stdout, proc.stderr):
        text = stream if isinstance(stream, str) else stream.decode(errors="replace")
        assert "Traceback" not in text
        assert "internal error" not in text


def krm_failure(proc: subprocess.CompletedProcess, given: str | None) -> list[dict[str, Any]]:
    """Check the failure contract; return the error results."""
    no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    *warning_lines, summary = proc.stderr.splitlines()
    assert summary.startswith(("executor-dind: error ", "executor-dind: error: ")), summary
    output = yaml.safe_load(proc.stdout)
    # one stderr line per warning, then the one summary of the errors
    warnings = [r for r in output["results"] if r["severity"] == "warning"]
    assert len(warning_lines) == len(warnings), proc.stderr
    assert all(line.startswith("executor-dind: warning ") for line in warning_lines)
    assert (output["apiVersion"], output["kind"]) == ("config.kubernetes.io/v1", "ResourceList")
    if given is not None:
        assert output["items"] == yaml.safe_load(given)["items"]  # the package is untouched
    errors = [r for r in output["results"] if r["severity"] == "error"]
    assert errors, output["results"]
    # the summary repeats the first error's message
    assert errors[0]["message"] in summary
    return errors


def config_error(executor_dind: str, spec: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    given = resource_list([frontend_service("sourcegraph")], config(**spec))
    proc = invoke(executor_dind, given)
    return proc.stderr, krm_failure(proc, given)


def error_paths(errors: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e.get("field", {}).get("path", ""), e["message"]) for e in errors]


# --- malformed input --------------------------------------------------------------------------------------------


STREAM_ON_STDIN = (
    "stdin: expected one ResourceList document (kind: ResourceList), got a YAML stream of 1 document "
    "(ConfigMap/(no name)): with no arguments executor-dind is a KRM function (kpt and kustomize send it a "
    "ResourceList); to inject executors into manifests run `executor-dind render --config CFG -`"
)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "stdin: expected one ResourceList document (kind: ResourceList)"),
        (
            "apiVersion: v1\nkind: ResourceList\nitems: [\n",
            "stdin: not valid YAML at line 4, column 1: did not find expected node content",
        ),
        ("{{{{", "stdin: not valid YAML at line 2, column 1: did not find expected node content"),
        ("kind: ConfigMap\n", STREAM_ON_STDIN),
        (
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: {a: 1}\n",
            "stdin: ResourceList.items must be a list of objects, got an object",
        ),
        (
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: 5\n",
            "stdin: ResourceList.items must be a list of objects, got the scalar '5'",
        ),
        (
            b"\xff\xfe\x00\x01garbage",
            "stdin: the input is UTF-16 (it starts with a UTF-16 byte order mark): save it as UTF-8",
        ),
        (
            b"kind: ResourceList\nitems:\n- {kind: A, v: \xff}\n",
            "stdin: not valid UTF-8 at line 3, column 16 (byte 0xff): save it as UTF-8",
        ),
    ],
    ids=["empty", "malformed", "garbage", "not-a-resource-list", "items-map", "items-int", "utf-16", "not-utf-8"],
)
def test_malformed_input(executor_dind, stdin, message):
    """No items could be read: the results in an otherwise empty ResourceList, exit 1 (kpt writes nothing)."""
    proc = invoke(executor_dind, stdin if isinstance(stdin, bytes) else stdin.encode())
    proc = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    errors = krm_failure(proc, None)
    assert [e["message"] for e in errors] == [message]
    assert yaml.safe_load(proc.stdout)["items"] == []
    assert proc.stderr == f"executor-dind: error: {message}\n"


# --- config errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"queus": [{"name": "batches"}]}, [("spec.queus", "unknown field (did you mean 'queues'?)")]),
        (
            {"hardening": {"nodePool": {"enabeld": True}}},
            [("spec.hardening.nodePool.enabeld", "unknown field (did you mean 'enabled'?)")],
        ),
        (
            {"queues": [{"name": "batches", "replicas": "two"}]},
            [("spec.queues[0].replicas", "must be a non-negative integer, got 'two'")],
        ),
        ({"queues": "batches"}, [("spec.queues", "must be a list, got 'batches'")]),
        (
            {"queues": [{"name": "batches", "resources": {"limits": 5}}]},
            [
                (
                    "spec.queues[0].resources",
                    "must be {requests: {...}, limits: {...}} with quantities (e.g. {limits: {memory: 4Gi}})",
                )
            ],
        ),
        (
            {"queues": [{"name": "batches", "env": {1: "x"}}]},
            [("spec.queues[0].env.1", "is not a valid environment variable name")],
        ),
        (
            {"queues": [{"name": "Batch_Jobs", "queueNames": ["batches"]}]},
            [
                (
                    "spec.queues[0].name",
                    "'Batch_Jobs' is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)",
                )
            ],
        ),
        (
            {"queues": [{"name": "all", "queueNames": ["batches", "precise"]}]},
            [("spec.queues[0].queueNames[1]", "must be one of batches, codeintel, got 'precise'")],
        ),
        (
            {"queues": [{"name": "batches", "env": {"EXECUTOR_FRONTEND_URL": "http://x:1"}}]},
            [
                (
                    "spec.queues[0].env.EXECUTOR_FRONTEND_URL",
                    "is set by executor-dind; use the structured spec field instead",
                )
            ],
        ),
        (
            {"storage": {"type": "ephemeral"}},
            [
                (
                    "spec.storage.size",
                    "is required with storage.type: ephemeral (each pod gets a volume of that size: it costs money)",
                )
            ],
        ),
        (
            {"hardening": {"profile": "paranoid"}},
            [("spec.hardening.profile", "must be one of baseline, recommended, strict, got 'paranoid'")],
        ),
    ],
    ids=[
        "misspelt",
        "misspelt-nested",
        "wrong-type",
        "not-a-list",
        "resources-shape",
        "env-name-int",
        "queue-name",
        "queue-value",
        "managed-env",
        "ephemeral-size",
        "profile",
    ],
)
def test_config_errors(executor_dind, spec, expected):
    _, errors = config_error(executor_dind, spec)
    assert error_paths(errors) == [(path, f"invalid functionConfig: {path}: {message}") for path, message in expected]
    for error in errors:
        assert error["resourceRef"] == {
            "apiVersion": "executor-dind.dev/v1alpha1",
            "kind": "ExecutorDind",
            "name": "executors",
        }


def test_several_config_errors_are_all_reported_and_counted(executor_dind):
    stderr, errors = config_error(executor_dind, {"queus": [], "hardening": {"profile": "x"}, "log": {"levl": "x"}})
    assert len(errors) == 3
    assert stderr.rstrip().endswith("(and 2 more errors)")


def test_configmap_config_errors(executor_dind):
    function_config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "function-input"},
        "data": {"queues": "batches,precise", "docker.mtu": "lots"},
    }
    given = resource_list([frontend_service("sourcegraph")], function_config)
    errors = krm_failure(invoke(executor_dind, given), given)
    # the type error hides the cross-field check (queue 'precise' needs queueNames) until it is fixed
    assert error_paths(errors) == [
        ("data.docker.mtu", "invalid functionConfig: data.docker.mtu: must be an integer or auto, got 'lots'"),
    ]
    assert errors[0]["resourceRef"]["kind"] == "ConfigMap"


def test_an_unknown_function_config_kind(executor_dind):
    given = resource_list([frontend_service("sourcegraph")], {"apiVersion": "v1", "kind": "Secret"})
    [error] = krm_failure(invoke(executor_dind, given), given)
    assert error["message"].startswith("unknown functionConfig v1/Secret: expected executor-dind.dev/v1alpha1/")


# --- errors found in the input ----------------------------------------------------------------------------------


def test_no_frontend_url_given_and_none_derivable(executor_dind):
    given = resource_list([], config(namespace="executors"))
    [error] = krm_failure(invoke(executor_dind, given), given)
    assert error["message"].startswith("cannot derive the frontend URL")
    assert "set spec.frontend.url" in error["message"]


def test_pod_security_without_a_namespace_of_their_own(executor_dind):
    given = resource_list([frontend_service("sourcegraph")], config(hardening={"profile": "strict"}))
    [error] = krm_failure(invoke(executor_dind, given), given)
    assert error["message"].startswith(
        "invalid functionConfig: spec.namespace: hardening.podSecurity labels the executors' namespace privileged, "
        "but spec.namespace is not set"
    )


def test_spec_errors_found_later_still_point_at_the_function_config(executor_dind):
    given = resource_list([], config(namespace="executors"))
    [error] = krm_failure(invoke(executor_dind, given), given)
    assert error["resourceRef"]["kind"] == "ExecutorDind"
    assert error["field"] == {"path": "spec.frontend.url"}


def test_conflicting_upstream_objects(executor_dind, upstream_component):
    upstream = [doc for doc in yaml.safe_load_all(upstream_component) if doc]
    given = resource_list([frontend_service("sourcegraph"), *upstream], config())
    [error] = krm_failure(invoke(executor_dind, given), given)
    ref = error["resourceRef"]
    assert (ref["kind"], ref["name"]) in UPSTREAM_NAMES
    assert ref["namespace"] == "sourcegraph"
    assert "spec.replaceUpstream: true" in error["message"]


def test_conflicting_upstream_objects_replaced_on_request(executor_dind, upstream_component):
    upstream = [doc for doc in yaml.safe_load_all(upstream_component) if doc]
    given = resource_list([frontend_service("sourcegraph"), *upstream], config(replaceUpstream=True))
    proc = invoke(executor_dind, given)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    names = [(i["kind"], i["metadata"]["name"]) for i in yaml.safe_load(proc.stdout)["items"]]
    assert not set(names) & set(UPSTREAM_NAMES)
    assert ("Deployment", "executor-all") in names


# --- success ----------------------------------------------------------------------------------------------------


def test_success_is_exit_0_with_the_input_and_the_new_items(executor_dind):
    entries = (FRONTEND, dump(secret("executor-secret", "sourcegraph")))
    given = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" + "".join(
        ("- " if i == 0 else "  ") + line for text in entries for i, line in enumerate(text.splitlines(keepends=True))
    )
    proc = invoke(executor_dind, given)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(given)  # the input items, byte for byte
    output = yaml.safe_load(proc.stdout)
    assert len(output["items"]) == 8
    assert [r["severity"] for r in output["results"]] == ["info"]
    assert proc.stderr == ""


def test_output_that_cannot_be_written_is_a_failure_not_a_short_success(executor_dind):
    """The process ends without the interpreter's teardown (cli._exit_now): a write that fails is still exit 1
    with one line saying so, and the output that did fit is the function's own (here: none of it)."""
    given = resource_list([yaml.safe_load(FRONTEND), secret("executor-secret", "sourcegraph")])
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([executor_dind], input=given.encode(), stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines() == [
        "executor-dind: stdout: cannot be written (No space left on device): the output is incomplete"
    ]


def test_the_whole_output_arrives_through_a_pipe(executor_dind, tmp_path):
    """Large output through a pipe read slowly: nothing is lost when the process ends at once after writing."""
    items = [yaml.safe_load(FRONTEND), secret("executor-secret", "sourcegraph")]
    items += [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}, "data": {"k": "v" * 900}}
        for i in range(300)
    ]
    given = resource_list(items)
    proc = invoke(executor_dind, given)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(given) and len(proc.stdout) > 300_000
    assert [r["severity"] for r in yaml.safe_load(proc.stdout)["results"]] == ["info"]


def test_empty_items_still_give_objects_not_an_empty_package(executor_dind):
    proc = invoke(executor_dind, "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n")
    assert proc.returncode == 0
    assert len(yaml.safe_load(proc.stdout)["items"]) == 6


# --- legacy exec plugin and render ------------------------------------------------------------------------------


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "executor-dind.yaml"
    path.write_text(dump(config(queus=[])))
    return path


def test_legacy_plugin_bad_config(executor_dind, bad_config):
    proc = invoke(executor_dind, FRONTEND, str(bad_config))
    no_traceback(proc)
    assert proc.returncode == 1
    assert proc.stdout == ""  # kustomize must not read a half-written stream
    lines = proc.stderr.splitlines()
    assert lines[0] == (
        f"error ExecutorDind/-/executors: invalid functionConfig in {bad_config}: spec.queus: unknown field (did you "
        "mean 'queues'?)"
    )


def test_legacy_plugin_unreadable_config(executor_dind, tmp_path):
    path = tmp_path / "executor-dind.yaml"
    path.write_text("spec: [\n")
    proc = invoke(executor_dind, FRONTEND, str(path))
    no_traceback(proc)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"executor-dind: {path}: cannot read the config: ")


def test_legacy_plugin_malformed_stream(executor_dind, tmp_path):
    path = tmp_path / "executor-dind.yaml"
    path.write_text(dump(config()))
    proc = invoke(executor_dind, "a: [\n", str(path))
    no_traceback(proc)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith("executor-dind: stdin: not valid YAML")


def test_legacy_plugin_empty_stream_gives_the_objects(executor_dind, tmp_path):
    path = tmp_path / "executor-dind.yaml"
    path.write_text(dump(config()))
    proc = invoke(executor_dind, "", str(path))
    assert proc.returncode == 0, proc.stderr
    assert len([d for d in yaml.safe_load_all(proc.stdout) if d]) == 6


def test_render_bad_config(executor_dind, bad_config, tmp_path):
    manifest = tmp_path / "frontend.yaml"
    manifest.write_text(FRONTEND)
    proc = invoke(executor_dind, "", "render", "--config", str(bad_config), str(manifest))
    no_traceback(proc)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert "spec.queus: unknown field (did you mean 'queues'?)" in proc.stderr


def test_render_missing_file(executor_dind, tmp_path):
    path = tmp_path / "executor-dind.yaml"
    path.write_text(dump(config()))
    proc = invoke(executor_dind, "", "render", "--config", str(path), str(tmp_path / "absent.yaml"))
    no_traceback(proc)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert "absent.yaml" in proc.stderr


def test_usage_errors_exit_2(executor_dind):
    proc = invoke(executor_dind, "", "render")
    assert proc.returncode == 2
    assert "--config" in proc.stderr
    no_traceback(proc)
