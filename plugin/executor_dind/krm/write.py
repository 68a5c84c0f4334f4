"""Writing: a ResourceList (kept items as their text, new or changed ones dumped), a failed run's ResourceList
(the input as it came, with the results spliced in) and a multi-document stream."""

from __future__ import annotations

from collections.abc import Iterable

from executor_dind.krm.aliases import has_mark_between, marks
from executor_dind.krm.dump import dump
from executor_dind.krm.errors import InputError
from executor_dind.krm.item import RESOURCE_LIST_KIND, Item, ResourceList
from executor_dind.krm.text import line_prefix, slice_from
from executor_dind.libyaml import MappingNode, Node, ScalarNode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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
                item.text = " " * max(column - 2, 0) + "- " + slice_from(text, item.node.start_mark.index, item.node)
        return write_resource_list(resource_list)


def _splice_results(text: str, root: Node, results: list[dict[str, Any]]) -> str | None:
    if not isinstance(root, MappingNode) or not root.value:
        return None
    old = [(key, value) for key, value in root.value if isinstance(key, ScalarNode) and key.value == "results"]
    positions = marks(text)
    for key, value in old:
        if has_mark_between(positions, key.start_mark.index, value.end_mark.index):
            return None  # an anchor there may be aliased elsewhere: keep it, fall back
    if root.flow_style:
        if old or text[root.start_mark.index : root.start_mark.index + 1] != "{":
            return None
        import json

        at = root.start_mark.index + 1
        return f"{text[:at]}results: {json.dumps(results, ensure_ascii=False)}, {text[at:]}"
    return _splice_block(text, root, [key for key, _ in old], results)


def _splice_block(text: str, root: MappingNode, old: list[Node], results: list[dict[str, Any]]) -> str | None:
    """A block mapping with its `results` keys cut out and the new results written first, at its column."""
    column = root.value[0][0].start_mark.column
    starts = []
    for key, _ in root.value:
        if key.start_mark.column != column or line_prefix(text, key) != " " * column:
            return None
        starts.append(key.start_mark.index - column)
    cuts = []
    for index, (key, value) in enumerate(root.value):
        if any(key is old_key for old_key in old):
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
