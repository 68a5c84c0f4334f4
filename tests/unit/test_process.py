"""process: the pure bytes-in/bytes-out core every stdin way of use goes through."""

from __future__ import annotations

import pytest
import yaml

from executor_dind.krm.dump import dump
from executor_dind.process import process

from .helpers import config, frontend_service, secret


def resource_list(*items, function_config=None) -> bytes:
    document = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": list(items)}
    if function_config is not None:
        document["functionConfig"] = function_config
    return dump(document).encode()


def test_krm_success_is_exit_0_the_items_and_no_stderr():
    processed = process(resource_list(frontend_service(), secret(), function_config=config()))
    assert (processed.code, processed.messages) == (0, ())
    output = yaml.safe_load(processed.output)
    assert output["items"][:2] == [frontend_service(), secret()]
    assert len(output["items"]) == 8
    assert [r["severity"] for r in output["results"]] == ["info"]


def test_krm_failure_keeps_the_items_and_says_it_in_one_line():
    given = resource_list(frontend_service(), function_config=config(bogus=1))
    processed = process(given)
    assert processed.code == 1
    assert processed.messages == (
        "executor-dind: error ExecutorDind/-/executors: invalid functionConfig: spec.bogus: unknown field",
    )
    assert yaml.safe_load(processed.output)["items"] == yaml.safe_load(given)["items"]


def test_stream_mode_gives_a_stream_or_every_result_on_stderr():
    processed = process(dump(frontend_service()).encode(), "stream", config())
    # A success says each warning on stderr: here, that the input has no password Secret.
    assert processed.code == 0
    assert [line.rsplit(": no Secret", 1)[0] for line in processed.messages] == [
        "executor-dind: warning ExecutorDind/-/executors spec.frontend.passwordSecret"
    ]
    assert [doc["kind"] for doc in yaml.safe_load_all(processed.output)][:2] == ["Service", "ServiceAccount"]
    krm = process(resource_list(frontend_service(), function_config=config()))
    assert krm.code == 0 and krm.messages == processed.messages
    failed = process(b"", "stream", config(namespace="Bad"))
    assert (failed.code, failed.output) == (1, b"")
    assert len(failed.messages) == 2 and failed.messages[-1].startswith("executor-dind: error ")


def test_validate_mode_audits_and_passes_the_items_through():
    processed = process(resource_list(frontend_service()), "validate")
    # no executor workload: the function was dropped, or this is not the render
    assert processed.code == 1
    output = yaml.safe_load(processed.output)
    assert output["items"] == [frontend_service()]
    assert [r["tags"]["rule"] for r in output["results"]] == ["EXD000"]


def test_bytes_that_are_not_utf8_are_one_clear_error():
    message = "stdin: not valid UTF-8 at line 2, column 4 (byte 0xff): save it as UTF-8"
    processed = process(b"kind: ResourceList\nx: \xff\n")
    # KRM: the error as a result of an empty ResourceList (no item could be read), and the summary line.
    assert yaml.safe_load(processed.output) == {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": [],
        "results": [{"message": message, "severity": "error"}],
    }
    assert processed[1:] == ((f"executor-dind: error: {message}",), 1)
    assert process(b"kind: A\nx: \xff\n", "stream") == (b"", (f"executor-dind: {message}",), 1)


def test_an_unknown_mode_is_a_programming_error():
    with pytest.raises(ValueError, match="no such mode"):
        process(b"", "nope")


def test_stream_mode_an_item_that_cannot_be_written_out_is_one_line_and_no_output():
    deep = "apiVersion: v1\nkind: List\nitems:\n- {kind: A, x: " + "[" * 700 + "]" * 700 + "}\n"
    stream = (dump(frontend_service()) + "---\n" + dump(secret()) + "---\n" + deep).encode()
    processed = process(stream, "stream", config())
    message = "stdin: document 3 (List) items[0] (A/(no name)): nested too deeply to write out"
    assert processed == (b"", (f"executor-dind: {message}",), 1)


def test_config_errors_name_the_config_file_given_or_annotated():
    bad = config(bogus=1)
    line = "executor-dind: error ExecutorDind/-/executors: invalid functionConfig{}: spec.bogus: unknown field"
    assert process(b"", "stream", bad, "instances/x/executor-dind.yaml").messages[-1] == line.format(
        " in instances/x/executor-dind.yaml"
    )
    assert process(b"", "stream", bad).messages[-1] == line.format("")  # no file: none named
    bad["metadata"]["annotations"] = {"config.kubernetes.io/path": "fn-config.yaml"}
    processed = process(resource_list(frontend_service(), function_config=bad))
    assert processed.messages == (line.format(" in fn-config.yaml"),)
    [result] = yaml.safe_load(processed.output)["results"]
    assert (result["field"], result["file"]) == ({"path": "spec.bogus"}, {"path": "fn-config.yaml"})


def test_the_core_reads_no_environment():
    """EXECUTOR_DIND_DEBUG and the rest of the environment are the command line's to read (cli.py, commands/):
    the core gets what it needs as arguments (process's debug)."""
    import re
    from pathlib import Path

    import executor_dind

    package = Path(executor_dind.__file__).parent
    core = [p for p in package.rglob("*.py") if p.name != "cli.py" and "commands" not in p.parts]
    reading = [str(p.relative_to(package)) for p in core if re.search(r"os\.environ|getenv", p.read_text())]
    assert reading == []
    # the control: the command line does read it
    assert re.search(r"os\.environ", (package / "commands" / "krm.py").read_text())


def test_errors_of_the_checks_that_read_the_input_name_the_config_file_too():
    """runtimeClassName runc is judged against the input's RuntimeClasses (a plan check): its KRM result still
    carries the config's field and file."""
    bad = config(hardening={"gvisor": {"enabled": True, "runtimeClassName": "runc"}})
    bad["metadata"]["annotations"] = {"config.kubernetes.io/path": "fn-config.yaml"}
    processed = process(resource_list(frontend_service(), secret(), function_config=bad))
    assert processed.code == 1
    [result] = [r for r in yaml.safe_load(processed.output)["results"] if r["severity"] == "error"]
    assert (result["field"], result["file"]) == (
        {"path": "spec.hardening.gvisor.runtimeClassName"},
        {"path": "fn-config.yaml"},
    )
