"""PyYAML, imported for its libyaml (C) loader and dumper, and json for its C scanner and encoder, each without
compiling at import the patterns only their pure-Python code uses.

`re.compile` is pure Python, and both libraries compile their patterns when imported. PyYAML compiles the Python
reader's NON_PRINTABLE (a character class over most of Unicode; the C loader never uses it: libyaml checks
characters itself), the constructor's timestamp pattern (used only when a timestamp is built) and its implicit
resolvers' (each used only once a plain scalar starting with one of its characters is resolved; merge keys and
the `=` and `!&*` ones hardly ever). json compiles its pure-Python scanner's number pattern and its pure-Python
encoder's escapes, which _json's C code replaces. So the first import of each goes through here and every pattern
it compiles is compiled on its first use instead: the pure-Python paths (`yaml.safe_load`, used off the hot path)
still reject and escape exactly as they do. Measured with callgrind (Python 3.11.7, PyYAML 6.0.4): NON_PRINTABLE
alone is ~60 M instructions, 11% of a KRM run over the upstream base; the patterns a run never uses besides it
are ~5 M more (of ~260 M)."""

from __future__ import annotations

import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

_compile_now = re.compile


class _CompiledOnFirstUse:
    """Stands for `re.compile(pattern, flags)` until an attribute of the compiled pattern is asked for; that
    attribute is then kept on the stand-in, so a pattern in use costs no more than the compiled one."""

    def __init__(self, pattern: str | bytes, flags: int) -> None:
        self._pattern, self._flags = pattern, flags

    def __getattr__(self, name: str) -> Any:
        value = getattr(_compile_now(self._pattern, self._flags), name)
        setattr(self, name, value)
        return value


def _compile_later(pattern: Any, flags: int = 0) -> Any:
    if isinstance(pattern, (str, bytes)):
        return _CompiledOnFirstUse(pattern, flags)
    return _compile_now(pattern, flags)


def _imported_lean(name: str) -> ModuleType:
    """`import name`, the patterns its import compiles compiled on first use; a module already imported as it is."""
    if name not in sys.modules:
        re.compile = _compile_later
        try:
            __import__(name)
        finally:
            re.compile = _compile_now
    return sys.modules[name]


yaml = _imported_lean("yaml")
# Every hot path that reads YAML also writes or reads JSON (daemon.json, the audit's reading of it) after this.
_imported_lean("json")
MappingNode, Node, ScalarNode, SequenceNode = yaml.MappingNode, yaml.Node, yaml.ScalarNode, yaml.SequenceNode
