"""Reading: a ResourceList (the KRM protocol), a multi-document stream (the legacy plugin, render, audit) and a
config file, each item keeping the text it came as unless an alias ties it to text outside it."""

from __future__ import annotations

from executor_dind.krm.aliases import Aliases, has_mark_between, marks
from executor_dind.krm.consumer import checked_object, disagreements, duplicate_objects, in_items, tag_marks
from executor_dind.krm.errors import InputError
from executor_dind.krm.item import RESOURCE_LIST_KIND, Document, Item, ResourceList
from executor_dind.krm.nodes import child, compose, construct, is_null, kind_of, scalar
from executor_dind.krm.text import entry_text, keeps_text, line_prefix, normalize, slice_from, sliceable
from executor_dind.libyaml import MappingNode, Node, ScalarNode, SequenceNode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

_ROOT_KEYS = ("apiVersion", "kind", "items", "functionConfig", "results")


def _documents(text: str, source: str) -> list[Node]:
    return [node for node in compose(text, source) if node is not None]


def is_resource_list(text: str) -> bool:
    """Whether the text is one YAML document of kind ResourceList (what the KRM protocol sends)."""
    try:
        documents = _documents(normalize(text), "stdin")
    except InputError:
        return False
    return len(documents) == 1 and scalar(documents[0], "kind") == RESOURCE_LIST_KIND


# --- a ResourceList ---------------------------------------------------------------------------------------------


def read_resource_list(text: str, source: str = "stdin") -> ResourceList:
    text = normalize(text)
    root = _resource_list_root(text, source)
    api_version = scalar(root, "apiVersion") or "config.kubernetes.io/v1"
    echo = ResourceList(api_version, [], document=Document(text, root))
    _check_root_keys(root, source, echo)
    items_node = _items_node(root, source, api_version)
    entries = items_node.value if items_node is not None else []
    config_node, config_problems = _function_config_node(root, source)
    problems = [*_entry_problems(entries, source), *config_problems]
    if problems:
        raise InputError(*problems, resource_list=echo)
    try:
        items, config_foreign = _read_entries(text, source, root, items_node, config_node)
        refuse(disagreements(items, text))
        function_config = (
            construct(config_node, f"{source}: ResourceList.functionConfig") if config_node is not None else None
        )
    except InputError as error:
        error.resource_list = echo
        raise
    return ResourceList(
        api_version=api_version,
        items=items,
        function_config=function_config,
        function_config_text=_function_config_text(text, config_node) if not config_foreign else None,
        document=echo.document,
    )


def _resource_list_root(text: str, source: str) -> MappingNode:
    documents = _documents(text, source)
    if len(documents) != 1 or scalar(documents[0], "kind") != RESOURCE_LIST_KIND:
        raise InputError(_not_a_resource_list(documents, source))
    return documents[0]


def _not_a_resource_list(documents: list[Node], source: str) -> str:
    expected = f"{source}: expected one ResourceList document (kind: {RESOURCE_LIST_KIND})"
    objects = [node for node in documents if isinstance(node, MappingNode)]
    if any(scalar(node, "kind") == RESOURCE_LIST_KIND for node in objects):
        return f"{expected}, got {len(documents)} documents"
    if objects and any(scalar(node, "kind") or scalar(node, "apiVersion") for node in objects):
        first = Item(node=objects[0]).describe()
        return (
            f"{expected}, got a YAML stream of {len(documents)} document{'s' if len(documents) > 1 else ''} "
            f"({first}{', ...' if len(documents) > 1 else ''}): with no arguments executor-dind is a KRM function "
            "(kpt and kustomize send it a ResourceList); to inject executors into manifests run "
            "`executor-dind render --config CFG -`"
        )
    return expected


