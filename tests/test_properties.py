"""Property tests: items pass through untouched, the function is idempotent, no input makes it crash or succeed
with nothing.

Example counts are kept small so the file runs in seconds; `--hypothesis-seed` reproduces a failure.
"""

from __future__ import annotations

import os
import string
import subprocess
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from executor_dind import function
from executor_dind.krm.dump import dump
from executor_dind.krm.read import read_resource_list
from executor_dind.krm.write import write_resource_list
from executor_dind.process import process

HEADER = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"


def budget(examples: int, *checks: HealthCheck) -> settings:
    """Small by default; HYPOTHESIS_SCALE=50 hunts harder. No example database written into the checkout."""
    scale = float(os.environ.get("HYPOTHESIS_SCALE", "1"))
    return settings(
        max_examples=max(1, int(examples * scale)),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, *checks],
    )


FAST = budget(60)

# --- arbitrary items, written with arbitrary styles -------------------------------------------------------------

# No line breaks inside scalars: every scalar then fits on its line and comments can go between any two lines.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff\x85"),
    max_size=12,
)
KEY = st.text(alphabet=string.ascii_letters + string.digits + "-._/", min_size=1, max_size=10)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.sampled_from(["", "yes", "no", "on", "0755", "1e3", "~", "null", "- x", "a: b", "#x", "'q'", '"q"', "é ✓"]),
)
VALUE = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEY, inner, max_size=3), max_leaves=12
)
NAME = st.from_regex(r"x-[a-z0-9]{1,8}", fullmatch=True)  # never one of the function's or upstream's names
ITEM = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(["v1", "apps/v1", "networking.k8s.io/v1", "example.com/v1alpha1"]),
        "kind": st.sampled_from(["ConfigMap", "Service", "Deployment", "Secret", "NetworkPolicy", "Widget"]),
        "metadata": st.fixed_dictionaries(
            {"name": NAME},
            optional={
                "namespace": st.sampled_from(["sourcegraph", "other", ""]),
                "annotations": st.dictionaries(
                    st.sampled_from(
                        [
                            "a.example.com/x",
                            "config.kubernetes.io/path",
                            "internal.config.kubernetes.io/id",
                            "description",
                        ]
                    ),
                    TEXT,
                    max_size=3,
                ),
                "labels": st.dictionaries(KEY, TEXT, max_size=2),
            },
        ),
    },
    optional={"data": st.dictionaries(KEY, VALUE, max_size=4), "spec": VALUE},
)
KINDLESS = st.dictionaries(st.sampled_from(["resources", "components", "namespace"]), VALUE, min_size=1, max_size=3)


class _WideDumper(yaml.SafeDumper):
    """Sequences indented under their key (`key:\\n  - x`), as kpt writes `seqindent: wide` files."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


@st.composite
def styled(draw: st.DrawFn, obj: dict[str, Any]) -> str:
    """obj as block YAML with a drawn quoting style, indentation, sequence style and comments."""
    text = yaml.dump(
        obj,
        Dumper=draw(st.sampled_from([yaml.SafeDumper, _WideDumper])),
        default_flow_style=False,
        default_style=draw(st.sampled_from([None, None, "'", '"'])),
        indent=draw(st.sampled_from([2, 4])),
        allow_unicode=draw(st.booleans()),
        sort_keys=draw(st.booleans()),
        width=1 << 20,
    )
    lines = text.splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        where = draw(st.integers(0, 5))
        if where == 0:
            out.append(" " * (len(line) - len(line.lstrip())) + "# " + draw(TEXT))
        out.append(line + ("  # " + draw(TEXT) if where == 1 else ""))
    return "\n".join(out) + "\n"


def as_entry(text: str, wide: bool) -> str:
    """A document's text as an entry of the ResourceList's items sequence."""
    first, rest = ("  - ", "    ") if wide else ("- ", "  ")
    lines = text.splitlines(keepends=True)
    return first + lines[0] + "".join(rest + line for line in lines[1:])


def _identity(obj: Any) -> str:
    """An object's API group, kind, namespace and name, as the readers compare them."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    group = str(obj.get("apiVersion", "")).rpartition("/")[0] if isinstance(obj, dict) else ""
    kind = obj.get("kind") if isinstance(obj, dict) else None
    return repr((group, kind, metadata.get("namespace"), metadata.get("name")))


