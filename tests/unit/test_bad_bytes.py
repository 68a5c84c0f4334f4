"""Bytes in, never corrupted bytes out: each case through the installed console script in every way of use that
reads it — KRM (a ResourceList on stdin), the legacy exec plugin (argv[1] a config file, a stream on stdin),
`render --config CFG -` and `render --config CFG FILE`.

Every case checks the whole contract: the exit code; exactly one stderr line per problem (KRM: one summary
line); no traceback, no "internal error"; on failure, KRM writes the input back byte for byte with the results
(kpt and kustomize write nothing on exit 1, but a human or CI reads it) and the stream modes write nothing; on
success, every item the function does not own leaves byte-identical and the output holds more items than came in.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from executor_dind.krm.dump import dump
from executor_dind.krm.text import normalize

HEADER = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"
FRONTEND = """\
apiVersion: v1
kind: Service
metadata:
  name: sourcegraph-frontend
  namespace: sourcegraph
spec:
  ports:
  - name: http
    port: 30080
"""
CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app   # a comment
  namespace: sourcegraph
data:
  quoted: "x"
  flow: {a: 1}
  script: |
    a && b
"""
# The executors' password Secret, so that a success says nothing on stderr (no warning about a missing Secret).
SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: executor-secret
  namespace: sourcegraph
stringData:
  password: 5f0e2c1d9a8b7c6e
"""
CONFIG = """\
apiVersion: executor-dind.dev/v1alpha1
kind: ExecutorDind
metadata:
  name: executors
spec: {}
"""
MODES = ("krm", "legacy", "render-stdin", "render-file")


def bomb(levels: int = 9, width: int = 9) -> str:
    """A billion-laughs mapping body (width**levels strings once expanded), indented for `data:`."""
    lines = [f"  l0: &l0 [{', '.join(['lol'] * width)}]\n"]
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]\n")
    return "".join(lines)


BOMB_ITEM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n" + bomb()
BOMB_EXPANSION = (
    "its YAML aliases expand to {:,} nodes, more than the 100,000 allowed (an alias bomb?): write the values out "
    "instead of aliasing them"
)


class Tolerant(yaml.CSafeLoader):
    """Reads the echoed input whatever tags its items hold (their values are not compared here)."""


Tolerant.add_multi_constructor("", lambda loader, suffix, node: None)


def entry(document: str) -> str:
    """A document as an entry of the ResourceList's (compact) items sequence."""
    first, *rest = document.splitlines(keepends=True)
    return "- " + first + "".join("  " + line if line.strip() else line for line in rest)


def resource_list(*documents: str, config: str | None = None) -> str:
    text = HEADER + "items:\n" + "".join(entry(document) for document in documents)
    if config is not None:
        text += "functionConfig:\n" + "".join("  " + line for line in config.splitlines(keepends=True))
    return text


def stream(*documents: str) -> str:
    return "---\n".join(documents)


@dataclass
class Case:
    """One input; `documents` are the items, written as a ResourceList for KRM and as a stream otherwise.

    `errors` maps a mode to its expected messages (`{source}` is where the stream came from); a mode not in
    it must succeed. `raw` replaces the encoded input (`{input}` marks where the UTF-8 text goes)."""

    name: str
    documents: tuple[str, ...]
    errors: dict[str, list[str]] = field(default_factory=dict)
    config: str = CONFIG
    krm_config: bool = False  # the config as the ResourceList's functionConfig (else no functionConfig)
    encode: object = staticmethod(lambda text: text.encode())
    modes: tuple[str, ...] = MODES
    changed: tuple[int, ...] = ()  # documents the function may rewrite (dumped, not kept)
    echoed: bool = True  # a KRM failure writes the input back (False: no item could be read at all)


