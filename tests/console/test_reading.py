"""Every way of use refuses an input that Kubernetes' decoder would read as other objects (duplicate keys, merge
keys, tags the readers do not share, the same object twice), with the file, the line and what each reader sees; the
same input without the defect passes. Run as users run it: the installed console script in a subprocess.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from executor_dind.krm.dump import dump
from unit.helpers import config, frontend_service, secret

INPUT = dump(frontend_service()) + "---\n" + dump(secret())
CONFIG = config(hardening={"profile": "recommended"})
DECODER = "Kubernetes' decoder (kubectl, the API server) keeps the last"


def invoke(argv: list[str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=60)


def line_of(text: str, marker: str) -> int:
    return text[: text.index(marker)].count("\n") + 1


def document_of(text: str, marker: str) -> int:
    return text[: text.index(marker)].count("\n---\n") + 1


@pytest.fixture(scope="module")
def rendered(executor_dind, tmp_path_factory) -> str:
    """The executors rendered with the recommended profile (a NetworkPolicy per workload): the audit passes it."""
    directory = tmp_path_factory.mktemp("reading")
    (directory / "config.yaml").write_text(dump(CONFIG))
    (directory / "input.yaml").write_text(INPUT)
    result = invoke(
        [executor_dind, "render", "--config", str(directory / "config.yaml"), str(directory / "input.yaml")]
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_audit_of_a_file_refuses_a_workload_hidden_by_a_duplicate_key(executor_dind, rendered, tmp_path):
    """A first `kind: ConfigMap` before the executors Deployment's own: a reader of the first key sees no
    workload to judge, kubectl applies the Deployment."""
    clean = tmp_path / "clean.yaml"
    clean.write_text(rendered)
    assert invoke([executor_dind, "audit", str(clean)]).returncode == 0
    mutated = rendered.replace("kind: Deployment\n", "kind: ConfigMap\nkind: Deployment\n", 1)
    path = tmp_path / "mutated.yaml"
    path.write_text(mutated)
    result = invoke([executor_dind, "audit", str(path)])
    line = line_of(mutated, "kind: ConfigMap\nkind: Deployment\n")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"executor-dind: {path}: document {document_of(mutated, 'kind: Deployment')} "
        f"(ConfigMap/sourcegraph/executor-all): the object has the key 'kind' twice, at line {line} and at line "
        f"{line + 1}: {DECODER} ('Deployment'), a reader of the first finds 'ConfigMap': keep one\n"
    )


def test_audit_of_stdin_refuses_a_binary_daemon_json(executor_dind, rendered):
    assert invoke([executor_dind, "audit", "-"], rendered).returncode == 0
    mutated = rendered.replace("  daemon.json: |-\n", "  daemon.json: !!binary e30=\n  was: |-\n", 1)  # e30= is {}
    result = invoke([executor_dind, "audit", "-"], mutated)
    assert (result.returncode, result.stdout) == (1, "")
    document, line = document_of(mutated, "!!binary"), line_of(mutated, "!!binary")
    assert result.stderr == (
        f"executor-dind: stdin: document {document} (ConfigMap/sourcegraph/executor-dind-docker): data.daemon.json "
        f"has the YAML tag !!binary at line {line}: Kubernetes' decoder reads the base64-decoded text, PyYAML bytes: "
        "write the value without the tag\n"
    )


def resource_list(items: list[dict], function_config: dict | None = None) -> str:
    document = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    return dump(document) + (dump({"functionConfig": function_config}) if function_config else "")


def entry_lines(text: str) -> list[int]:
    """The lines of the ResourceList's entries (dumped at column 0; nested lists are indented)."""
    return [number for number, line in enumerate(text.splitlines(), 1) if line.startswith("- ")]


def test_the_kpt_validator_refuses_the_same_object_twice(executor_dind, rendered):
    """As every input the validator cannot read: one stderr line per problem, exit 1."""
    items = [document for document in yaml.safe_load_all(rendered) if document]
    assert invoke([executor_dind, "audit"], resource_list(items)).returncode == 0
    first = next(n for n, item in enumerate(items) if item["kind"] == "NetworkPolicy")
    wider = {**items[first], "spec": {**items[first]["spec"], "egress": [{}]}}  # the same policy, allowing all
    given = resource_list([*items, wider])
    result = invoke([executor_dind, "audit"], given)
    lines = entry_lines(given)
    message = (
        f"stdin: ResourceList.items[{len(items)}] (NetworkPolicy/sourcegraph/executor-dind-executors) at line "
        f"{lines[len(items)]}: the same object as stdin: ResourceList.items[{first}] "
        f"(NetworkPolicy/sourcegraph/executor-dind-executors) at line {lines[first]}: the API server keeps the last "
        "one applied, a reader of the first sees that one: keep one"
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"executor-dind: {message}\n"


def test_the_krm_function_refuses_a_kind_hidden_in_a_merge_key(executor_dind):
    clean = resource_list([frontend_service(), secret(), {"apiVersion": "v1", "kind": "ConfigMap"}], CONFIG)
    clean = clean.replace(
        "- apiVersion: v1\n  kind: ConfigMap\n",
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: app\n"
        "    annotations: {config.kubernetes.io/path: app.yaml}\n",
    )
    assert invoke([executor_dind], clean).returncode == 0
    given = clean.replace("  kind: ConfigMap\n", "  <<: {kind: ConfigMap}\n", 1)
    result = invoke([executor_dind], given)
    message = (
        f"stdin: ResourceList.items[2] ((no kind)/app, file app.yaml): the object has a YAML merge key (<<) at line "
        f"{line_of(given, '<<')}, merging in kind: Kubernetes' decoder sees those fields there, a reader of the keys "
        "as written does not: write the fields out instead of merging them"
    )
    assert result.returncode == 1
    assert result.stderr == f"executor-dind: error: {message}\n"
    assert yaml.safe_load(result.stdout)["results"] == [{"message": message, "severity": "error"}]
    assert result.stdout.endswith(given)


POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: app, namespace: sourcegraph}
spec: {podSelector: {}, policyTypes: [Egress]}
"""


@pytest.mark.parametrize("mode", ["legacy", "render"])
def test_the_stream_readers_refuse_a_namespace_hidden_by_a_duplicate_key(executor_dind, tmp_path, mode):
    (tmp_path / "config.yaml").write_text(dump(CONFIG))
    argv = [executor_dind, str(tmp_path / "config.yaml")]
    if mode == "render":
        argv = [executor_dind, "render", "--config", str(tmp_path / "config.yaml"), "-"]
    clean = INPUT + "---\n" + POLICY
    assert invoke(argv, clean).returncode == 0
    given = clean.replace(
        "metadata: {name: app, namespace: sourcegraph}\n",
        "metadata:\n  name: app\n  namespace: sourcegraph\n  namespace: kube-system\n",
    )
    result = invoke(argv, given)
    line = line_of(given, "  namespace: kube-system")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "executor-dind: stdin: document 3 (NetworkPolicy/sourcegraph/app): metadata has the key 'namespace' twice, at "
        f"line {line - 1} and at line {line}: {DECODER} ('kube-system'), a reader of the first finds 'sourcegraph': "
        "keep one\n"
    )