@st.composite
def resource_lists(
    draw: st.DrawFn, function_config: dict[str, Any] | None = None, first: dict[str, Any] | None = None
) -> tuple[str, list[Any]]:
    """(ResourceList text, the items it holds); `first`, if given, is the first item. No object twice: the
    readers refuse that (the API server would keep the last)."""
    objs = draw(st.lists(st.one_of(ITEM, ITEM, KINDLESS), max_size=5, unique_by=_identity))
    if first is not None:
        objs = [first, *(obj for obj in objs if _identity(obj) != _identity(first))]
    wide = draw(st.booleans())
    entries = [as_entry(draw(styled(obj)), wide) for obj in objs]
    text = HEADER + ("items:\n" + "".join(entries) if entries else "items: []\n")
    if function_config is not None:
        text += dump({"functionConfig": function_config})
    return text, objs


@FAST
@given(resource_lists())
def test_a_resource_list_reads_and_writes_back_byte_for_byte(case):
    text, objs = case
    expected = yaml.safe_load(text)["items"]  # what any YAML parser reads (quoted styles turn numbers to strings)
    assert len(expected) == len(objs)
    resource_list = read_resource_list(text)
    assert write_resource_list(resource_list) == text
    assert [item.obj for item in resource_list.items] == expected


EXECUTORS = {
    "apiVersion": "executor-dind.dev/v1alpha1",
    "kind": "ExecutorDind",
    "metadata": {"name": "x"},
    "spec": {"frontend": {"url": "http://sourcegraph-frontend:30080"}},
}


@FAST
@given(resource_lists(EXECUTORS))
def test_items_the_function_does_not_own_pass_through_unchanged_and_first(case):
    text, objs = case
    resource_list = read_resource_list(text)
    outcome = function.run(resource_list.items, resource_list.function_config)
    foreign = [o for o in objs if o.get("kind") == "NetworkPolicy" and o.get("apiVersion") != "networking.k8s.io/v1"]
    if outcome.failed:
        # The one render refused: a policy the self-audit cannot judge (EXD308: another policy API; EXD307: a
        # NetworkPolicy without a namespace beside namespaced executors), named in every error.
        errors = [r for r in outcome.results if r.severity == "error"]
        assert errors and {r.rule for r in errors} <= {"EXD307", "EXD308"}, [r.line() for r in errors]
        assert all(r.resource.kind == "NetworkPolicy" for r in errors), [r.line() for r in errors]
        assert ("EXD308" in {r.rule for r in errors}) == bool(foreign)
        assert outcome.items == resource_list.items  # refused: the input comes back unchanged
        return
    assert not foreign
    assert outcome.items[: len(objs)] == resource_list.items  # the same items, none lost, none moved
    resource_list.items = outcome.items
    written = write_resource_list(resource_list)
    assert written.startswith(text.split("functionConfig:")[0].removesuffix("items: []\n"))
    assert yaml.safe_load(written)["items"][: len(objs)] == yaml.safe_load(text)["items"]
    assert len(outcome.items) > len(objs)


# --- idempotency over random configs ----------------------------------------------------------------------------

