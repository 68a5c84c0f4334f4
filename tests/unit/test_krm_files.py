"""inputs: what a command's input is — a ResourceList on stdin, a stream, files, directories — decided once."""

from __future__ import annotations

import io
import sys

import pytest

from executor_dind.krm.errors import InputError
from executor_dind.krm.files import read_config, read_input

STREAM = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
RESOURCE_LIST = (
    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"
    "items:\n- {apiVersion: v1, kind: Service, metadata: {name: a}}\n"
)


@pytest.fixture
def stdin(monkeypatch):
    def give(text: str) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))

    return give


def test_stdin_resource_list_is_recognised_only_when_asked(stdin):
    stdin(RESOURCE_LIST)
    found = read_input([], resource_list=True)
    assert found.resource_list is not None and [i.name for i in found.items] == ["a"]
    stdin(RESOURCE_LIST)
    as_stream = read_input(["-"])  # a stream's *List documents are unwrapped
    assert as_stream.resource_list is None and [i.name for i in as_stream.items] == ["a"]


def test_stdin_stream(stdin):
    stdin(STREAM)
    found = read_input([], resource_list=True)
    assert found.resource_list is None and [i.name for i in found.items] == ["a", "b"]


def test_a_malformed_resource_list_is_an_error_not_a_stream(stdin):
    stdin("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: 5\n")
    with pytest.raises(InputError, match=r"ResourceList\.items must be a list"):
        read_input([], resource_list=True)


def test_directories_are_read_recursively_skipping_what_is_not_an_object(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text(STREAM.split("---\n")[1])
    (tmp_path / "a.yml").write_text(STREAM.split("---\n")[0])
    (tmp_path / "schema.json").write_text('{"$schema": "https://json-schema.org/draft/2020-12/schema"}')
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ci.yaml").write_text("on: push\n")
    (tmp_path / "config.yaml").write_text("apiVersion: executor-dind.dev/v1alpha1\nkind: ExecutorDind\n")
    (tmp_path / "notes.txt").write_text("not yaml: [")
    found = read_input([str(tmp_path)], exclude=(str(tmp_path / "config.yaml"),))
    assert [i.name for i in found.items] == ["a", "b"]
    assert found.skipped == (
        f"{tmp_path / 'schema.json'}: skipped 1 document(s) that are not Kubernetes objects (no apiVersion or kind)",
    )


def test_a_kustomization_directory_is_refused_with_the_command_to_use(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yml]\n")
    with pytest.raises(InputError, match=r"is a kustomization \(kustomization\.yaml\).*kustomize build"):
        read_input([str(tmp_path)])


def test_read_config_names_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: [")
    with pytest.raises(InputError, match=f"{path}: cannot read the config"):
        read_config(str(path))
