"""Bytes to the text YAML reads, and the slices of that text an untouched item is written back as."""

from __future__ import annotations

import codecs
import re

from executor_dind.krm.errors import InputError
from executor_dind.libyaml import MappingNode, Node

# Line breaks for YAML that are not line breaks for str.rfind("\n"): with them, columns cannot be trusted.
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")
# What precedes a sequence entry's node on its line when the entry can be re-emitted as it is. Patterns are
# compiled on first use (re caches them): compiling at import costs every run.
_ENTRY_PREFIX = r" *-[ \t]+"
_DASH_LINE = r" *-(?:[ \t]+#.*|[ \t]*)"


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


def keeps_text(text: str) -> bool:
    """False when slices cannot be trusted to re-read the same: %TAG directives (tag handles in an item's text
    would have no directive in the output) or line breaks other than LF (columns then disagree with libyaml's)."""
    if text.startswith("%TAG") or "\n%TAG" in text:
        return False
    return not any(char in text for char in _OTHER_BREAKS)


def line_prefix(text: str, node: Node) -> str:
    start = node.start_mark.index
    return text[start - node.start_mark.column : start]


def slice_from(text: str, start: int, node: Node) -> str:
    """The text from `start` to the end of the node, ending in one line break."""
    body = text[start : node.end_mark.index].rstrip(" \t")
    return body if body.endswith("\n") else body + "\n"


def sliceable(text: str, node: Node) -> bool:
    """False when the node runs into the end of a text without a final newline (a literal block there would
    gain a line break, or lose trailing spaces, in its slice): such a node is dumped instead."""
    return node.end_mark.index < len(text) or text.endswith("\n")


def entry_text(text: str, node: Node) -> str | None:
    """A block sequence entry's text from the start of its dash's line, or None when it cannot be re-emitted at
    the same columns (a flow sequence, no final newline)."""
    if not isinstance(node, MappingNode) or not sliceable(text, node):
        return None
    start = node.start_mark.index - node.start_mark.column
    prefix = text[start : node.start_mark.index]
    if prefix == "- " or re.fullmatch(_ENTRY_PREFIX, prefix):
        return slice_from(text, start, node)
    if prefix.strip(" "):
        return None
    # The node on a line of its own (kpt writes `- # head comment` above an item): back over blank and comment
    # lines to the dash.
    while start:
        line_start = text.rfind("\n", 0, start - 1) + 1
        line = text[line_start : start - 1]
        if re.fullmatch(_DASH_LINE, line):
            return slice_from(text, line_start, node)
        if line.strip(" \t") and not line.lstrip(" \t").startswith("#"):
            return None
        start = line_start
    return None