QUEUES = st.sampled_from(
    [
        None,
        [{"name": "batches"}],
        [{"name": "batches", "replicas": 2}, {"name": "codeintel", "maximumNumJobs": 8}],
        [{"name": "all", "queueNames": ["codeintel", "batches"], "env": {"FOO": "bar"}}],
    ]
)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    profile = draw(st.sampled_from(["baseline", "recommended", "strict"]))
    if profile == "strict" or draw(st.booleans()):
        spec["namespace"] = "executors"
    spec["hardening"] = {"profile": profile}
    if draw(st.booleans()):
        spec["hardening"]["gvisor"] = {"enabled": draw(st.booleans()), "createRuntimeClass": draw(st.booleans())}
    queues = draw(QUEUES)
    if queues:
        spec["queues"] = queues
    spec["docker"] = {"nativeSidecar": draw(st.booleans()), "mtu": draw(st.sampled_from([1200, 1450]))}
    spec["privateRegistry"] = {"enabled": draw(st.booleans())}
    spec["replaceUpstream"] = draw(st.booleans())
    return spec


FRONTEND = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "sourcegraph-frontend", "namespace": "sourcegraph"},
    "spec": {"selector": {"app": "sourcegraph-frontend"}, "ports": [{"name": "http", "port": 30080}]},
}


def _krm(text: str) -> tuple[str, list[dict[str, Any]]]:
    """One KRM run through the pure core the CLI uses: the output without its results, and the results."""
    processed = process(text.encode())
    assert processed.code == 0, processed.messages
    output = processed.output.decode()
    # The top-level `results:` key is the only line "results:" at column 0, and the last key.
    kept, _, _ = output.partition("\nresults:\n")
    return kept + "\n", yaml.safe_load(output).get("results", [])


KPT_FRONTEND = {
    **FRONTEND,
    "metadata": {
        **FRONTEND["metadata"],
        "annotations": {
            "config.kubernetes.io/path": "frontend.yaml",
            "internal.config.kubernetes.io/path": "frontend.yaml",
        },
    },
}


@st.composite
def configured(draw: st.DrawFn) -> str:
    spec = draw(specs())
    function_config = {
        "apiVersion": "executor-dind.dev/v1alpha1",
        "kind": "ExecutorDind",
        "metadata": {"name": "x"},
        "spec": spec,
    }
    text, objs = draw(resource_lists(function_config, draw(st.sampled_from([FRONTEND, KPT_FRONTEND]))))
    # An input policy the self-audit cannot judge refuses the render (the pass-through property covers it).
    assume(all(obj.get("kind") != "NetworkPolicy" for obj in objs))
    return text


@FAST
@given(configured())
def test_running_on_its_own_output_changes_nothing(text):
    first, _ = _krm(text)
    second, results = _krm(first)
    assert second == first
    summary = [r["message"] for r in results if r["message"].startswith("executor-dind: ")]
    assert len(summary) == 1 and " unchanged)" in summary[0] and "added" not in summary[0], summary


# --- arbitrary configs: accepted or rejected with a located error, never a crash --------------------------------

SPEC_KEYS = st.sampled_from(
    [
        "namespace",
        "frontend",
        "url",
        "passwordSecret",
        "queues",
        "name",
        "queueNames",
        "replicas",
        "maximumNumJobs",
        "resources",
        "limits",
        "env",
        "maximumRuntimePerJob",
        "terminationGracePeriodSeconds",
        "replaceUpstream",
        "log",
        "level",
        "images",
        "storage",
        "type",
        "size",
        "docker",
        "nativeSidecar",
        "mtu",
        "daemonConfig",
        "privateRegistry",
        "enabled",
        "hardening",
        "profile",
        "nodePool",
        "nodeSelector",
        "gvisor",
        "networkPolicy",
        "allowedCIDRs",
        "dns",
        "nodeLocalIP",
        "podSecurity",
        "queus",
        "batches",
        "codeintel",
        "strict",
    ]
)
SPEC_SCALARS = st.one_of(
    SCALAR,
    st.sampled_from(
        [
            "batches",
            "codeintel",
            "strict",
            "ephemeral",
            "20Gi",
            "30m",
            "10.0.0.0/8",
            "http://x:1",
            "EXECUTOR_QUEUE_NAME",
        ]
    ),
)
SPEC_VALUES = st.recursive(
    SPEC_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SPEC_KEYS, inner, max_size=4),
    max_leaves=15,
)


