"""The fenced blocks of README.md and docs/, each with the page it is on and the marker comment above it.

A test finds the block it checks by page and marker, never by the headings around it, so a block can move within
or between pages with its marker and its test follows it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from conftest import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"
BLOCK = re.compile(r"(?:<!-- (?P<marker>[^>]*) -->\n *)?```(?P<lang>\w*)\n(?P<body>.*?)^ *```", re.S | re.M)


class Block(NamedTuple):
    page: str  # relative to the repository root
    marker: str
    lang: str
    body: str


def pages() -> list[Path]:
    """README.md, then every page of docs/."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def blocks(page: Path | None = None) -> list[Block]:
    """The blocks of one page, or of every page."""
    found = []
    for path in [page] if page is not None else pages():
        for match in BLOCK.finditer(path.read_text()):
            found.append(Block(str(path.relative_to(ROOT)), match["marker"] or "", match["lang"], match["body"]))
    return found


def block(page: str, marker: str) -> str:
    """The body of the one block on `page` (relative to the root) whose marker starts with `marker`."""
    (body,) = [b.body for b in blocks(ROOT / page) if b.marker.startswith(marker)]
    return body
