"""records: the record parser (every problem, with the field path and the nearest key) and frozen values."""

from __future__ import annotations

import pytest

from executor_dind.records import LITERAL, ConfigError, Field, Parser, Record, args, fields, origin, schema
from executor_dind.spec import Queue, Spec

from .helpers import problems

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Annotated, Literal


def test_spec_is_frozen():
    with pytest.raises(AttributeError):
        Spec().namespace = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "path", "suggestion"),
    [
        ({"queus": []}, "spec.queus", "queues"),
        ({"namespce": "x"}, "spec.namespce", "namespace"),
        ({"frontend": {"ulr": "x"}}, "spec.frontend.ulr", "url"),
        ({"frontend": {"passwordSecret": {"nmae": "x"}}}, "spec.frontend.passwordSecret.nmae", "name"),
        ({"queues": [{"name": "batches", "replica": 2}]}, "spec.queues[0].replica", "replicas"),
        ({"queues": [{"name": "batches", "queueName": ["batches"]}]}, "spec.queues[0].queueName", "queueNames"),
        ({"hardening": {"nodePool": {"enabeld": True}}}, "spec.hardening.nodePool.enabeld", "enabled"),
        ({"hardening": {"gVisor": {}}}, "spec.hardening.gVisor", "gvisor"),
        (
            {"hardening": {"networkPolicy": {"deniedCidrs": []}}},
            "spec.hardening.networkPolicy.deniedCidrs",
            "deniedCIDRs",
        ),
        ({"privateRegistry": {"remoteURL": "x"}}, "spec.privateRegistry.remoteURL", "remoteUrl"),
        ({"docker": {"nativesidecar": True}}, "spec.docker.nativesidecar", "nativeSidecar"),
        ({"replaceUpstreams": True}, "spec.replaceUpstreams", "replaceUpstream"),
    ],
)
def test_unknown_field_is_named_with_the_nearest_valid_key(raw, path, suggestion):
    assert problems(raw) == [(path, f"unknown field (did you mean {suggestion!r}?)")]


def test_unknown_field_without_a_near_key_has_no_suggestion():
    assert problems({"replicas": 3}) == [("spec.replicas", "unknown field")]


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ("a string", "spec", "must be an object, got 'a string'"),
        ({"frontend": {"url": 5}}, "spec.frontend.url", "must be a string, got 5"),
        ({"frontend": "http://x"}, "spec.frontend", "must be an object, got 'http://x'"),
        ({"queues": "batches"}, "spec.queues", "must be a list, got 'batches'"),
        ({"queues": [5]}, "spec.queues[0]", "must be an object, got 5"),
        (
            {"queues": [{"name": "batches", "replicas": "2"}]},
            "spec.queues[0].replicas",
            "must be a non-negative integer, got '2'",
        ),
        (
            {"queues": [{"name": "batches", "replicas": True}]},
            "spec.queues[0].replicas",
            "must be a non-negative integer, got True",
        ),
        (
            {"queues": [{"name": "batches", "replicas": -1}]},
            "spec.queues[0].replicas",
            "must be a non-negative integer, got -1",
        ),
        ({"queues": [{"name": "batches", "env": ["A=b"]}]}, "spec.queues[0].env", "must be an object, got a list"),
        ({"docker": {"nativeSidecar": "yes"}}, "spec.docker.nativeSidecar", "must be true or false, got 'yes'"),
        ({"docker": {"mtu": 1.5}}, "spec.docker.mtu", "must be an integer or auto, got 1.5"),
        (
            {"terminationGracePeriodSeconds": "60"},
            "spec.terminationGracePeriodSeconds",
            "must be a non-negative integer, got '60'",
        ),
        (
            {"hardening": {"nodePool": {"nodeSelector": {"pool": 1}}}},
            "spec.hardening.nodePool.nodeSelector.pool",
            "must be a string, got 1",
        ),
        (
            {"hardening": {"networkPolicy": {"allowedCIDRs": "10.0.0.0/8"}}},
            "spec.hardening.networkPolicy.allowedCIDRs",
            "must be a list, got '10.0.0.0/8'",
        ),
        (
            {"log": {"level": "debug"}},
            "spec.log.level",
            "must be one of dbug, info, warn, eror, crit, got 'debug' (did you mean 'dbug'?)",
        ),
        ({"storage": {"type": "pvc"}}, "spec.storage.type", "must be one of emptyDir, ephemeral, got 'pvc'"),
    ],
)
def test_wrong_types_name_the_field_and_the_expected_type(raw, path, message):
    assert problems(raw) == [(path, message)]


