"""Typed records as a wire format: the Record base, the parser, the unknown-field suggestions and the JSON Schema.

A record's fields are described once, by their annotations: `Annotated[type, Field(...)]` adds what the type does
not say (the wire key when it is not the camelCase of the name, a doc line, a value check). Field names are
snake_case in Python and camelCase on the wire.

A Record is an immutable tuple with named fields, like a NamedTuple, built without `typing`: importing `typing`
and building ~30 `typing.NamedTuple` classes cost ~10 ms per process, an eighth of the YAML floor the function is
held to (docs/evidence-performance.md), and `dataclasses` more. The annotations stay strings (`from __future__ import
annotations`) until the parser or the schema needs a record's types; then they are evaluated once, with the
module's own names and this module's stand-ins for `Annotated`, `Literal` and `Any` (type checkers see typing's).
Parsed maps are read-only (MappingProxyType) and lists tuples, all the way down, so a parsed spec is frozen;
`thaw()` gives fresh plain dicts and lists for the objects built from it.

Over 300 lines because the Record base, its parser and its JSON Schema read the same annotations: the wire format
is defined in one place.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Mapping
from operator import itemgetter
from types import MappingProxyType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from typing import NamedTuple as Record
else:

    class _RecordMeta(type):
        """Builds a Record class: its annotated names become read-only fields in order, class values defaults."""

        def __new__(mcls, name: str, bases: tuple, namespace: dict) -> type:
            if "__annotations__" not in namespace or bases == (tuple,):
                return super().__new__(mcls, name, bases, namespace)
            names = tuple(namespace["__annotations__"])
            defaults = {key: namespace.pop(key) for key in names if key in namespace}
            for index, key in enumerate(names):
                namespace[key] = property(itemgetter(index), doc=f"field {index}: {key}")
            namespace["__slots__"] = ()
            namespace["_fields"] = names
            namespace["_field_defaults"] = MappingProxyType(defaults)
            return super().__new__(mcls, name, bases, namespace)

    class Record(tuple, metaclass=_RecordMeta):
        """An immutable tuple with named fields: `Record(a, b=1)`, `.a`, `_replace()`, `_asdict()`, `_fields`."""

        __slots__ = ()
        _fields: tuple[str, ...] = ()
        _field_defaults: Mapping[str, Any] = MappingProxyType({})

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            names = cls._fields
            if len(args) == len(names) and not kwargs:
                return tuple.__new__(cls, args)
            if len(args) > len(names):
                raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, {len(args)} given")
            values = list(args)
            for key in names[len(args) :]:
                if key in kwargs:
                    values.append(kwargs.pop(key))
                elif key in cls._field_defaults:
                    values.append(cls._field_defaults[key])
                else:
                    raise TypeError(f"{cls.__name__}() missing required argument: {key!r}")
            if kwargs:
                raise TypeError(f"{cls.__name__}() got unexpected or repeated arguments: {', '.join(kwargs)}")
            return tuple.__new__(cls, values)

        def _replace(self, **changes: Any) -> Any:
            return type(self)(**{**self._asdict(), **changes})

        def _asdict(self) -> dict[str, Any]:
            return dict(zip(self._fields, self, strict=True))

        def __repr__(self) -> str:
            shown = ", ".join(f"{key}={value!r}" for key, value in zip(self._fields, self, strict=True))
            return f"{type(self).__name__}({shown})"

        def __getnewargs__(self) -> tuple:
            return tuple(self)


class _Form:
    """What a subscripted stand-in evaluates to: `Literal["a", "b"]`, `Annotated[str, Field()]`."""

    __slots__ = ("args", "origin")

    def __init__(self, origin: _Special, args: tuple) -> None:
        self.origin, self.args = origin, args

    def __or__(self, other: Any) -> _Form:
        return _Form(UNION, (self, type(None) if other is None else other))

    def __ror__(self, other: Any) -> _Form:
        return _Form(UNION, (type(None) if other is None else other, self))

    def __repr__(self) -> str:
        return f"{self.origin.name}[{', '.join(map(repr, self.args))}]"


class _Special:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __getitem__(self, args: Any) -> _Form:
        return _Form(self, args if isinstance(args, tuple) else (args,))

    def __repr__(self) -> str:
        return self.name


ANNOTATED, LITERAL, UNION = _Special("Annotated"), _Special("Literal"), _Special("Union")
_STAND_INS = {"Annotated": ANNOTATED, "Literal": LITERAL, "Any": object}


def origin(tp: Any) -> Any:
    """What a type is built from: LITERAL, UNION, tuple, Mapping (collections.abc), or None for a plain type."""
    if isinstance(tp, _Form):
        return tp.origin
    if isinstance(tp, types.UnionType):
        return UNION
    return getattr(tp, "__origin__", None)


def args(tp: Any) -> tuple:
    return tp.args if isinstance(tp, _Form) else getattr(tp, "__args__", ())


class ConfigError(Exception):
    """One or more problems with the functionConfig: (field path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


INT32_MAX = 2**31 - 1
# Immutable, so the default shared by every record cannot be changed through one of them.
EMPTY: Mapping[str, Any] = MappingProxyType({})


class Field(Record):
    """What a field's type does not say: its wire name when not camelCase, its doc, its value check, and for an
    integer its largest value (int32 unless said: what most Kubernetes integer fields are)."""

    key: str = ""
    doc: str = ""
    check: Callable[[Any], str | None] | None = None
    maximum: int = INT32_MAX


_NO_FIELD = Field()
_MISSING = object()


class FieldInfo(Record):
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
        scope = {**vars(sys.modules[cls.__module__]), **_STAND_INS}
        found = {}
        for name in cls._fields:
            hint, meta = eval(cls.__annotations__[name], scope), _NO_FIELD
            if origin(hint) is ANNOTATED:
                hint, meta = args(hint)
            found[wire_key(name, meta)] = FieldInfo(name, hint, meta, cls._field_defaults.get(name, _MISSING))
        _FIELDS_CACHE[cls] = found
    return _FIELDS_CACHE[cls]


def unwrap_optional(tp: Any) -> tuple[bool, Any]:
    """(whether None is allowed, the type without None): a union of several other types stays a union."""
    if origin(tp) is UNION:
        others = tuple(a for a in args(tp) if a is not type(None))
        return len(others) < len(args(tp)), others[0] if len(others) == 1 else _Form(UNION, others)
    return False, tp


def alternatives(tp: Any) -> tuple[Any, ...]:
    """The types of a union such as `int | Literal["auto"]` (tried in order), or () for any other type."""
    return args(tp) if origin(tp) is UNION else ()


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
    form = origin(tp)
    if alternatives(tp):
        name = " or ".join(_type_name(option) for option in alternatives(tp))
    elif is_record(tp) or form is Mapping:
        name = "an object"
    elif form is tuple:
        name = "a list"
    elif form is LITERAL and len(args(tp)) == 1:
        name = str(args(tp)[0])
    elif form is LITERAL:
        name = "one of " + ", ".join(map(str, args(tp)))
    else:
        name = {str: "a string", int: "an integer", bool: "true or false"}[tp]
    return name + (" or null" if optional else "")


def shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return repr(value) if hasattr(value, "digits") else f"a {value.bit_length()}-bit integer"
    if isinstance(value, str) and len(value) > 40:  # a message stays one readable line
        return f"{value[:40]!r}... ({len(value)} characters)"
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
        form = origin(tp)
        if alternatives(tp):
            for option in alternatives(tp):
                trial = Parser()
                value = trial.value(option, raw, path, maximum)
                if not trial.problems:
                    return value
            return self.wrong(tp, raw, path)
        if is_record(tp):
            return self.record(tp, raw, path)
        if form is tuple:
            if not isinstance(raw, list):
                return self.wrong(tp, raw, path)
            (item_type, _) = args(tp)
            return tuple(self.value(item_type, item, f"{path}[{i}]") for i, item in enumerate(raw))
        if form is Mapping:
            if not isinstance(raw, dict):
                return self.wrong(tp, raw, path)
            _, value_type = args(tp)
            if value_type is str:
                for key, value in raw.items():
                    if not isinstance(value, str):
                        self.problem(f"{path}.{key}", f"must be a string, got {shown(value)}")
            return freeze(raw)
        if form is LITERAL:
            choices = args(tp)
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

    def reported_under(self, path: str) -> bool:
        """A problem at path or inside it (`a.b`, `a[0]`), never at a field whose name path prefixes (`ab`)."""
        return any(p == path or p.startswith((path + ".", path + "[")) for p, _ in self.problems)

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
            if check is not None and value is not None and not self.reported_under(where):
                message = check(value)
                if message:
                    self.problem(where, message)
            kwargs[field.name] = value
        if self.reported_under(path):
            return None
        return cls(**kwargs)


def schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a record type (or of a field type)."""
    optional, tp = unwrap_optional(tp)
    form = origin(tp)
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
    elif form is tuple:
        result = {"type": "array", "items": schema(args(tp)[0])}
    elif form is Mapping:
        value_type = args(tp)[1]
        result = {"type": "object"}
        if value_type is str:
            result["additionalProperties"] = {"type": "string"}
    elif form is LITERAL:
        result = {"enum": list(args(tp))}
    else:
        result = {"type": {str: "string", int: "integer", bool: "boolean"}[tp]}
        if tp is int:
            result["minimum"] = 0
    if optional:
        result = {"anyOf": [result, {"type": "null"}]}
    return result
