"""Property: every numeric and duration field of the config, in both forms of the functionConfig (ExecutorDind
and the ConfigMap of dotted keys), given Unicode digits, numbers of thousands of digits or durations beyond Go's
range, gives errors located at that field (or the ConfigMap key holding it) and never an internal error.

The fields are found by walking the records, so a new numeric or duration field is covered without a change here.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from executor_dind import values
from executor_dind.function_config import parse_function_config
from executor_dind.records import ConfigError, alternatives, args, fields, is_record, origin, unwrap_optional
from executor_dind.spec import API_VERSION, KIND, Spec

# What a record in a list, or an optional record, needs besides the field under test to be valid.
REQUIRED = {"queues": {"name": "batches"}, "autoscaling": {"maxReplicas": 2}}
DURATION_CHECKS = (values.duration, values.optional_duration)


def _walk(cls: type, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """(wire path, "number" or "duration") of every such field under cls; a list of records is entered at [0]."""
    found = []
    for key, info in fields(cls).items():
        _, tp = unwrap_optional(info.type)
        if is_record(tp):
            found += _walk(tp, (*path, key))
        elif origin(tp) is tuple and is_record(args(tp)[0]):
            found += _walk(args(tp)[0], (*path, key))
        elif tp is int or int in alternatives(tp):
            found.append(((*path, key), "number"))
        elif info.meta.check in DURATION_CHECKS:
            found.append(((*path, key), "duration"))
    return found


FIELDS = _walk(Spec, ())
LISTS = {key for key, info in fields(Spec).items() if origin(info.type) is tuple}


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """The raw spec that sets path to value: lists of records hold one entry, required fields filled in."""
    head, *rest = path
    if not rest:
        return {head: value}
    inner = {**REQUIRED.get(head, {}), **_nested(tuple(rest), value)}
    if head == "autoscaling" and rest == ["maxReplicas"]:
        inner = _nested(tuple(rest), value)
    return {head: [inner] if head in LISTS else inner}


def _field_path(root: str, path: tuple[str, ...]) -> str:
    return root + "".join(f".{key}[0]" if key in LISTS else f".{key}" for key in path[:-1]) + f".{path[-1]}"


def _configs(path: tuple[str, ...], value: Any) -> list[tuple[dict[str, Any], str, str]]:
    """(functionConfig, the field's path in its errors, the ConfigMap key holding it) in both forms."""
    typed = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "c"}, "spec": _nested(path, value)}
    text = value if isinstance(value, str) else str(value)
    if path[0] in LISTS:
        # YAML flow with the value written plainly, as a user types it (so digits are a number to YAML)
        flow = yaml.safe_dump(_nested(path, "VALUE")[path[0]], default_flow_style=True, width=10**6).strip()
        data = {path[0]: flow.replace("VALUE", text)}
        key = f"data.{path[0]}"
    else:
        data = {".".join(path): text}
        key = "data." + ".".join(path)
    dotted = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}
    return [(typed, _field_path("spec", path), _field_path("spec", path)), (dotted, _field_path("data", path), key)]


def _problems(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The config's problems; any exception but ConfigError fails the test (an internal error)."""
    try:
        parse_function_config(config)
    except ConfigError as error:
        return error.problems
    return []


UNICODE_DIGITS = st.text(
    alphabet=st.characters(categories=("Nd", "No"), exclude_characters="0123456789"), min_size=1, max_size=4
).map(lambda digits: "1" + digits)
HUGE = st.integers(min_value=20, max_value=6000).map(lambda n: "9" * n)
BEYOND_GO = st.one_of(
    st.builds(lambda n, unit: "9" * n + unit, st.integers(min_value=20, max_value=6000), st.sampled_from("hms")),
    st.sampled_from(["2562048h", "2562047h47m16.854775808s", "153722868m", "9223372037s", "9223372036855ms"]),
)


def _located(problems: list[tuple[str, str]], field: str, key: str) -> None:
    assert problems, "accepted"
    for path, message in problems:
        assert path in (field, key), (path, message)
        assert "internal error" not in message and len(message) < 300, message


NUMBERS = [path for path, kind in FIELDS if kind == "number"]
DURATIONS = [path for path, kind in FIELDS if kind == "duration"]


def test_the_walk_finds_the_fields_this_test_is_about():
    """The positive control for the walk: the fields issue 20 names are among those driven below."""
    assert {("maximumRuntimePerJob",), ("queues", "recycle", "afterTime"), ("docker", "prune", "until")} <= set(
        DURATIONS
    )
    assert {("terminationGracePeriodSeconds",), ("queues", "replicas"), ("docker", "mtu")} <= set(NUMBERS)
    assert len(FIELDS) == len(set(FIELDS)) == 12  # 8 numbers, 4 durations


@pytest.mark.parametrize("path", NUMBERS, ids=".".join)
@settings(max_examples=15, deadline=None, database=None)
@given(st.one_of(UNICODE_DIGITS, HUGE))
def test_numeric_fields_refuse_unicode_digits_and_huge_numbers_at_the_field(path, text):
    for config, field, key in _configs(path, text):
        _located(_problems(config), field, key)
    typed, field, _ = _configs(path, int(text) if text.isascii() and len(text) < 4000 else text)[0]
    _located(_problems(typed), field, field)


@pytest.mark.parametrize("path", DURATIONS, ids=".".join)
@settings(max_examples=15, deadline=None, database=None)
@given(st.one_of(BEYOND_GO, UNICODE_DIGITS.map(lambda digits: digits + "m")))
def test_duration_fields_refuse_what_go_cannot_parse_at_the_field(path, text):
    for config, field, key in _configs(path, text):
        _located(_problems(config), field, key)


@pytest.mark.parametrize("path", NUMBERS + DURATIONS, ids=".".join)
def test_a_valid_value_in_each_field_is_accepted_in_both_forms(path):
    """The positive control: the configs above fail for their value, not for their shape."""
    value = "90m" if path in DURATIONS else "1200" if path[-1] == "mtu" else "1"
    if path[-1] in ("maxReplicas", "jobsPerReplica", "maximumNumJobs", "replicas"):
        value = "2" if path[-1] != "jobsPerReplica" else "1"
    _, dotted = _configs(path, value)
    assert _problems(dotted[0]) == []
    typed = _configs(path, int(value) if path not in DURATIONS else value)[0][0]
    assert _problems(typed) == []
