"""Where Kubernetes would read the input as other objects than this reader does, refused.

kubectl and the API server decode YAML with sigs.k8s.io/yaml (go-yaml to JSON). Seen with kubectl 1.32's own
decoder (`kubectl annotate --local -o yaml`): of a key given twice it keeps the last, where a reader of the nodes
(the audit, the function's discovery) finds the first; it applies merge keys (`<<`), whose fields a reader of the
keys as written does not see; it reads `!!binary` as the decoded text, `!!set` as an object of nulls and an unknown
tag (`!custom x`) as the value without it, where PyYAML builds bytes, a set, or nothing. And of one object given
twice the API server keeps the last applied. Each case is an InputError naming the file, the line and what each
reader would see; the input as written is never guessed at.
"""

from __future__ import annotations

from bisect import bisect_left

from executor_dind.krm.aliases import ANCHOR_CHARS, has_mark_between, marks
from executor_dind.krm.item import PATH_ANNOTATIONS, Item
from executor_dind.krm.nodes import MAP, SEQ, STR, Loader, children, tag_of
from executor_dind.libyaml import MappingNode, Node, ScalarNode, SequenceNode, yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_CORE = "tag:yaml.org,2002:"
# The tags both readers build the same JSON value from ("" is a plain scalar's, resolved only when read).
_SHARED_TAGS = frozenset(("", STR, SEQ, MAP, *(_CORE + name for name in ("int", "float", "bool", "null"))))
_MERGE = _CORE + "merge"
# What each reader makes of a tag they do not share: (Kubernetes' decoder, PyYAML).
_TAG_READINGS = {
    _CORE + "binary": ("the base64-decoded text", "bytes"),
    _CORE + "set": ("an object whose values are null", "a set"),
    _CORE + "omap": ("a list of one-key objects", "an ordered list of pairs"),
    _CORE + "pairs": ("a list of one-key objects", "a list of pairs"),
    _CORE + "timestamp": ("the text as written", "a datetime"),
}
_UNSHARED_TAG = ("the value with the tag ignored", "no value (it cannot build the tag)")
# A tag starts with `!` followed by a tag character (`!!binary`, `!custom`, `!<tag:...>`) or a space: `! 2`, the
# non-specific tag, which libyaml resolves as a plain scalar (the int 2) and go-yaml as a string ("2").
_TAG_FOLLOW = ANCHOR_CHARS | frozenset("!<%#;/?:@&=+$.~*'() \t")


def disagreements(items: list[Item], text: str) -> list[str]:
    """One message per place where Kubernetes' decoder and this reader would see different objects: duplicate
    keys, merge keys and unshared tags in any item (its nodes, aliases followed), and the same object twice."""
    return [*in_items(items, text), *duplicate_objects(items)]


def tag_marks(text: str) -> list[int]:
    """Sorted positions where a YAML tag may start (never misses one)."""
    return marks(text, "!", _TAG_FOLLOW)


def in_items(items: list[Item], text: str) -> list[str]:
    """The disagreements within items (all but the same object twice)."""
    tags = tag_marks(text)
    aliases = marks(text) if tags else []
    problems = []
    for item in items:
        node = item.node
        if node is None:
            continue
        start, end = node.start_mark.index, node.end_mark.index
        if tags and (has_mark_between(aliases, start, end) or not _in_block_scalars(node, text, tags, start, end)):
            problems.extend(_in_item(item, node, text))
        elif _has_repeated_keys(node):
            problems.extend(_in_item(item, node, ""))
    return problems


def _in_block_scalars(root: Node, text: str, tags: list[int], start: int, end: int) -> bool:
    """Whether every possible tag between start and end is text inside a block scalar under root (a `!` in a
    script: `if ! grep ...`), found by descending to it. Only for a region without anchors or aliases: an alias's
    node is the anchored one, elsewhere in the text."""
    for at in tags[bisect_left(tags, start) : bisect_left(tags, end)]:
        node = root
        while node.__class__ is not ScalarNode:
            found = None
            for child in children(node):
                if child.start_mark.index > at:
                    break
                found = child
            if found is None or found.end_mark.index <= at:
                return False
            node = found
        header = node.start_mark.index
        if node.style not in ("|", ">") or text[header] != node.style or not header < text.find("\n", header) < at:
            return False  # a tagged or flow scalar, a header line, or marks not where the text has them
    return True