@FAST
@given(st.dictionaries(SPEC_KEYS, SPEC_VALUES, max_size=5), st.booleans())
def test_arbitrary_configs_are_accepted_or_rejected_with_located_errors(spec, as_configmap):
    if as_configmap:
        data = {
            key: value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip()
            for key, value in spec.items()
        }
        function_config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}
    else:
        function_config = {
            "apiVersion": "executor-dind.dev/v1alpha1",
            "kind": "ExecutorDind",
            "metadata": {"name": "c"},
            "spec": spec,
        }
    text = HEADER + "items:\n" + as_entry(dump(FRONTEND), False) + dump({"functionConfig": function_config})
    resource_list = read_resource_list(text)
    outcome = function.run(resource_list.items, resource_list.function_config)
    if outcome.failed:
        assert outcome.items == resource_list.items
        for result in outcome.results:
            if result.severity == "error":
                assert result.message and "\n" not in result.message.split(":")[0]
                assert "internal error" not in result.message
    else:
        assert len(outcome.items) > 1


# --- arbitrary input never crashes nor succeeds with nothing ----------------------------------------------------


def _main(stdin: str) -> tuple[int, str, str]:
    processed = process(stdin.encode())
    return processed.code, processed.output.decode(), "".join(line + "\n" for line in processed.messages)


def _check_contract(code: int, stdout: str, stderr: str) -> None:
    assert code in (0, 1), (code, stderr)
    assert "Traceback" not in stdout + stderr
    assert "internal error" not in stderr, stderr
    # Composed, not constructed: items passed through may hold tags or values PyYAML cannot construct.
    root = yaml.compose(stdout, Loader=yaml.CSafeLoader)
    top = {key.value: value for key, value in root.value}
    assert top["kind"].value == "ResourceList", stdout[:500]
    results = yaml.safe_load(yaml.serialize(top["results"])) if "results" in top else []
    if code == 0:
        assert top["items"].value, "exit 0 with no items would delete the package"
    else:
        # The errors in one line, after one line per warning (a warning can come with the error that refuses the
        # render, e.g. its own audit's).
        warnings = [r for r in results if r["severity"] != "error"]
        assert len(stderr.splitlines()) in (1, 1 + len(warnings)), stderr
        assert [r for r in results if r["severity"] == "error"], results


@st.composite
def mutated_resource_lists(draw: st.DrawFn) -> str:
    """A valid ResourceList with a slice of its text replaced by drawn text: near-valid input."""
    text, _ = draw(resource_lists(EXECUTORS))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 20)))
    return text[:start] + draw(st.text(max_size=10)) + text[end:]


YAML_DOCUMENTS = st.builds(
    lambda value, kind: yaml.safe_dump({"kind": kind, "items": value} if kind else value),
    VALUE,
    st.sampled_from([None, "ResourceList"]),
)


@budget(150)
@given(st.one_of(st.text(max_size=200), mutated_resource_lists(), YAML_DOCUMENTS))
def test_arbitrary_text_never_crashes_nor_succeeds_empty(stdin):
    _check_contract(*_main(stdin))


@pytest.fixture(scope="module")
def executable() -> str:
    from conftest import find_tool

    return find_tool("executor-dind")


@budget(15, HealthCheck.function_scoped_fixture)
@given(st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_arbitrary_bytes_through_the_executable(executable, stdin):
    proc = subprocess.run([executable], input=stdin, capture_output=True, check=False, timeout=60)
    assert proc.returncode in (0, 1)
    assert b"Traceback" not in proc.stdout + proc.stderr
    assert b"internal error" not in proc.stderr, proc.stderr
    assert proc.stderr.count(b"\n") == 1, proc.stderr
    if proc.returncode == 0:
        assert yaml.safe_load(proc.stdout)["items"]
