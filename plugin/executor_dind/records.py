"""Typed records (NamedTuples) as a wire format: the parser, the unknown-field suggestions and the JSON Schema.

A record's fields are described once, by their type hints: `Annotated[type, Field(...)]` adds what the type does
not say (the wire key when it is not the camelCase of the name, a doc line, a value check). Field names are
snake_case in Python and camelCase on the wire.

NamedTuples, not dataclasses: immutable and typed alike, but importing `dataclasses` and building a score of
them costs ~15 ms per process, a third of the YAML floor the function is held to (README, Performance). Parsed
maps are read-only (MappingProxyType) and lists tuples, all the way down, so a parsed spec is frozen; `thaw()`
gives fresh plain dicts and lists for the objects built from it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, Literal, NamedTuple, Union

# Immutable, so the default shared by every record cannot be changed through one of them.
EMPTY: Mapping[str, Any] = MappingProxyType({})


class ConfigError(Exception):
    """One or more problems with the functionConfig: (field path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


INT32_MAX = 2**31 - 1


class Field(NamedTuple):
    """What a field's type does not say: its wire name when not camelCase, its doc, its value check, and for an
    integer its largest value (int32 unless said: what most Kubernetes integer fields are)."""

    key: str = ""
    doc: str = ""
    check: Callable[[Any], str | None] | None = None
    maximum: int = INT32_MAX


_NO_FIELD = Field()
_MISSING = object()


class FieldInfo(NamedTuple):
    name: str
    type: Any
    meta: Field
    default: Any


def is_record(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def wire_key(name: str, meta: Field) -> str:
    if meta.key:
        return meta.key
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_FIELDS_CACHE: dict[type, dict[str, FieldInfo]] = {}


def fields(cls: type) -> dict[str, FieldInfo]:
    """Wire key -> field info, from the record's type hints (Annotated carries the Field)."""
    if cls not in _FIELDS_CACHE:
        hints = typing.get_type_hints(cls, include_extras=True)
        found = {}
        for name in cls._fields:
            hint, meta = hints[name], _NO_FIELD
            if typing.get_origin(hint) is Annotated:
                hint, meta = typing.get_args(hint)[0], typing.get_args(hint)[1]
            found[wire_key(name, meta)] = FieldInfo(name, hint, meta, cls._field_defaults.get(name, _MISSING))
        _FIELDS_CACHE[cls] = found
    return _FIELDS_CACHE[cls]


def unwrap_optional(tp: Any) -> tuple[bool, Any]:
    """(whether None is allowed, the type without None): a union of several other types stays a union."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        return optional, args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007 - built from a list
    return False, tp


def alternatives(tp: Any) -> tuple[Any, ...]:
    """The types of a union such as `int | Literal["auto"]` (tried in order), or () for any other type."""
    return typing.get_args(tp) if typing.get_origin(tp) in (Union, types.UnionType) else ()


def freeze(value: Any) -> Any:
    """Read-only maps and tuples all the way down."""
    if isinstance(value, dict):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """Fresh plain dicts and lists (the inverse of freeze): objects built from a spec never share its nodes."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value


def _type_name(tp: Any) -> str:
    optional, tp = unwrap_optional(tp)
    origin = typing.get_origin(tp)
    if alternatives(tp):
        name = " or ".join(_type_name(option) for option in alternatives(tp))
    elif is_record(tp) or origin is Mapping:
        name = "an object"
    elif origin is tuple:
        name = "a list"
    elif origin is Literal and len(typing.get_args(tp)) == 1:
        name = str(typing.get_args(tp)[0])
    elif origin is Literal:
        name = "one of " + ", ".join(map(str, typing.get_args(tp)))
    else:
        name = {str: "a string", int: "an integer", bool: "true or false"}[tp]
    return name + (" or null" if optional else "")


def shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return repr(value) if hasattr(value, "digits") else f"a {value.bit_length()}-bit integer"
    return "a list" if isinstance(value, list) else repr(value)


def nearest(word: str, choices: list[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


class Parser:
    """Walks raw data against the records, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def value(self, tp: Any, raw: Any, path: str, maximum: int = INT32_MAX) -> Any:
        optional, tp = unwrap_optional(tp)
        if raw is None and optional:
            return None
        origin = typing.get_origin(tp)
        if alternatives(tp):
            for option in alternatives(tp):
                trial = Parser()
                value = trial.value(option, raw, path, maximum)
                if not trial.problems:
                    return value
            return self.wrong(tp, raw, path)
        if is_record(tp):
            return self.record(tp, raw, path)
        if origin is tuple:
            if not isinstance(raw, list):
                return self.wrong(tp, raw, path)
            (item_type, _) = typing.get_args(tp)
            return tuple(self.value(item_type, item, f"{path}[{i}]") for i, item in enumerate(raw))
        if origin is Mapping:
            if not isinstance(raw, dict):
                return self.wrong(tp, raw, path)
            _, value_type = typing.get_args(tp)
            if value_type is str:
                for key, value in raw.items():
                    if not isinstance(value, str):
                        self.problem(f"{path}.{key}", f"must be a string, got {shown(value)}")
            return freeze(raw)
        if origin is Literal:
            choices = typing.get_args(tp)
            if raw not in choices:
                hint = nearest(str(raw), [str(c) for c in choices])
                self.problem(path, f"must be {_type_name(tp)}, got {shown(raw)}{hint}")
            return raw
        if tp is bool:
            return raw if isinstance(raw, bool) else self.wrong(tp, raw, path)
        if tp is int:
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                return self.wrong(tp, raw, path, "a non-negative integer")
            if raw > maximum:
                return self.wrong(tp, raw, path, f"an integer of at most {maximum}")
            return raw
        if tp is str:
            return raw if isinstance(raw, str) else self.wrong(tp, raw, path)
        raise TypeError(tp)  # pragma: no cover - a field of an unsupported type is a programming error

    def wrong(self, tp: Any, raw: Any, path: str, expected: str = "") -> None:
        self.problem(path, f"must be {expected or _type_name(tp)}, got {shown(raw)}")

    def record(self, cls: type, raw: Any, path: str) -> Any:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            return self.wrong(cls, raw, path)
        known = fields(cls)
        for key in raw:
            if key not in known:
                self.problem(f"{path}.{key}", f"unknown field{nearest(str(key), list(known))}")
        kwargs = {}
        for key, field in known.items():
            where = f"{path}.{key}"
            if key not in raw:
                if field.default is _MISSING:
                    self.problem(where, "is required")
                continue
            value = self.value(field.type, raw[key], where, field.meta.maximum)
            check = field.meta.check
            if check is not None and value is not None and not any(p[0].startswith(where) for p in self.problems):
                message = check(value)
                if message:
                    self.problem(where, message)
            kwargs[field.name] = value
        if any(p[0].startswith(path + ".") or p[0] == path for p in self.problems):
            return None
        return cls(**kwargs)


def schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a record type (or of a field type)."""
    optional, tp = unwrap_optional(tp)
    origin = typing.get_origin(tp)
    if alternatives(tp):
        result = {"anyOf": [schema(option) for option in alternatives(tp)]}
    elif is_record(tp):
        properties = {}
        required = []
        for key, field in fields(tp).items():
            prop = schema(field.type)
            _, inner = unwrap_optional(field.type)
            if inner is int:
                target = prop["anyOf"][0] if "anyOf" in prop else prop
                target["maximum"] = field.meta.maximum
            if field.meta.doc:
                prop["description"] = field.meta.doc
            if field.default is _MISSING:
                required.append(key)
            properties[key] = prop
        result: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
        if required:
            result["required"] = required
    elif origin is tuple:
        result = {"type": "array", "items": schema(typing.get_args(tp)[0])}
    elif origin is Mapping:
        value_type = typing.get_args(tp)[1]
        result = {"type": "object"}
        if value_type is str:
            result["additionalProperties"] = {"type": "string"}
    elif origin is Literal:
        result = {"enum": list(typing.get_args(tp))}
    else:
        result = {"type": {str: "string", int: "integer", bool: "boolean"}[tp]}
        if tp is int:
            result["minimum"] = 0
    if optional:
        result = {"anyOf": [result, {"type": "null"}]}
    return result