def _check_root_keys(root: MappingNode, source: str, echo: ResourceList) -> None:
    keys = [key.value for key, _ in root.value if isinstance(key, ScalarNode)]
    twice = [key for key in _ROOT_KEYS if keys.count(key) > 1]
    if twice:
        raise InputError(
            f"{source}: the ResourceList has the key {twice[0]!r} {keys.count(twice[0])} times: keep one",
            resource_list=echo,
        )
    unknown = [key for key in keys if key not in _ROOT_KEYS]
    if unknown or len(keys) < len(root.value):
        import difflib

        close = difflib.get_close_matches(unknown[0], _ROOT_KEYS, 1) if unknown else []
        field = f"field {unknown[0]!r}" if unknown else "field (a key that is not a string)"
        raise InputError(
            f"{source}: unknown ResourceList {field}{f' (did you mean {close[0]!r}?)' if close else ''}: "
            "a ResourceList holds apiVersion, kind, items, functionConfig and results",
            resource_list=echo,
        )


def _items_node(root: MappingNode, source: str, api_version: str) -> SequenceNode | None:
    items_node = child(root, "items")
    if items_node is None or isinstance(items_node, SequenceNode) or is_null(items_node):
        return items_node if isinstance(items_node, SequenceNode) else None
    raise InputError(
        f"{source}: ResourceList.items must be a list of objects, got {kind_of(items_node)}",
        resource_list=ResourceList(api_version, []),
    )


def _entry_problems(entries: list[Node], source: str) -> list[str]:
    return [
        f"{source}: ResourceList.items[{index}] is not an object (got {kind_of(node)}): each item must be a "
        "Kubernetes object (a mapping)"
        for index, node in enumerate(entries)
        if not isinstance(node, MappingNode)
    ]


def _function_config_node(root: MappingNode, source: str) -> tuple[MappingNode | None, list[str]]:
    config_node = child(root, "functionConfig")
    if config_node is None or isinstance(config_node, MappingNode) or is_null(config_node):
        return (config_node if isinstance(config_node, MappingNode) else None), []
    return None, [
        f"{source}: ResourceList.functionConfig must be an object (an ExecutorDind or a ConfigMap), "
        f"got {kind_of(config_node)}"
    ]


def _read_entries(
    text: str, source: str, root: MappingNode, items_node: SequenceNode | None, config_node: Node | None
) -> tuple[list[Item], bool]:
    """The items, each with its text unless it aliases an anchor outside itself, and whether the functionConfig
    does. Regions are walked in document order, so an anchor is known before an alias to it."""
    keep_text = keeps_text(text)
    aliases = Aliases(source, marks(text))
    items: list[Item] = []
    config_foreign = False
    for key_node, value_node in root.value:
        if value_node is items_node:
            where = f"{source}: ResourceList.items[{{}}]"
            for index, node in enumerate(items_node.value):
                own = not aliases.marks or not aliases.foreign(
                    (node,), f"ResourceList.items[{index}] ({Item(node=node).describe()})"
                )
                item_text = entry_text(text, node) if keep_text and own else None
                items.append(Item(text=item_text, node=node, where=(where, index)))
        elif aliases.marks:
            name = key_node.value if isinstance(key_node, ScalarNode) else "a key"
            foreign = aliases.foreign((key_node, value_node), f"ResourceList.{name}")
            config_foreign = config_foreign or (value_node is config_node and foreign)
    return items, config_foreign


def _function_config_text(text: str, config_node: MappingNode | None) -> str | None:
    """The functionConfig's block text, written back as it came, when it can be."""
    if config_node is None or not keeps_text(text) or config_node.flow_style or not sliceable(text, config_node):
        return None
    prefix = line_prefix(text, config_node)
    if not prefix or prefix.strip(" "):
        return None
    return slice_from(text, config_node.start_mark.index - len(prefix), config_node)


# --- a stream ---------------------------------------------------------------------------------------------------


