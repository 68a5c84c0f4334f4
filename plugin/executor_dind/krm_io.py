"""Read and write KRM ResourceLists and YAML streams.

Untouched items leave as the text they arrived in: the input is composed once with libyaml (no Python objects
are built for items nobody looks at), each item keeps its source slice, and only items the function creates or
changes are dumped. That keeps kpt's files byte-identical and the function at the speed of the YAML parser.

Bytes in are never corrupted bytes out: a byte order mark and CR line breaks are normalised before parsing (YAML
reads them as nothing and as line breaks), anchors are followed per item (an item keeps its text unless it uses an
alias to an anchor outside itself), alias bombs and recursive aliases are refused before anything expands them,
and a failure echoes the input ResourceList as it came, with the results added.
"""

from __future__ import annotations

import codecs
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from executor_dind.libyaml import MappingNode, Node, ScalarNode, SequenceNode, yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RESOURCE_LIST_KIND = "ResourceList"
PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_ANNOTATIONS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
# Annotations the orchestrator owns on an item; a replaced item keeps the ones it came with.
_ORCHESTRATOR_PREFIXES = ("internal.config.kubernetes.io/", "kustomize.config.k8s.io/", "config.k8s.io/")
_ORCHESTRATOR_KEYS = frozenset((*PATH_ANNOTATIONS[1:], *INDEX_ANNOTATIONS[1:]))
# How many nodes aliases may add when expanded (what a dump, or any walk over the objects, would build). Real
# manifests add a few; a billion-laughs document adds 10**9 from a few hundred bytes.
MAX_ALIAS_EXPANSION = 100_000
# Where an anchor (&a) or alias (*a) may start: libyaml's anchor names are [0-9A-Za-z_-]+, and the token follows
# whitespace, a line break, a skipped BOM, a flow indicator, or (in flow context) a ':' or '?'. A superset: a
# match in a string or comment only costs a walk over the nodes of the item it is in.
# Found with str.find, not a regular expression: the [&*] character class is tried at every position of the
# input, a twentieth of the whole run over the upstream base.
_MARK_SIGILS = "&*"
_ANCHOR_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")
_BEFORE_MARK = frozenset(" \t\n\r\x85\u2028\u2029\ufeff[{,:?")
# Line breaks for YAML that are not line breaks for str.rfind("\n"): with them, columns cannot be trusted.
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")
# What precedes a sequence entry's node on its line when the entry can be re-emitted as it is. Patterns are
# compiled on first use (re caches them): compiling at import costs every run.
_ENTRY_PREFIX = r" *-[ \t]+"
_DASH_LINE = r" *-(?:[ \t]+#.*|[ \t]*)"


class InputError(Exception):
    """The input is not YAML, or not the shape the protocol requires.

    `resource_list`, when set, is the input as read so far: a failure output echoes it with the results.
    `messages` holds every problem found (the first is the exception's text), each one line.
    """

    def __init__(self, *messages: str, resource_list: ResourceList | None = None) -> None:
        self.messages = [" ".join(message.split("\n")) for message in messages]
        super().__init__(self.messages[0])
        self.resource_list = resource_list


def is_orchestrator_annotation(key: str) -> bool:
    return key.startswith(_ORCHESTRATOR_PREFIXES) or key in _ORCHESTRATOR_KEYS


# --- bytes ------------------------------------------------------------------------------------------------------


def decode(data: bytes, source: str = "stdin") -> str:
    """UTF-8 bytes as text for the readers: a byte order mark dropped, CRLF and CR line breaks made LF (what YAML
    reads them as in any case), anything else that is not UTF-8 an InputError that says where."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if data.startswith(bom):
            raise InputError(
                f"{source}: the input is {name} (it starts with a {name} byte order mark): save it as UTF-8"
            )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - data.rfind(b"\n", 0, error.start)
        raise InputError(
            f"{source}: not valid UTF-8 at line {line}, column {column} (byte 0x{data[error.start]:02x}): "
            "save it as UTF-8"
        ) from None
    return normalize(text)


def normalize(text: str) -> str:
    """The text YAML reads, with the positions Python sees: libyaml skips a leading BOM without counting it (every
    position after it would be off by one), and CR breaks become LF, as a text-mode read makes them."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def encode(text: str) -> bytes:
    return text.encode("utf-8")