class _NeedsTheWalk(Exception):
    """A mapping that repeats a key or holds a `<<`: the document is judged by the walk over its nodes."""


def checked_object(node: MappingNode) -> Any:
    """The object of a document whose text holds no tag, anchor or alias, built as its nodes are checked; None
    when it cannot be built that way (a repeated key or a `<<` under it, a key that is a list or an object, a
    scalar PyYAML refuses, nesting deeper than Python's recursion limit): then the caller keeps its nodes and
    judges them with in_items(), and the object is built only when asked for."""
    try:
        return _built(node, _scalar_loader())
    except (_NeedsTheWalk, yaml.YAMLError, TypeError, KeyError, OverflowError, ValueError, RecursionError):
        return None


def _built(node: Node, loader: Loader) -> Any:
    """What PyYAML's constructor builds from these nodes (without aliases or tags), one call per node instead of
    its generic machinery; a string (most scalars) is the node's own value."""
    if node.__class__ is ScalarNode:
        tag = tag_of(node)
        return node.value if tag == STR else loader.yaml_constructors[tag](loader, node)
    if node.__class__ is MappingNode:
        pairs = node.value
        keys = {key.value for key, _ in pairs}  # a key that is a list or an object: a TypeError
        if len(keys) != len(pairs) or "<<" in keys:
            raise _NeedsTheWalk
        return {_built(key, loader): _built(value, loader) for key, value in pairs}
    return [_built(entry, loader) for entry in node.value]


_LOADERS: list[Loader] = []


def _scalar_loader() -> Loader:
    """The loader whose scalar constructors (int, float, bool, null, timestamp) build the values that are no
    strings; they keep no state between calls, so one serves every document."""
    if not _LOADERS:
        _LOADERS.append(Loader())
    return _LOADERS[0]


def _has_repeated_keys(root: Node) -> bool:
    """Whether a mapping under root repeats a key or holds a `<<` (maybe quoted: _in_item tells): the walk over
    every item, kept to the collections and free of paths (the upstream base's 51 items in a fraction of a ms)."""
    todo = [root]
    while todo:
        node = todo.pop()
        if node.__class__ is MappingNode:
            pairs = node.value
            try:
                keys = {key.value for key, _ in pairs}
            except TypeError:  # a key that is a list or an object: let the full walk say what it is
                return True
            if len(keys) != len(pairs) or "<<" in keys:
                return True
            todo.extend([value for _, value in pairs if value.__class__ is not ScalarNode])
        elif node.__class__ is SequenceNode:
            todo.extend([entry for entry in node.value if entry.__class__ is not ScalarNode])
    return False


def _label(item: Item) -> str:
    file = next((item.annotation(key) for key in PATH_ANNOTATIONS if item.annotation(key)), "")
    return f"{item.where or 'item'} ({item.describe()}{f', file {file}' if file else ''})"


