"""Random byte mutations of valid ResourceLists and streams, through the installed console script in KRM, legacy
and render modes: never a traceback or an internal error, one stderr line per problem, and on success every item
kept byte for byte (and none lost); on a KRM failure the items that could be read come back byte for byte.

The oracle is independent of the krm package: items are located by composing the mutated input with libyaml here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import find_tool

HEADER = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"
DOCUMENTS = [
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: sourcegraph-frontend\n  namespace: sourcegraph\n"
    "spec:\n  ports:\n  - name: http\n    port: 30080\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app  # comment\ndata:\n  a: 'quoted'\n"
    '  b: "double"\n  flow: {x: [1, 2]}\n  script: |\n    one && two\n    three\n',
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: anchors\ndata:\n  a: &shared value\n  b: *shared\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n"
    "      containers:\n        - name: web\n          image: nginx:1.27\n",
    "resources:\n  - base\n",
]
CONFIG = "apiVersion: executor-dind.dev/v1alpha1\nkind: ExecutorDind\nmetadata:\n  name: executors\nspec: {}\n"
# Bytes that mean something to YAML or to a decoder, beside arbitrary ones.
SPECIAL = st.sampled_from(
    [
        *(b"&a ", b"*a", b"&a", b"!t ", b"- ", b": ", b"#", b"\t", b"\r", b"\r\n", b"\n", b" ", b"\xef\xbb\xbf"),
        *(b"{", b"]", b"'", b'"', b"|", b">", b"%TAG ! x:\n", b"---\n", b"...\n", b"\xe2\x80\xa8", b"\xff"),
        *(b"\x00", b"5\n- 6\n"),
    ]
)
EXAMPLES = max(1, int(25 * float(os.environ.get("HYPOTHESIS_SCALE", "1"))))
BUDGET = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def entry(document: str) -> str:
    first, *rest = document.splitlines(keepends=True)
    return "- " + first + "".join("  " + line for line in rest)


@st.composite
def mutated(draw: st.DrawFn, krm: bool) -> bytes:
    documents = draw(st.lists(st.sampled_from(DOCUMENTS), min_size=1, max_size=4))
    if krm:
        text = HEADER + "items:\n" + "".join(entry(document) for document in documents)
        if draw(st.booleans()):
            text += "functionConfig:\n" + "".join("  " + line for line in CONFIG.splitlines(keepends=True))
    else:
        text = "---\n".join(documents)
    data = bytearray(text.encode())
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, min(len(data), start + 8)))
        data[start:end] = draw(st.one_of(SPECIAL, st.binary(max_size=4), st.just(b"")))
    return bytes(data)


def normalized(data: bytes) -> str | None:
    """What YAML reads (the function's own normalisation: BOM dropped, CR breaks as LF), or None if not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def composed(text: str) -> list[yaml.Node] | None:
    try:
        return [node for node in yaml.compose_all(text, Loader=yaml.CSafeLoader) if node is not None]
    except (yaml.YAMLError, RecursionError):
        return None


def slices(text: str, nodes: list[yaml.Node], column: int) -> list[str]:
    """The source text of the nodes that must pass through byte for byte: block mappings at `column` that
    cannot hold an alias to something outside them, in texts whose columns Python and libyaml agree on."""
    if any(char in text for char in "\x85\u2028\u2029") or "%TAG" in text:
        return []
    return [
        text[node.start_mark.index - column : node.end_mark.index].rstrip(" \t\n")
        for node in nodes
        if isinstance(node, yaml.MappingNode)
        and node.start_mark.column == column
        and not node.flow_style
        and "*" not in text[node.start_mark.index : node.end_mark.index]
        and (node.end_mark.index < len(text) or text.endswith("\n"))
        and text[node.start_mark.index - column : node.start_mark.index] in ("", "- ")
    ]


def holds(output: str, piece: str) -> bool:
    """Whether the output holds the piece from the start of a line, with at most blanks after it on its line."""
    output, at = "\n" + output, 0
    while (at := output.find("\n" + piece, at)) >= 0:
        at += len(piece) + 1
        if not output[at : output.find("\n", at) % (len(output) + 1)].strip(" \t"):
            return True
    return False


def resource_list_items(text: str) -> list[yaml.Node] | None:
    """The items of a ResourceList document (one document, its first `kind` the string ResourceList, `items` a
    sequence), else None."""
    documents = composed(text)
    if not documents or len(documents) != 1 or not isinstance(documents[0], yaml.MappingNode):
        return None
    root = {}
    for key, value in documents[0].value:
        if isinstance(key, yaml.ScalarNode):
            root.setdefault(key.value, value)
    kind = root.get("kind")
    if not (isinstance(kind, yaml.ScalarNode) and kind.tag.endswith(":str") and kind.value == "ResourceList"):
        return None
    items = root.get("items")
    return items.value if isinstance(items, yaml.SequenceNode) else None


def clean(proc: subprocess.CompletedProcess) -> tuple[str, str]:
    stdout, stderr = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode in (0, 1), (proc.returncode, stderr)
    assert "Traceback" not in stdout + stderr
    assert "internal error" not in stdout + stderr, stderr
    return stdout, stderr


@pytest.fixture(scope="module")
def executable() -> str:
    return find_tool("executor-dind")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "executor-dind.yaml"
    path.write_text(CONFIG)
    return path


@BUDGET
@given(mutated(krm=True))
def test_mutated_resource_lists(executable, data):
    proc = subprocess.run([executable], input=data, capture_output=True, check=False, timeout=60)
    stdout, stderr = clean(proc)
    out_items = resource_list_items(stdout)
    assert out_items is not None, stdout[:300]  # always a ResourceList, success or not
    text = normalized(data)
    items = resource_list_items(text) if text is not None else None
    # Success or failure, every item that could be read leaves byte for byte.
    for piece in slices(text, items, 2) if items else []:
        assert holds(stdout, piece), f"an item was lost or altered:\n{piece}"
    if proc.returncode:
        *warnings, last = stderr.splitlines()  # one summary line; warnings, if any, one line each
        assert last.startswith("executor-dind: error"), stderr
        assert all(line.startswith("executor-dind: warning") for line in warnings), stderr
        assert len(out_items) >= len(items or []), "a failure output holds fewer items than came in"
    else:
        # Warnings (a mutated name, a missing Secret) are one line each; nothing else is said on success.
        assert all(line.startswith("executor-dind: warning") for line in stderr.splitlines()), stderr
        assert items is not None and len(out_items) > len(items), "success with fewer items than came in"


@BUDGET
@given(mutated(krm=False), st.sampled_from(["legacy", "render"]))
def test_mutated_streams(executable, config, data, mode):
    argv = [executable, str(config)] if mode == "legacy" else [executable, "render", "--config", str(config), "-"]
    proc = subprocess.run(argv, input=data, capture_output=True, check=False, timeout=60)
    stdout, stderr = clean(proc)
    if proc.returncode:
        assert stdout == ""  # kustomize must not read a half-written stream
        assert stderr and all(line.startswith("executor-dind: ") for line in stderr.splitlines()), stderr
        return
    text = normalized(data)
    assert text is not None
    documents = composed(text)
    assert documents is not None
    out = composed(stdout)
    assert out is not None and len(out) > len(documents)
    for piece in slices(text, documents, 0):
        assert holds(stdout, piece), f"a document was lost or altered:\n{piece}"