# --- objects ----------------------------------------------------------------------------------------------------


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


class _Loader(yaml.CSafeLoader):
    """A loader that only constructs: nodes come from compose(), built once for the whole input."""

    def __init__(self) -> None:
        super().__init__("")


def _timestamp_or_text(loader: yaml.SafeLoader, node: ScalarNode) -> Any:
    # A plain scalar shaped like a date but no date (2024-02-30): its text, as Kubernetes' JSON conversion keeps it.
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return node.value


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def construct(node: Node, where: str) -> Any:
    """The Python object of a node; what PyYAML cannot build (an unknown tag, an unhashable key) is an
    InputError naming `where`. An integer of more than 64 digits is a HugeInt."""
    _resolve_plain_tags(node)
    try:
        return _Loader().construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "cannot be constructed"
        raise InputError(f"{where}: cannot read the value{at}: {problem}") from None
    except (yaml.YAMLError, TypeError, KeyError, OverflowError, ValueError) as error:
        raise InputError(f"{where}: cannot read a value: {error}") from None


_NO_PATH_RESOLVERS: dict[Any, Any] = {}


_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
# The tag of a composed plain scalar until it is asked for (no YAML tag is empty: libyaml refuses `!<>`).
_PLAIN = ""


def _plain_tag(value: str) -> str:
    """The safe schema's tag for a plain scalar: its implicit resolvers, looked up by first character."""
    for tag, pattern in _IMPLICIT.get(value[:1], ()):
        if pattern.match(value):
            return tag
    return _STR


def tag_of(node: Node) -> str:
    """A composed node's tag, resolved now if it is a plain scalar's."""
    return node.tag or _plain_tag(node.value)


class _SafeTags:
    """The tag resolution libyaml's emitter calls back for every node, made cheap: with PyYAML's generic
    resolver it is a third of composing the upstream base. Same tags: the safe schema's implicit resolvers by
    first character, and no path resolvers or wildcard resolvers (the safe schema has none)."""

    # Called around every node to track path resolvers, of which there are none: C no-ops with the same arity.
    descend_resolver = _NO_PATH_RESOLVERS.get
    ascend_resolver = _NO_PATH_RESOLVERS.clear

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _plain_tag(value) if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP


