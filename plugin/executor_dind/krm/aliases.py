"""Anchors and aliases: where they may be in the text, whether a region of a document uses an anchor outside
itself (then it cannot be written back as its own text), and alias bombs and recursive aliases refused before
anything expands them."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from executor_dind.krm.errors import InputError
from executor_dind.krm.nodes import children
from executor_dind.libyaml import Node, ScalarNode

# How many nodes aliases may add when expanded (what a dump, or any walk over the objects, would build). Real
# manifests add a few; a billion-laughs document adds 10**9 from a few hundred bytes.
MAX_ALIAS_EXPANSION = 100_000
# Where an anchor (&a) or alias (*a) may start: libyaml's anchor names are [0-9A-Za-z_-]+, and the token follows
# whitespace, a line break, a skipped BOM, a flow indicator, or (in flow context) a ':' or '?'. A superset: a
# match in a string or comment only costs a walk over the nodes of the item it is in.
# Found with str.find, not a regular expression: the [&*] character class is tried at every position of the
# input, a twentieth of the whole run over the upstream base.
_MARK_SIGILS = "&*"
ANCHOR_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")
_BEFORE_MARK = frozenset(" \t\n\r\x85\u2028\u2029\ufeff[{,:?")


def marks(text: str, sigils: str = _MARK_SIGILS, follow: frozenset[str] = ANCHOR_CHARS) -> list[int]:
    """Sorted positions where an anchor or alias may start (never misses one); with other sigils and following
    characters, where another token may start (a tag: `!` then a tag character)."""
    found = []
    for sigil in sigils:
        at = text.find(sigil)
        while at != -1:
            if text[at + 1 : at + 2] in follow and (not at or text[at - 1] in _BEFORE_MARK):
                found.append(at)
            at = text.find(sigil, at + 1)
    return sorted(found)


def has_mark_between(positions: list[int], start: int, end: int) -> bool:
    at = bisect_left(positions, start)
    return at < len(positions) and positions[at] < end


class Aliases:
    """Anchors and aliases in one document, followed through its composed nodes (an alias is the anchored node
    itself, reached a second time). Only regions of the text with a mark are walked."""

    def __init__(self, source: str, marks: list[int]) -> None:
        self.source = source
        self.marks = marks
        self.owner: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.region = 0

    def has_mark(self, nodes: Sequence[Node]) -> bool:
        return has_mark_between(self.marks, nodes[0].start_mark.index, nodes[-1].end_mark.index)

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
                    size[key] = 1 + sum(size[id(child)] for child in children(node))
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
                todo.extend((child, False) for child in reversed(children(node)))
            expanded += size[id(root)]
        if expanded - (len(owner) - known) > MAX_ALIAS_EXPANSION:
            raise InputError(
                f"{self.source}: {where}: its YAML aliases expand to {expanded:,} nodes, more than the "
                f"{MAX_ALIAS_EXPANSION:,} allowed (an alias bomb?): write the values out instead of aliasing them"
            )
        return foreign