def test_a_nullable_boolean_rejects_strings():
    [(path, message)] = problems({"hardening": {"nodePool": {"enabled": "true"}}})
    assert path == "spec.hardening.nodePool.enabled"
    assert message.startswith("must be true or false") and message.endswith(", got 'true'")


def test_every_problem_is_reported_not_only_the_first():
    # Field problems in spec order; cross-field checks (ephemeral without a size) wait for a well-typed spec.
    assert problems(
        {"queus": [], "hardening": {"profile": "strct"}, "storage": {"type": "ephemeral"}, "docker": {"mtu": "x"}}
    ) == [
        ("spec.queus", "unknown field (did you mean 'queues'?)"),
        ("spec.docker.mtu", "must be an integer or auto, got 'x'"),
        (
            "spec.hardening.profile",
            "must be one of baseline, recommended, strict, got 'strct' (did you mean 'strict'?)",
        ),
    ]


def test_config_error_message_joins_the_problems():
    error = ConfigError([("spec.a", "one"), ("spec.b", "two")])
    assert str(error) == "spec.a: one; spec.b: two"


class Pair(Record):
    left: str
    right: int = 2


def test_a_record_is_a_frozen_tuple_with_named_fields_and_defaults():
    pair = Pair("a")
    assert (pair, pair.left, pair.right, Pair._fields) == (("a", 2), "a", 2, ("left", "right"))
    assert Pair(right=3, left="b") == ("b", 3) and Pair("c", 4) == ("c", 4)
    assert (pair._replace(right=5), pair._asdict(), repr(pair)) == (
        ("a", 5),
        {"left": "a", "right": 2},
        "Pair(left='a', right=2)",
    )
    with pytest.raises(AttributeError):
        pair.left = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        pair.other = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "Pair() missing required argument: 'left'"),
        (("a",), {"left": "b"}, "Pair() got unexpected or repeated arguments: left"),
        (("a",), {"middle": 1}, "Pair() got unexpected or repeated arguments: middle"),
        (("a", 1, 2), {}, "Pair() takes 2 arguments, 3 given"),
    ],
)
def test_a_record_refuses_wrong_arguments_as_a_class_would(args, kwargs, message):
    with pytest.raises(TypeError) as raised:
        Pair(*args, **kwargs)
    assert str(raised.value) == message


def test_field_types_come_from_the_annotations_evaluated_once():
    queue = fields(Queue)
    assert list(queue)[:3] == ["name", "queueNames", "replicas"]
    assert (queue["name"].type, queue["name"].meta.doc) == (str, "Deployment suffix: executor-<name>")
    assert origin(queue["queueNames"].type) is tuple
    (choices,) = args(queue["queueNames"].type)[:1]
    assert (origin(choices), args(choices)) == (LITERAL, ("batches", "codeintel"))
    assert fields(Queue) is queue


class Sized(Record):
    mtu: Annotated[int | Literal["auto"], Field(doc="d")] = 1200


def test_a_union_is_parsed_alternative_by_alternative_and_its_schema_is_any_of():
    parser = Parser()
    assert [parser.record(Sized, raw, "x") for raw in ({"mtu": 1400}, {"mtu": "auto"}, {})] == [
        Sized(1400),
        Sized("auto"),
        Sized(1200),
    ]
    assert parser.record(Sized, {"mtu": "1400"}, "x") is None
    assert parser.problems == [("x.mtu", "must be an integer or auto, got '1400'")]
    assert schema(Sized)["properties"]["mtu"] == {
        "anyOf": [{"type": "integer", "minimum": 0}, {"enum": ["auto"]}],
        "description": "d",
    }


def _no_x(value: str) -> str | None:
    return "must not hold x" if "x" in value else None


class Volume(Record):
    size_limit: Annotated[str, Field(check=_no_x)] = ""
    size: Annotated[str, Field(check=_no_x)] = ""
    sizes: Annotated[tuple[str, ...], Field(check=lambda items: None if "" not in items else "no empty entry")] = ()


def test_an_error_in_a_field_never_silences_the_check_of_a_field_its_name_prefixes():
    """`size` after `sizeLimit`: the "already reported under this field" test compares whole path segments."""
    parser = Parser()
    assert parser.record(Volume, {"sizeLimit": "x1", "size": "x2"}, "v") is None
    assert parser.problems == [("v.sizeLimit", "must not hold x"), ("v.size", "must not hold x")]
    # the check is still skipped under the field's own path: an entry's type error is reported once
    parser = Parser()
    assert parser.record(Volume, {"sizes": ["", 3]}, "v") is None
    assert parser.problems == [("v.sizes[1]", "must be a string, got 3")]
    # the positive control: good values parse
    assert Parser().record(Volume, {"sizeLimit": "1", "size": "2", "sizes": ["a"]}, "v") == Volume("1", "2", ("a",))