CASES = [
    Case("plain", (FRONTEND, CONFIG_MAP)),
    Case("bom", (FRONTEND, CONFIG_MAP), encode=staticmethod(lambda text: b"\xef\xbb\xbf" + text.encode())),
    Case("crlf", (FRONTEND, CONFIG_MAP), encode=staticmethod(lambda text: text.replace("\n", "\r\n").encode())),
    Case("cr", (FRONTEND, CONFIG_MAP), encode=staticmethod(lambda text: text.replace("\n", "\r").encode())),
    Case("tab-separators", (FRONTEND, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\ndata:\n  a:\t'x'\n")),
    Case(
        "tab-indentation",
        (FRONTEND, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: t\n"),
        errors={
            "krm": ["stdin: not valid YAML at line 16, column 3: found character that cannot start any token"],
            "stream": ["{source}: not valid YAML at line 14, column 1: found character that cannot start any token"],
        },
        echoed=False,
    ),
    Case("anchor-in-one-item", (FRONTEND, CONFIG_MAP.replace("flow: {a: 1}", "flow: &f {a: 1}\n  again: *f"))),
    Case(
        "alias-to-another-item",
        (FRONTEND, CONFIG_MAP.replace("namespace: sourcegraph\ndata", "namespace: &ns sourcegraph\ndata"), "x: *ns\n"),
        modes=("krm",),
        changed=(2,),
    ),
    Case(
        "alias-bomb",
        (FRONTEND, BOMB_ITEM),
        errors={
            "krm": ["stdin: ResourceList.items[1] (ConfigMap/lol): " + BOMB_EXPANSION.format(490_329_074)],
            "stream": ["{source}: document 2 (ConfigMap/lol): " + BOMB_EXPANSION.format(490_329_074)],
        },
    ),
    Case(
        "alias-bomb-in-config",
        (FRONTEND,),
        config=CONFIG.replace("spec: {}\n", "spec: {}\nx:\n" + bomb()),
        krm_config=True,
        errors={
            "krm": ["stdin: ResourceList.functionConfig: " + BOMB_EXPANSION.format(490_329_077)],
            "stream": ["{config}: cannot read the config: " + BOMB_EXPANSION.format(490_329_076)],
        },
    ),
    Case(
        "recursive-alias",
        (FRONTEND, "kind: A\nmetadata:\n  name: r\nloop: &x {again: *x}\n"),
        errors={
            "krm": [
                "stdin: ResourceList.items[1] (A/r): a YAML alias refers to a node that contains it (a recursive "
                "alias): no object can be written out from it; replace the alias with the values"
            ],
            "stream": [
                "{source}: document 2 (A/r): a YAML alias refers to a node that contains it (a recursive alias): "
                "no object can be written out from it; replace the alias with the values"
            ],
        },
    ),
    Case(
        "scalar-item",
        (FRONTEND, "just text\n", "5\n"),
        errors={
            "krm": [
                "stdin: ResourceList.items[1] is not an object (got the scalar 'just text'): each item must be a "
                "Kubernetes object (a mapping)",
                "stdin: ResourceList.items[2] is not an object (got the scalar '5'): each item must be a "
                "Kubernetes object (a mapping)",
            ],
            "stream": [
                "{source}: document 2 is not an object (got the scalar 'just text'): each document must be a "
                "Kubernetes object"
            ],
        },
    ),
    Case(
        "scalar-in-a-list",
        (FRONTEND, "apiVersion: v1\nkind: List\nitems:\n- kind: A\n- 7\n- [x]\n"),
        modes=("legacy", "render-stdin", "render-file"),
        errors={
            "stream": [
                "{source}: document 2 (List): items[1] is not an object (got the scalar '7'): each item must be a "
                "Kubernetes object",
                "{source}: document 2 (List): items[2] is not an object (got a list): each item must be a "
                "Kubernetes object",
            ]
        },
    ),
    Case(
        "list-function-config",
        (FRONTEND, CONFIG_MAP),
        config="- a\n- b\n",
        krm_config=True,
        modes=("krm",),
        errors={
            "krm": ["stdin: ResourceList.functionConfig must be an object (an ExecutorDind or a ConfigMap), got a list"]
        },
    ),
    # A tag outside the JSON schema: kubectl's decoder reads the value without it, PyYAML cannot build it, so
    # the two would see different objects: refused wherever it is, read by the function or not.
    Case(
        "unknown-tag-where-the-function-reads",
        (FRONTEND.replace("port: 30080", "port: !port 30080"), CONFIG_MAP),
        errors={
            "krm": [
                "stdin: ResourceList.items[0] (Service/sourcegraph/sourcegraph-frontend): spec.ports[0].port has "
                "the YAML tag !port at line 12: Kubernetes' decoder reads the value with the tag ignored, PyYAML no "
                "value (it cannot build the tag): write the value without the tag"
            ],
            "stream": [
                "{source}: document 1 (Service/sourcegraph/sourcegraph-frontend): spec.ports[0].port has the YAML "
                "tag !port at line 9: Kubernetes' decoder reads the value with the tag ignored, PyYAML no value (it "
                "cannot build the tag): write the value without the tag"
            ],
        },
    ),
    Case(
        "unknown-tag-nobody-reads",
        (FRONTEND, CONFIG_MAP.replace('quoted: "x"', "quoted: !custom x")),
        errors={
            "krm": [
                "stdin: ResourceList.items[1] (ConfigMap/sourcegraph/app): data.quoted has the YAML tag !custom at "
                "line 19: Kubernetes' decoder reads the value with the tag ignored, PyYAML no value (it cannot "
                "build the tag): write the value without the tag"
            ],
            "stream": [
                "{source}: document 2 (ConfigMap/sourcegraph/app): data.quoted has the YAML tag !custom at line 17: "
                "Kubernetes' decoder reads the value with the tag ignored, PyYAML no value (it cannot build the "
                "tag): write the value without the tag"
            ],
        },
    ),
    Case(
        "other-line-breaks",
        (FRONTEND, CONFIG_MAP.replace('quoted: "x"', 'quoted: "x\u2028y"')),
        changed=(0, 1),
    ),
    Case(
        "tag-directive",
        (FRONTEND, CONFIG_MAP),
        modes=("legacy", "render-stdin", "render-file"),
        encode=staticmethod(lambda text: ("%TAG !e! tag:yaml.org,2002:\n---\n" + text).encode()),
        changed=(0, 1),
    ),
    Case(
        "not-utf-8",
        (FRONTEND, CONFIG_MAP.replace("app   #", "app\udcff  #")),
        encode=staticmethod(lambda text: text.encode("utf-8", "surrogateescape")),
        errors={
            "krm": ["stdin: not valid UTF-8 at line 16, column 14 (byte 0xff): save it as UTF-8"],
            "stream": ["{source}: not valid UTF-8 at line 14, column 12 (byte 0xff): save it as UTF-8"],
        },
        echoed=False,
    ),
    Case(
        "utf-16",
        (FRONTEND,),
        encode=staticmethod(lambda text: text.encode("utf-16")),
        errors={
            "krm": ["stdin: the input is UTF-16 (it starts with a UTF-16 byte order mark): save it as UTF-8"],
            "stream": ["{source}: the input is UTF-16 (it starts with a UTF-16 byte order mark): save it as UTF-8"],
        },
        echoed=False,
    ),
    Case(
        "nested-too-deeply",
        (FRONTEND, "kind: A\nx: " + "[" * 1200 + "]" * 1200 + "\n"),
        errors={
            "krm": ["stdin: not valid YAML at line 14, column 1004: exceeded maximum nesting depth"],
            "stream": ["{source}: not valid YAML at line 12, column 1003: exceeded maximum nesting depth"],
        },
        echoed=False,
    ),
]


def run(executable: str, mode: str, case: Case, tmp_path: Path) -> tuple[subprocess.CompletedProcess, str, str]:
    """(the process, the text given, the source name in messages)."""
    config = tmp_path / "executor-dind.yaml"
    config.write_text(case.config)
    documents = (*case.documents, SECRET)
    if mode == "krm":
        text = resource_list(*documents, config=case.config if case.krm_config else None)
        argv, source = [executable], "stdin"
    else:
        text = stream(*documents)
        argv = [executable, str(config)] if mode == "legacy" else [executable, "render", "--config", str(config)]
        source = "stdin"
        if mode == "render-file":
            manifest = tmp_path / "manifests.yaml"
            manifest.write_bytes(case.encode(text))
            argv.append(str(manifest))
            source = str(manifest)
        elif mode == "render-stdin":
            argv.append("-")
    data = b"" if mode == "render-file" else case.encode(text)
    proc = subprocess.run(argv, input=data, capture_output=True, check=False, timeout=60)
    return proc, text, source


def composed_items(text: str) -> list[str]:
    """The items as canonical YAML of their nodes: composed, not constructed (kept items may hold tags nobody
    can build), compared with their tags and values."""
    root = yaml.compose(text, Loader=yaml.CSafeLoader)
    items = next(value for key, value in root.value if key.value == "items").value
    return [yaml.serialize(item, canonical=True) for item in items]


@pytest.mark.parametrize(
    ("case", "mode"),
    [pytest.param(case, mode, id=f"{case.name}-{mode}") for case in CASES for mode in case.modes],
)
def test_bad_bytes(executor_dind, tmp_path, case, mode):
    proc, text, source = run(executor_dind, mode, case, tmp_path)
    stdout, stderr = proc.stdout.decode(), proc.stderr.decode()
    assert "Traceback" not in stdout + stderr
    assert "internal error" not in stdout + stderr
    errors = case.errors.get(mode if mode == "krm" else "stream")
    given = normalize(text)  # what YAML reads: no BOM, LF line breaks
    if errors is not None:
        expected = [message.format(source=source, config=tmp_path / "executor-dind.yaml") for message in errors]
        assert proc.returncode == 1, stderr
        if mode == "krm":
            more = f" (and {len(expected) - 1} more error{'s' if len(expected) > 2 else ''})" if expected[1:] else ""
            assert stderr == f"executor-dind: error: {expected[0]}{more}\n"
            results = yaml.load(stdout, Loader=Tolerant)["results"]
            assert [r["message"] for r in results] == expected
            if case.echoed:
                # Every item (and the functionConfig, and comments) byte for byte: the input with its results.
                assert stdout == dump({"results": results}) + given
            else:
                assert yaml.safe_load(stdout)["items"] == []  # no item could be read at all
        else:
            prefix = "executor-dind: "
            assert stderr == "".join(f"{prefix}{message}\n" for message in expected)
            assert stdout == ""  # kustomize must not read a half-written stream
        return
    assert proc.returncode == 0, stderr
    assert stderr == ""
    documents = [normalize(document) for document in case.documents]
    if mode == "krm":
        items = composed_items(stdout)
        assert len(items) > len(documents)
        for index, document in enumerate(documents):
            if index not in case.changed:
                assert entry(document) in stdout, f"item {index} was not kept byte for byte"
        expected_items = composed_items(given)
        assert items[: len(expected_items)] == expected_items
    else:
        out = [doc for doc in yaml.compose_all(stdout, Loader=yaml.CSafeLoader) if doc is not None]
        assert len(out) > len(documents)
        for index, document in enumerate(documents):
            if index not in case.changed:
                assert document in stdout.split("---\n"), f"document {index} was not kept byte for byte"


def test_a_leading_bom_no_longer_shifts_the_items(executor_dind):
    """Before: exit 0 and every kept item one column off (invalid YAML)."""
    given = resource_list(FRONTEND, CONFIG_MAP, SECRET)
    proc = subprocess.run([executor_dind], input=b"\xef\xbb\xbf" + given.encode(), capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().startswith(given)


def _peak(argv: list[str], data: bytes) -> tuple[int, float, int, str]:
    """Exit code, wall seconds and peak RSS (KiB) of one child, measured in a fresh process of its own."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "proc = subprocess.run(sys.argv[1:], input=sys.stdin.buffer.read(), capture_output=True)\n"
        "elapsed = time.perf_counter() - start\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(proc.returncode, elapsed, peak)\n"
        "sys.stderr.write(proc.stderr.decode())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], input=data, capture_output=True, check=False, timeout=60
    )
    code, seconds, peak = done.stdout.split()
    return int(code), float(seconds), int(peak), done.stderr.decode()


@pytest.mark.parametrize("mode", ["krm", "legacy", "render"])
def test_an_alias_bomb_is_refused_fast_in_bounded_memory(executor_dind, tmp_path, mode):
    """Before: 3.8 GB RSS, then a MemoryError traceback. 9 levels of 9: 435 million nodes once expanded."""
    config = tmp_path / "executor-dind.yaml"
    config.write_text(CONFIG)
    if mode == "krm":
        argv, data = [executor_dind], resource_list(FRONTEND, BOMB_ITEM, SECRET).encode()
    else:
        argv = [executor_dind, str(config)] if mode == "legacy" else [executor_dind, "render", "--config", str(config)]
        data = stream(FRONTEND, BOMB_ITEM, SECRET).encode()
    code, seconds, peak_kib, stderr = _peak(argv, data)
    assert code == 1
    assert "alias bomb" in stderr and stderr.count("\n") == 1, stderr
    assert seconds < 1.0, f"{seconds:.2f} s"
    assert peak_kib < 64 * 1024, f"peak RSS {peak_kib} KiB"
