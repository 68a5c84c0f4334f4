"""Composed YAML nodes: the input composed once by libyaml, plain scalars' tags resolved only when asked for, a
node's fields looked up without building objects, and a node built into Python objects when an item is read."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from executor_dind.krm.errors import InputError
from executor_dind.libyaml import MappingNode, Node, ScalarNode, SequenceNode, yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_NO_PATH_RESOLVERS: dict[Any, Any] = {}
STR, SEQ, MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
# The tag of a composed plain scalar until it is asked for (no YAML tag is empty: libyaml refuses `!<>`).
_PLAIN = ""
_BOOL, _NULL, _INT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:int"
_FLOAT, _TIMESTAMP = "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"


def _words(*words: str) -> frozenset[str]:
    """A resolver pattern that is a list of words, as a set: its `$` also matches before a final newline."""
    return frozenset((*words, *(word + "\n" for word in words)))


# The bool and null patterns are lists of words; for the others, a test that every value the pattern matches
# passes, so the pattern is compiled and run only for values it may match: compiling them is ~2 ms a process
# (the timestamp's alone ~1 ms), and most values with a digit first are versions, quantities and addresses.
# Every float has exactly one ".", a timestamp a "-" after four digits, and an int only digits, "_", ":" and
# "b" after its sign unless it is hexadecimal ("0x").
_WORD_TAGS = {
    _BOOL: _words(
        *("yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE"),
        *("false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"),
    ),
    _NULL: _words("~", "null", "Null", "NULL", ""),
}
_DECIMAL_INT_CHARS = frozenset("0123456789_:b\n")


def _may_be_int(value: str) -> bool:
    digits = value.lstrip("+-")
    return digits[:2] == "0x" or _DECIMAL_INT_CHARS.issuperset(digits)


_MAY_MATCH = {
    _FLOAT: lambda value: value.count(".") == 1,
    _INT: _may_be_int,
    _TIMESTAMP: lambda value: value[4:5] == "-",
}


def _plain_tag(value: str) -> str:
    """The safe schema's tag for a plain scalar: its implicit resolvers, looked up by first character."""
    if value.isdigit() and value.isascii() and (value[0] != "0" or len(value) == 1):
        return _INT  # what the int pattern's `0|[1-9][0-9_]*` matches (a float has a ".", a timestamp a "-")
    for tag, pattern in _IMPLICIT.get(value[:1], ()):
        words = _WORD_TAGS.get(tag)
        if words is not None:
            if value in words:
                return tag
            continue
        may_match = _MAY_MATCH.get(tag)
        if (may_match is None or may_match(value)) and pattern.match(value):
            return tag
    return STR


def tag_of(node: Node) -> str:
    """A composed node's tag, resolved now if it is a plain scalar's."""
    return node.tag or _plain_tag(node.value)


class SafeTags:
    """The tag resolution libyaml's emitter calls back for every node, made cheap: with PyYAML's generic
    resolver it is a third of composing the upstream base. Same tags: the safe schema's implicit resolvers by
    first character, and no path resolvers or wildcard resolvers (the safe schema has none)."""

    # Called around every node to track path resolvers, of which there are none: C no-ops with the same arity.
    descend_resolver = _NO_PATH_RESOLVERS.get
    ascend_resolver = _NO_PATH_RESOLVERS.clear

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _plain_tag(value) if implicit[0] else STR
        return SEQ if kind is SequenceNode else MAP


class _ComposeLoader(SafeTags, yaml.CSafeLoader):
    """Composes with the tags of plain scalars left unresolved (_PLAIN): most of the input is passed through as
    text and never needs them, and matching each one is a fifth of composing the upstream base. tag_of()
    resolves one; construct() resolves a whole node first."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else STR
        return SEQ if kind is SequenceNode else MAP


def compose(text: str, source: str) -> Iterator[Node]:
    """The documents of a normalised text, composed; not YAML is an InputError naming `source`."""
    try:
        yield from yaml.compose_all(text, Loader=_ComposeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"{source}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise InputError(f"{source}: not valid YAML: nested too deeply") from None


def resolve_plain_tags(root: Node) -> None:
    """Give every plain scalar under root its tag, before PyYAML's constructor (which reads node.tag, merge keys
    included) sees them. Only the composed nodes of an item being read are walked."""
    todo = [root]
    seen: set[int] = set()
    while todo:
        node = todo.pop()
        if id(node) in seen:  # an alias: the same node again
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            if not node.tag:
                node.tag = _plain_tag(node.value)
        else:
            todo.extend(children(node))


def children(node: Node) -> Sequence[Node]:
    """A node's keys and values in order (a mapping's), or its entries (a sequence's)."""
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    return node.value if isinstance(node, SequenceNode) else ()


def child(node: Node | None, key: str) -> Node | None:
    """The value of a mapping node's first `key`."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                return value_node
    return None


def scalar(node: Node | None, *path: str) -> str:
    """The string at a path of keys, or "" when there is none."""
    for key in path:
        node = child(node, key)
    return node.value if isinstance(node, ScalarNode) and tag_of(node).endswith(":str") else ""


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and tag_of(node).endswith(":null")


def kind_of(node: Node) -> str:
    """What a node is, for an error that says what was found instead."""
    if isinstance(node, ScalarNode):
        return "null" if tag_of(node).endswith(":null") else f"the scalar {node.value[:40]!r}"
    return "a list" if isinstance(node, SequenceNode) else "an object"


# --- values -----------------------------------------------------------------------------------------------------


class HugeInt(int):
    """An integer literal too long to convert (Python refuses more than 4300 digits, and converting is
    quadratic): a number larger than any field allows, which says how long it was instead of its digits, and is
    written out as the digits it was read from."""

    literal: str
    digits: int

    def __new__(cls, literal: str, digits: int) -> HugeInt:
        value = super().__new__(cls, 2**256)
        value.literal = literal
        value.digits = digits
        return value

    def __repr__(self) -> str:
        return f"an integer of {self.digits} digits"

    __str__ = __repr__


_MAX_INT_DIGITS = 64


def _construct_int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    digits = len(node.value.replace("_", "").lstrip("+-"))
    if digits > _MAX_INT_DIGITS:
        return HugeInt(node.value, digits)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


class Loader(yaml.CSafeLoader):
    """A loader that only constructs: nodes come from compose(), built once for the whole input."""

    def __init__(self) -> None:
        super().__init__("")


def _timestamp_or_text(loader: yaml.SafeLoader, node: ScalarNode) -> Any:
    # A plain scalar shaped like a date but no date (2024-02-30): its text, as Kubernetes' JSON conversion keeps it.
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return node.value


Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)
Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def construct(node: Node, where: str) -> Any:
    """The Python object of a node; what PyYAML cannot build (an unknown tag, an unhashable key) is an
    InputError naming `where`. An integer of more than 64 digits is a HugeInt."""
    resolve_plain_tags(node)
    try:
        return Loader().construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "cannot be constructed"
        raise InputError(f"{where}: cannot read the value{at}: {problem}") from None
    except (yaml.YAMLError, TypeError, KeyError, OverflowError, ValueError) as error:
        raise InputError(f"{where}: cannot read a value: {error}") from None