def read_stream(text: str, source: str = "stdin", build: bool = False) -> list[Item]:
    """A multi-document YAML stream (legacy exec plugin, standalone render). A *List is unwrapped.

    Anchors are local to a document, so a document keeps its text whatever anchors it holds. build (the audit,
    which reads every object and writes none back): each document's object is built as it is composed and
    neither its nodes nor its text are kept, so the input is never held twice (at 5,000 workloads the nodes take
    six times the objects' memory). A document that cannot be built that way (a tag, an anchor or an alias in its
    text, a repeated key or a `<<` in it, a value PyYAML refuses) keeps its nodes and is read as without build."""
    text = normalize(text)
    keep_text = keeps_text(text) and not build
    positions = marks(text)
    tags = tag_marks(text) if build else []
    items: list[Item] = []
    walked: list[Item] = []  # the items whose nodes are kept: judged by the walk over them
    for index, node, where in _objects(text, source):
        aliases = Aliases(source, positions)
        nested = child(node, "items")
        if scalar(node, "kind").endswith("List") and isinstance(nested, SequenceNode):
            listed = _list_items(node, nested, index, where, aliases)
            items.extend(listed)
            walked.extend(listed)
            continue
        if positions:
            aliases.foreign((node,), f"document {index + 1} ({Item(node=node).describe()})")
        if build and not _has_mark(positions, node) and not _has_mark(tags, node):
            obj = checked_object(node)
            if obj is not None:
                items.append(Item(_obj=obj, where=where, line=node.start_mark.line))
                continue
        if keep_text and node.start_mark.column == 0 and sliceable(text, node):
            item = Item(text=slice_from(text, node.start_mark.index, node), node=node, where=where)
        else:
            item = Item(node=node, where=where)
        items.append(item)
        walked.append(item)
    refuse([*in_items(walked, text), *duplicate_objects(items)])
    return items


def _has_mark(positions: list[int], node: Node) -> bool:
    return has_mark_between(positions, node.start_mark.index, node.end_mark.index)


def _objects(text: str, source: str) -> Iterator[tuple[int, MappingNode, str]]:
    """The documents of a stream that are not empty (a trailing or doubled `---`): index, node and name."""
    for index, node in enumerate(compose(text, source)):
        if node is None or is_null(node):
            continue
        where = f"{source}: document {index + 1}"
        if not isinstance(node, MappingNode):
            raise InputError(
                f"{where} is not an object (got {kind_of(node)}): each document must be a Kubernetes object"
            )
        yield index, node, where


def refuse(problems: list[str]) -> None:
    if problems:
        raise InputError(*problems)


def _list_items(node: MappingNode, nested: SequenceNode, index: int, where: str, aliases: Aliases) -> list[Item]:
    """The items of a *List document (never kept as text: they are written out as documents of their own)."""
    kind = scalar(node, "kind")
    problems = [
        f"{where} ({kind}): items[{position}] is not an object (got {kind_of(entry)}): each item must be "
        "a Kubernetes object"
        for position, entry in enumerate(nested.value)
        if not isinstance(entry, MappingNode)
    ]
    if problems:
        raise InputError(*problems)
    items = []
    for key_node, value_node in node.value:
        if value_node is nested:
            for position, entry in enumerate(nested.value):
                if aliases.marks:
                    describe = Item(node=entry).describe()
                    aliases.foreign((entry,), f"document {index + 1} ({kind}) items[{position}] ({describe})")
                items.append(Item(node=entry, where=f"{where} ({kind}) items[{position}]"))
        elif aliases.marks:
            aliases.foreign((key_node, value_node), f"document {index + 1} ({kind})")
    return items


# --- a config file ----------------------------------------------------------------------------------------------


def read_config_text(text: str, source: str) -> Any:
    """A config file (legacy plugin, render, explain): one YAML document, never a bomb."""
    text = normalize(text)
    try:
        documents = _documents(text, source)
    except InputError as error:
        raise InputError(str(error).replace(f"{source}: ", f"{source}: cannot read the config: ", 1)) from None
    if len(documents) > 1:
        raise InputError(f"{source}: cannot read the config: expected one YAML document, got {len(documents)}")
    if not documents:
        return None
    Aliases(source, marks(text)).foreign(documents, "cannot read the config")
    return construct(documents[0], f"{source}: the config")