def _seen(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return repr(node.value if len(node.value) <= 40 else node.value[:40] + "...")
    return f"the {'list' if isinstance(node, SequenceNode) else 'object'} at line {node.start_mark.line + 1}"


def _in_item(item: Item, root: Node, text: str) -> list[str]:
    """The item's problems; its tags too when given the text (only items whose text holds a `!` are walked to
    every scalar)."""
    with_tags = bool(text)
    problems: list[str] = []
    todo: list[tuple[Node, str]] = [(root, "")]
    seen: set[int] = set()
    while todo:
        node, path = todo.pop()
        if id(node) in seen:  # an alias: the same node, already judged
            continue
        seen.add(id(node))
        if with_tags and node.tag not in _SHARED_TAGS and node.tag != _MERGE:  # a merge key: said below
            problems.append(_unshared_tag(item, node, path))
        elif with_tags and not node.tag and _non_specific(text, node.start_mark.index) and tag_of(node) != STR:
            problems.append(_non_specific_tag(item, node, path))
        if isinstance(node, MappingNode):
            problems.extend(_in_mapping(item, node, path))
            todo.extend(
                (value, f"{path}.{key.value}" if path else key.value)
                for key, value in reversed(node.value)
                if with_tags or value.__class__ is not ScalarNode
            )
            if with_tags:
                todo.extend((key, path) for key, _ in node.value)
        elif isinstance(node, SequenceNode):
            todo.extend(
                (entry, f"{path}[{index}]")
                for index, entry in reversed(list(enumerate(node.value)))
                if with_tags or entry.__class__ is not ScalarNode
            )
    return problems


def _in_mapping(item: Item, node: MappingNode, path: str) -> list[str]:
    keys = [key.value for key, _ in node.value if key.__class__ is ScalarNode]
    if len(set(keys)) == len(keys) and "<<" not in keys:
        return []
    problems = []
    where = f"{_label(item)}: {path or 'the object'}"
    first: dict[str, Node] = {}
    for key, value in node.value:
        if key.__class__ is not ScalarNode:
            continue
        if key.value == "<<" and tag_of(key) == _MERGE:
            problems.append(_merge_key(item, key, value, path))
            continue
        earlier = first.setdefault(key.value, value)
        if earlier is not value:
            problems.append(
                f"{where} has the key {key.value!r} twice, at line {earlier.start_mark.line + 1} and at line "
                f"{key.start_mark.line + 1}: Kubernetes' decoder (kubectl, the API server) keeps the last "
                f"({_seen(value)}), a reader of the first finds {_seen(earlier)}: keep one"
            )
    return problems


def _merge_key(item: Item, key: Node, value: Node, path: str) -> str:
    sources = value.value if isinstance(value, SequenceNode) else [value]
    merged = [k.value for source in sources if isinstance(source, MappingNode) for k, _ in source.value]
    fields = ", ".join(dict.fromkeys(merged)) or "nothing"
    return (
        f"{_label(item)}: {path or 'the object'} has a YAML merge key (<<) at line {key.start_mark.line + 1}, "
        f"merging in {fields}: Kubernetes' decoder sees those fields there, a reader of the keys as written does "
        "not: write the fields out instead of merging them"
    )


def _unshared_tag(item: Item, node: Node, path: str) -> str:
    tag = node.tag.replace(_CORE, "!!", 1) if node.tag.startswith(_CORE) else node.tag
    kubernetes, pyyaml = _TAG_READINGS.get(node.tag, _UNSHARED_TAG)
    return (
        f"{_label(item)}: {path or 'the object'} has the YAML tag {tag} at line {node.start_mark.line + 1}: "
        f"Kubernetes' decoder reads {kubernetes}, PyYAML {pyyaml}: write the value without the tag"
    )


def _non_specific(text: str, at: int) -> bool:
    """Whether the node properties at `at` (an anchor and a tag, in either order) hold the tag `!`."""
    if text.startswith("&", at):
        while at < len(text) and text[at] not in " \t\n":
            at += 1
        while at < len(text) and text[at] in " \t":
            at += 1
    return text.startswith("!", at) and text[at + 1 : at + 2] in (" ", "\t", "\n")


_PLAIN_READINGS = {"int": "an integer", "float": "a number", "bool": "a boolean", "null": "null"}


def _non_specific_tag(item: Item, node: Node, path: str) -> str:
    resolved = tag_of(node).replace(_CORE, "", 1)
    return (
        f"{_label(item)}: {path or 'the object'} has the non-specific tag ! at line {node.start_mark.line + 1}: "
        f"Kubernetes' decoder reads the string {node.value!r}, PyYAML {_PLAIN_READINGS.get(resolved, resolved)}: "
        "quote the value instead"
    )


def duplicate_objects(items: list[Item]) -> list[str]:
    """The same object (API group, kind, namespace, name) given twice: the API server keeps the last applied."""
    first: dict[tuple[str, str, str, str], Item] = {}
    problems = []
    for item in items:
        if not (item.kind and item.name):
            continue
        earlier = first.setdefault(item.key, item)
        if earlier is not item:
            problems.append(
                f"{_label(item)}{_at_line(item)}: the same object as {_label(earlier)}{_at_line(earlier)}: "
                "the API server keeps the last one applied, a reader of the first sees that one: keep one"
            )
    return problems


def _at_line(item: Item) -> str:
    line = item.node.start_mark.line if item.node is not None else item.line
    return f" at line {line + 1}" if line is not None else ""