class _ComposeLoader(_SafeTags, yaml.CSafeLoader):
    """Composes with the tags of plain scalars left unresolved (_PLAIN): most of the input is passed through as
    text and never needs them, and matching each one is a fifth of composing the upstream base. tag_of()
    resolves one; construct() resolves a whole node first."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP


def _resolve_plain_tags(root: Node) -> None:
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
            todo.extend(_children(node))


class _Dumper(_SafeTags, yaml.CSafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_huge_int(dumper: yaml.SafeDumper, value: HugeInt) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:int", value.literal)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(HugeInt, _represent_huge_int)


def dump(obj: Any) -> str:
    """Block-style YAML, no anchors, no comments; multi-line strings as literal blocks."""
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 20)


def _child(node: Node | None, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                return value_node
    return None


def _scalar(node: Node | None, *path: str) -> str:
    for key in path:
        node = _child(node, key)
    return node.value if isinstance(node, ScalarNode) and tag_of(node).endswith(":str") else ""


class Item:
    """One KRM object: its source text (None when created or changed here) and its parsed form.

    Compared by identity: two items with the same content are still two items. `where` names it in errors
    (a format and the item's index, formatted only when an error needs it).
    """

    __slots__ = ("_obj", "_where", "node", "text")

    def __init__(
        self,
        text: str | None = None,
        node: Node | None = None,
        _obj: Any = None,
        where: str | tuple[str, int] = "",
    ) -> None:
        self.text = text
        self.node = node
        self._obj = _obj
        self._where = where

    @property
    def where(self) -> str:
        where = self._where
        return where if isinstance(where, str) else where[0].format(where[1])

    def __repr__(self) -> str:
        return f"Item({self.describe()})"

    @classmethod
    def new(cls, obj: dict[str, Any]) -> Item:
        return cls(_obj=obj)

    @property
    def obj(self) -> Any:
        if self._obj is None and self.node is not None:
            self._obj = construct(self.node, f"{self.where or 'item'} ({self.describe()})")
        return self._obj

    def _field(self, *path: str) -> str:
        if self.node is not None:
            return _scalar(self.node, *path)
        value: Any = self._obj
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value if isinstance(value, str) else ""

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.node, MappingNode) if self.node is not None else isinstance(self._obj, dict)

    @property
    def api_version(self) -> str:
        return self._field("apiVersion")

    @property
    def kind(self) -> str:
        return self._field("kind")

    @property
    def name(self) -> str:
        return self._field("metadata", "name")

    @property
    def namespace(self) -> str:
        return self._field("metadata", "namespace")

    def annotation(self, key: str) -> str:
        return self._field("metadata", "annotations", key)

    def label(self, key: str) -> str:
        return self._field("metadata", "labels", key)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity for upsert: API group (not version), kind, namespace, name."""
        return (self.group, self.kind, self.namespace, self.name)

    @property
    def annotations(self) -> dict[str, str]:
        obj = self.obj
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        annotations = meta.get("annotations") if isinstance(meta, dict) else None
        return annotations if isinstance(annotations, dict) else {}

    def describe(self) -> str:
        namespace = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind or '(no kind)'}/{namespace}{self.name or '(no name)'}"


class Document:
    """A composed input document and the text it was composed from."""

    __slots__ = ("root", "text")

    def __init__(self, text: str, root: Node) -> None:
        self.text = text
        self.root = root


class ResourceList:
    def __init__(
        self,
        api_version: str,
        items: list[Item],
        function_config: dict[str, Any] | None = None,
        function_config_text: str | None = None,
        document: Document | None = None,
    ) -> None:
        self.api_version = api_version
        self.items = items
        self.function_config = function_config
        self.function_config_text = function_config_text
        self.results: list[dict[str, Any]] = []
        # The input as it came: what a failure writes back, so that no item is lost or altered.
        self.document = document


# --- reading ----------------------------------------------------------------------------------------------------


