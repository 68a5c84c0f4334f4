"""Read and write KRM ResourceLists and YAML streams.

Untouched items leave as the text they arrived in: the input is composed once with libyaml (no Python objects
are built for items nobody looks at), each item keeps its source slice, and only items the function creates or
changes are dumped. That keeps kpt's files byte-identical and the function at the speed of the YAML parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

RESOURCE_LIST_KIND = "ResourceList"
PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_ANNOTATIONS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
# Annotations the orchestrator owns on an item; a replaced item keeps the ones it came with.
_ORCHESTRATOR_PREFIXES = ("internal.config.kubernetes.io/", "kustomize.config.k8s.io/", "config.k8s.io/")
_ORCHESTRATOR_KEYS = frozenset((*PATH_ANNOTATIONS[1:], *INDEX_ANNOTATIONS[1:]))
# Any anchor or alias would make an item's text depend on another item's: then every item is dumped instead.
# Anchors and aliases start a node: at a line's start, after "key: ", "- ", "--- " or a flow "[", "{" or ",".
# Shell text such as "a && b" inside a block scalar does not look like that, so it costs no event parse.
# Scanned as: find each "&x" / "*x", then look at what precedes it on its line (a lookbehind-free pattern
# that starts with a character class is what lets the regex engine skip ahead fast).
_ANCHOR_MARK = re.compile(r"[&*][^\s,\[\]{}]")
_ANCHOR_CONTEXT = re.compile(r"(?:[ \t]*(?:-[ \t]+|---[ \t]+)*|.*(?::[ \t]+|[\[{,][ \t]*))")


class InputError(Exception):
    """The input is not YAML, or not the shape the protocol requires."""


def is_orchestrator_annotation(key: str) -> bool:
    return key.startswith(_ORCHESTRATOR_PREFIXES) or key in _ORCHESTRATOR_KEYS


class HugeInt(int):
    """An integer literal too long to convert (Python refuses more than 4300 digits, and converting is
    quadratic): a number larger than any field allows, which says how long it was instead of its digits."""

    def __new__(cls, digits: int) -> HugeInt:
        value = super().__new__(cls, 2**256)
        value.digits = digits
        return value

    def __repr__(self) -> str:
        return f"an integer of {self.digits} digits"

    __str__ = __repr__


_MAX_INT_DIGITS = 64


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    digits = len(node.value.replace("_", "").lstrip("+-"))
    if digits > _MAX_INT_DIGITS:
        return HugeInt(digits)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


class _ConfigLoader(yaml.CSafeLoader):
    """Loads a whole config file, with the guard on huge integers."""


class _Loader(yaml.CSafeLoader):
    """A loader that only constructs: nodes come from compose(), built once for the whole input."""

    def __init__(self) -> None:
        super().__init__("")


for _loader in (_Loader, _ConfigLoader):
    _loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load(text: str) -> Any:
    """One YAML document (a config file), constructed."""
    return yaml.load(text, Loader=_ConfigLoader)


class _Dumper(yaml.CSafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


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
    return node.value if isinstance(node, ScalarNode) and node.tag.endswith(":str") else ""


class Item:
    """One KRM object: its source text (None when created or changed here) and its parsed form.

    Compared by identity: two items with the same content are still two items.
    """

    __slots__ = ("_obj", "node", "text")

    def __init__(self, text: str | None = None, node: Node | None = None, _obj: Any = None) -> None:
        self.text = text
        self.node = node
        self._obj = _obj

    def __repr__(self) -> str:
        return f"Item({self.describe()})"

    @classmethod
    def new(cls, obj: dict[str, Any]) -> Item:
        return cls(_obj=obj)

    @property
    def obj(self) -> Any:
        if self._obj is None and self.node is not None:
            self._obj = _Loader().construct_document(self.node)
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


class ResourceList:
    def __init__(
        self,
        api_version: str,
        items: list[Item],
        function_config: dict[str, Any] | None = None,
        function_config_text: str | None = None,
    ) -> None:
        self.api_version = api_version
        self.items = items
        self.function_config = function_config
        self.function_config_text = function_config_text
        self.results: list[dict[str, Any]] = []


def _compose(text: str, source: str) -> Iterator[Node]:
    try:
        yield from yaml.compose_all(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"{source}: not valid YAML{where}: {problem}") from None


def _has_anchors(text: str) -> bool:
    for mark in _ANCHOR_MARK.finditer(text):
        start = mark.start()
        if _ANCHOR_CONTEXT.fullmatch(text, text.rfind("\n", 0, start) + 1, start):
            return any(getattr(event, "anchor", None) for event in yaml.parse(text, Loader=yaml.CSafeLoader))
    return False


def _slice(text: str, node: Node) -> str:
    body = text[node.start_mark.index : node.end_mark.index].rstrip(" \t")
    return body if body.endswith("\n") else body + "\n"


def _sliceable(text: str, node: Node) -> bool:
    """False when the node runs into the end of a text without a final newline (a literal block there would
    gain a line break, or lose trailing spaces, in its slice): such a node is dumped instead."""
    return node.end_mark.index < len(text) or text.endswith("\n")


def is_resource_list(text: str) -> bool:
    """Whether the text is one YAML document of kind ResourceList (what the KRM protocol sends)."""
    try:
        documents = [node for node in _compose(text, "stdin") if node is not None]
    except InputError:
        return False
    return len(documents) == 1 and _scalar(documents[0], "kind") == RESOURCE_LIST_KIND


def read_resource_list(text: str, source: str = "stdin") -> ResourceList:
    documents = [node for node in _compose(text, source) if node is not None]
    if len(documents) != 1 or _scalar(documents[0], "kind") != RESOURCE_LIST_KIND:
        raise InputError(f"{source}: expected one ResourceList document (kind: {RESOURCE_LIST_KIND})")
    root = documents[0]
    items_node = _child(root, "items")
    if items_node is not None and not isinstance(items_node, SequenceNode):
        if not (isinstance(items_node, ScalarNode) and items_node.tag.endswith(":null")):
            raise InputError(f"{source}: ResourceList.items must be a list of objects")
        items_node = None
    keep_text = not _has_anchors(text) and not (items_node is not None and items_node.flow_style)
    items = []
    for index, node in enumerate(items_node.value if items_node is not None else []):
        if not isinstance(node, MappingNode):
            raise InputError(f"{source}: ResourceList.items[{index}] is not an object")
        items.append(_item(text, node, keep_text, indent=node.start_mark.column))
    config_node = _child(root, "functionConfig")
    function_config = None
    config_text = None
    if isinstance(config_node, MappingNode):
        function_config = _Loader().construct_document(config_node)
        if keep_text and not config_node.flow_style and _sliceable(text, config_node):
            config_text = " " * config_node.start_mark.column + _slice(text, config_node)
    elif config_node is not None and not config_node.tag.endswith(":null"):
        raise InputError(f"{source}: ResourceList.functionConfig must be an object")
    return ResourceList(
        api_version=_scalar(root, "apiVersion") or "config.kubernetes.io/v1",
        items=items,
        function_config=function_config,
        function_config_text=config_text,
    )


def _item(text: str, node: Node, keep_text: bool, indent: int) -> Item:
    # Text is kept only where re-emitting it under "- " reproduces the same columns.
    if keep_text and indent >= 2 and _sliceable(text, node):
        return Item(text=" " * (indent - 2) + "- " + _slice(text, node), node=node)
    return Item(node=node)


def read_stream(text: str, source: str = "stdin") -> list[Item]:
    """A multi-document YAML stream (legacy exec plugin, standalone render). A *List is unwrapped."""
    keep_text = not _has_anchors(text)
    items: list[Item] = []
    for index, node in enumerate(_compose(text, source)):
        if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
            continue  # an empty document: a trailing or doubled `---`
        if not isinstance(node, MappingNode):
            raise InputError(f"{source}: document {index + 1} is not an object")
        nested = _child(node, "items")
        if _scalar(node, "kind").endswith("List") and isinstance(nested, SequenceNode):
            items.extend(Item(node=child) for child in nested.value)
        elif keep_text and node.start_mark.column == 0 and not node.flow_style and _sliceable(text, node):
            items.append(Item(text=_slice(text, node), node=node))
        else:
            items.append(Item(node=node))
    return items


def item_text(item: Item, pad: str = "") -> str:
    """The item as an entry of a block sequence: its original text, or a fresh dump indented by `pad`."""
    if item.text is not None:
        return item.text
    first, *rest = dump(item.obj).splitlines(keepends=True)
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


def write_stream(items: Iterable[Item]) -> str:
    texts = []
    for item in items:
        if item.text is not None and item.node is not None and item.node.start_mark.column == 0:
            texts.append(item.text)
        else:
            texts.append(dump(item.obj))
    return "---\n".join(texts)