def _compose(text: str, source: str) -> Iterator[Node]:
    try:
        yield from yaml.compose_all(text, Loader=_ComposeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"{source}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise InputError(f"{source}: not valid YAML: nested too deeply") from None


def _marks(text: str) -> list[int]:
    """Sorted positions where an anchor or alias may start (never misses one)."""
    found = []
    for sigil in _MARK_SIGILS:
        at = text.find(sigil)
        while at != -1:
            if text[at + 1 : at + 2] in _ANCHOR_CHARS and (not at or text[at - 1] in _BEFORE_MARK):
                found.append(at)
            at = text.find(sigil, at + 1)
    return sorted(found)


def _keeps_text(text: str) -> bool:
    """False when slices cannot be trusted to re-read the same: %TAG directives (tag handles in an item's text
    would have no directive in the output) or line breaks other than LF (columns then disagree with libyaml's)."""
    if text.startswith("%TAG") or "\n%TAG" in text:
        return False
    return not any(char in text for char in _OTHER_BREAKS)


def _children(node: Node) -> Sequence[Node]:
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    return node.value if isinstance(node, SequenceNode) else ()


class _Aliases:
    """Anchors and aliases in one document, followed through its composed nodes (an alias is the anchored node
    itself, reached a second time). Only regions of the text with a mark are walked."""

    def __init__(self, source: str, marks: list[int]) -> None:
        self.source = source
        self.marks = marks
        self.owner: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.region = 0

    def has_mark(self, nodes: Sequence[Node]) -> bool:
        start, end = nodes[0].start_mark.index, nodes[-1].end_mark.index
        at = bisect_left(self.marks, start)
        return at < len(self.marks) and self.marks[at] < end

    def foreign(self, nodes: Sequence[Node], where: str) -> bool:
        """Whether the region (nodes that are written out together) uses an alias to an anchor outside itself.
        Regions are passed in document order; a bomb or a recursive alias is an InputError naming `where`."""
        self.region += 1
        if not self.marks or not self.has_mark(nodes):
            return False
        region, owner, size = self.region, self.owner, self.size
        foreign = False
        known = len(owner)
        expanded = 0
        for root in nodes:
            todo: list[tuple[Node, bool]] = [(root, False)]
            path: set[int] = set()
            while todo:
                node, leaving = todo.pop()
                key = id(node)
                if leaving:
                    path.discard(key)
                    size[key] = 1 + sum(size[id(child)] for child in _children(node))
                    continue
                seen = owner.get(key)
                if seen is not None:
                    if key in path:
                        raise InputError(
                            f"{self.source}: {where}: a YAML alias refers to a node that contains it (a recursive "
                            "alias): no object can be written out from it; replace the alias with the values"
                        )
                    foreign = foreign or seen != region
                    continue
                owner[key] = region
                if isinstance(node, ScalarNode):
                    size[key] = 1
                    continue
                path.add(key)
                todo.append((node, True))
                todo.extend((child, False) for child in reversed(_children(node)))
            expanded += size[id(root)]
        if expanded - (len(owner) - known) > MAX_ALIAS_EXPANSION:
            raise InputError(
                f"{self.source}: {where}: its YAML aliases expand to {expanded:,} nodes, more than the "
                f"{MAX_ALIAS_EXPANSION:,} allowed (an alias bomb?): write the values out instead of aliasing them"
            )
        return foreign


def _line_prefix(text: str, node: Node) -> str:
    start = node.start_mark.index
    return text[start - node.start_mark.column : start]


def _slice(text: str, start: int, node: Node) -> str:
    body = text[start : node.end_mark.index].rstrip(" \t")
    return body if body.endswith("\n") else body + "\n"


def _sliceable(text: str, node: Node) -> bool:
    """False when the node runs into the end of a text without a final newline (a literal block there would
    gain a line break, or lose trailing spaces, in its slice): such a node is dumped instead."""
    return node.end_mark.index < len(text) or text.endswith("\n")


def _entry_text(text: str, node: Node) -> str | None:
    """A block sequence entry's text from the start of its dash's line, or None when it cannot be re-emitted at
    the same columns (a flow sequence, no final newline)."""
    if not isinstance(node, MappingNode) or not _sliceable(text, node):
        return None
    start = node.start_mark.index - node.start_mark.column
    prefix = text[start : node.start_mark.index]
    if prefix == "- " or re.fullmatch(_ENTRY_PREFIX, prefix):
        return _slice(text, start, node)
    if prefix.strip(" "):
        return None
    # The node on a line of its own (kpt writes `- # head comment` above an item): back over blank and comment
    # lines to the dash.
    while start:
        line_start = text.rfind("\n", 0, start - 1) + 1
        line = text[line_start : start - 1]
        if re.fullmatch(_DASH_LINE, line):
            return _slice(text, line_start, node)
        if line.strip(" \t") and not line.lstrip(" \t").startswith("#"):
            return None
        start = line_start
    return None


def _kind_of(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return "null" if tag_of(node).endswith(":null") else f"the scalar {node.value[:40]!r}"
    return "a list" if isinstance(node, SequenceNode) else "an object"


def _not_a_resource_list(documents: list[Node], source: str) -> str:
    expected = f"{source}: expected one ResourceList document (kind: {RESOURCE_LIST_KIND})"
    objects = [node for node in documents if isinstance(node, MappingNode)]
    if any(_scalar(node, "kind") == RESOURCE_LIST_KIND for node in objects):
        return f"{expected}, got {len(documents)} documents"
    if objects and any(_scalar(node, "kind") or _scalar(node, "apiVersion") for node in objects):
        first = Item(node=objects[0]).describe()
        return (
            f"{expected}, got a YAML stream of {len(documents)} document{'s' if len(documents) > 1 else ''} "
            f"({first}{', ...' if len(documents) > 1 else ''}): with no arguments executor-dind is a KRM function "
            "(kpt and kustomize send it a ResourceList); to inject executors into manifests run "
            "`executor-dind render --config CFG -`"
        )
    return expected


def is_resource_list(text: str) -> bool:
    """Whether the text is one YAML document of kind ResourceList (what the KRM protocol sends)."""
    try:
        documents = [node for node in _compose(normalize(text), "stdin") if node is not None]
    except InputError:
        return False
    return len(documents) == 1 and _scalar(documents[0], "kind") == RESOURCE_LIST_KIND


_ROOT_KEYS = ("apiVersion", "kind", "items", "functionConfig", "results")


def read_resource_list(text: str, source: str = "stdin") -> ResourceList:
    text = normalize(text)
    documents = [node for node in _compose(text, source) if node is not None]
    if len(documents) != 1 or _scalar(documents[0], "kind") != RESOURCE_LIST_KIND:
        raise InputError(_not_a_resource_list(documents, source))
    root = documents[0]
    api_version = _scalar(root, "apiVersion") or "config.kubernetes.io/v1"
    keys = [key.value for key, _ in root.value if isinstance(key, ScalarNode)]
    twice = [key for key in _ROOT_KEYS if keys.count(key) > 1]
    if twice:
        raise InputError(
            f"{source}: the ResourceList has the key {twice[0]!r} {keys.count(twice[0])} times: keep one",
            resource_list=ResourceList(api_version, [], document=Document(text, root)),
        )
    unknown = [key for key in keys if key not in _ROOT_KEYS]
    if unknown or len(keys) < len(root.value):
        import difflib

        close = difflib.get_close_matches(unknown[0], _ROOT_KEYS, 1) if unknown else []
        field = f"field {unknown[0]!r}" if unknown else "field (a key that is not a string)"
        raise InputError(
            f"{source}: unknown ResourceList {field}{f' (did you mean {close[0]!r}?)' if close else ''}: "
            "a ResourceList holds apiVersion, kind, items, functionConfig and results",
            resource_list=ResourceList(api_version, [], document=Document(text, root)),
        )
    items_node = _child(root, "items")
    if items_node is not None and not isinstance(items_node, SequenceNode):
        if not (isinstance(items_node, ScalarNode) and tag_of(items_node).endswith(":null")):
            raise InputError(
                f"{source}: ResourceList.items must be a list of objects, got {_kind_of(items_node)}",
                resource_list=ResourceList(api_version, []),
            )
        items_node = None
    echo = ResourceList(api_version, [], document=Document(text, root))
    entries = items_node.value if items_node is not None else []
    problems = [
        f"{source}: ResourceList.items[{index}] is not an object (got {_kind_of(node)}): each item must be a "
        "Kubernetes object (a mapping)"
        for index, node in enumerate(entries)
        if not isinstance(node, MappingNode)
    ]
    config_node = _child(root, "functionConfig")
    if config_node is not None and not isinstance(config_node, MappingNode):
        if not (isinstance(config_node, ScalarNode) and tag_of(config_node).endswith(":null")):
            problems.append(
                f"{source}: ResourceList.functionConfig must be an object (an ExecutorDind or a ConfigMap), "
                f"got {_kind_of(config_node)}"
            )
        config_node = None
    if problems:
        raise InputError(*problems, resource_list=echo)
    keep_text = _keeps_text(text)
    aliases = _Aliases(source, _marks(text))
    items = []
    config_foreign = False
    try:
        for key_node, value_node in root.value:
            if value_node is items_node:
                where = f"{source}: ResourceList.items[{{}}]"
                for index, node in enumerate(entries):
                    own = not aliases.marks or not aliases.foreign(
                        (node,), f"ResourceList.items[{index}] ({Item(node=node).describe()})"
                    )
                    item_text = _entry_text(text, node) if keep_text and own else None
                    items.append(Item(text=item_text, node=node, where=(where, index)))
            elif aliases.marks:
                name = key_node.value if isinstance(key_node, ScalarNode) else "a key"
                foreign = aliases.foreign((key_node, value_node), f"ResourceList.{name}")
                config_foreign = config_foreign or (value_node is config_node and foreign)
        function_config = None
        config_text = None
        if config_node is not None:
            function_config = construct(config_node, f"{source}: ResourceList.functionConfig")
            if keep_text and not config_foreign and not config_node.flow_style and _sliceable(text, config_node):
                prefix = _line_prefix(text, config_node)
                if prefix and not prefix.strip(" "):
                    config_text = _slice(text, config_node.start_mark.index - len(prefix), config_node)
    except InputError as error:
        error.resource_list = echo
        raise
    return ResourceList(
        api_version=api_version,
        items=items,
        function_config=function_config,
        function_config_text=config_text,
        document=echo.document,
    )


def read_stream(text: str, source: str = "stdin") -> list[Item]:
    """A multi-document YAML stream (legacy exec plugin, standalone render). A *List is unwrapped.

    Anchors are local to a document, so a document keeps its text whatever anchors it holds."""
    text = normalize(text)
    keep_text = _keeps_text(text)
    marks = _marks(text)
    items: list[Item] = []
    for index, node in enumerate(_compose(text, source)):
        if node is None or (isinstance(node, ScalarNode) and tag_of(node).endswith(":null")):
            continue  # an empty document: a trailing or doubled `---`
        where = f"{source}: document {index + 1}"
        if not isinstance(node, MappingNode):
            raise InputError(
                f"{where} is not an object (got {_kind_of(node)}): each document must be a Kubernetes object"
            )
        aliases = _Aliases(source, marks)
        nested = _child(node, "items")
        if _scalar(node, "kind").endswith("List") and isinstance(nested, SequenceNode):
            kind = _scalar(node, "kind")
            problems = [
                f"{where} ({kind}): items[{position}] is not an object (got {_kind_of(child)}): each item must be "
                "a Kubernetes object"
                for position, child in enumerate(nested.value)
                if not isinstance(child, MappingNode)
            ]
            if problems:
                raise InputError(*problems)
            for key_node, value_node in node.value:
                if value_node is nested:
                    for position, child in enumerate(nested.value):
                        if marks:
                            describe = Item(node=child).describe()
                            aliases.foreign((child,), f"document {index + 1} ({kind}) items[{position}] ({describe})")
                        items.append(Item(node=child, where=f"{where} ({kind}) items[{position}]"))
                elif marks:
                    aliases.foreign((key_node, value_node), f"document {index + 1} ({kind})")
            continue
        if marks:
            aliases.foreign((node,), f"document {index + 1} ({Item(node=node).describe()})")
        if keep_text and node.start_mark.column == 0 and _sliceable(text, node):
            items.append(Item(text=_slice(text, node.start_mark.index, node), node=node, where=where))
        else:
            items.append(Item(node=node, where=where))
    return items


def read_config(text: str, source: str) -> Any:
    """A config file (legacy plugin, render, explain): one YAML document, never a bomb."""
    text = normalize(text)
    try:
        documents = [node for node in _compose(text, source) if node is not None]
    except InputError as error:
        raise InputError(str(error).replace(f"{source}: ", f"{source}: cannot read the config: ", 1)) from None
    if len(documents) > 1:
        raise InputError(f"{source}: cannot read the config: expected one YAML document, got {len(documents)}")
    if not documents:
        return None
    _Aliases(source, _marks(text)).foreign(documents, "cannot read the config")
    return construct(documents[0], f"{source}: the config")


# --- writing ----------------------------------------------------------------------------------------------------


def _dumped(item: Item) -> str:
    try:
        return dump(item.obj)
    except RecursionError:
        raise InputError(f"{item.where or 'item'} ({item.describe()}): nested too deeply to write out") from None


def item_text(item: Item, pad: str = "") -> str:
    """The item as an entry of a block sequence: its original text, or a fresh dump indented by `pad`."""
    if item.text is not None:
        return item.text
    first, *rest = _dumped(item).splitlines(keepends=True)
    return pad + "- " + first + "".join(pad + "  " + line for line in rest)


def write_resource_list(resource_list: ResourceList) -> str:
    parts = [f"apiVersion: {resource_list.api_version}\nkind: {RESOURCE_LIST_KIND}\n"]
    if resource_list.items:
        parts.append("items:\n")
        # New entries line up with the kept ones (`  - ` when the input was written wide).
        kept = next((item.text for item in resource_list.items if item.text is not None), "")
        pad = " " * (len(kept) - len(kept.lstrip(" ")))
        parts.extend(item_text(item, pad) for item in resource_list.items)
    else:
        parts.append("items: []\n")
    if resource_list.function_config_text is not None:
        parts.append("functionConfig:\n" + resource_list.function_config_text)
    elif resource_list.function_config is not None:
        parts.append(dump({"functionConfig": resource_list.function_config}))
    if resource_list.results:
        parts.append(dump({"results": resource_list.results}))
    return "".join(parts)


def write_failure(resource_list: ResourceList) -> str:
    """A failed run's output: the input ResourceList exactly as it came (every item, the functionConfig, comments
    and anchors byte for byte), with its results replaced by resource_list.results. Falls back to
    write_resource_list for the shapes that cannot be spliced."""
    if resource_list.document is not None:
        document = resource_list.document
        spliced = _splice_results(document.text, document.root, resource_list.results)
        if spliced is not None:
            return spliced
    try:
        return write_resource_list(resource_list)
    except InputError:
        # Items that cannot be dumped (the reason for the failure): their source slices, at their columns.
        text = resource_list.document.text if resource_list.document else ""
        for item in resource_list.items:
            if item.text is None and item.node is not None:
                column = item.node.start_mark.column
                item.text = " " * max(column - 2, 0) + "- " + _slice(text, item.node.start_mark.index, item.node)
        return write_resource_list(resource_list)


def _splice_results(text: str, root: Node, results: list[dict[str, Any]]) -> str | None:
    if not isinstance(root, MappingNode) or not root.value:
        return None
    old = [(key, value) for key, value in root.value if isinstance(key, ScalarNode) and key.value == "results"]
    marks = _marks(text)
    for key, value in old:
        at = bisect_left(marks, key.start_mark.index)
        if at < len(marks) and marks[at] < value.end_mark.index:
            return None  # an anchor there may be aliased elsewhere: keep it, fall back
    if root.flow_style:
        if old or text[root.start_mark.index : root.start_mark.index + 1] != "{":
            return None
        import json

        at = root.start_mark.index + 1
        return f"{text[:at]}results: {json.dumps(results, ensure_ascii=False)}, {text[at:]}"
    column = root.value[0][0].start_mark.column
    starts = []
    for key, _ in root.value:
        if key.start_mark.column != column or _line_prefix(text, key) != " " * column:
            return None
        starts.append(key.start_mark.index - column)
    cuts = []
    for index, (key, value) in enumerate(root.value):
        if any(key is old_key for old_key, _ in old):
            end = starts[index + 1] if index + 1 < len(starts) else value.end_mark.index
            cuts.append((starts[index], end))
    pad = " " * column
    block = "".join(pad + line if line.strip() else line for line in dump({"results": results}).splitlines(True))
    parts = [text[: starts[0]], block]
    position = starts[0]
    for start, end in cuts:
        parts.append(text[position:start])
        position = end
    parts.append(text[position:])
    return "".join(parts)


def write_stream(items: Iterable[Item]) -> str:
    texts = []
    for item in items:
        if item.text is not None and item.node is not None and item.node.start_mark.column == 0:
            texts.append(item.text)
        else:
            texts.append(_dumped(item))
    return "---\n".join(texts)
