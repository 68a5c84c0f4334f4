"""PyYAML, imported for its libyaml (C) loader and dumper, without paying for its pure-Python reader.

`import yaml` compiles, at import, the pure-Python Reader's NON_PRINTABLE pattern: a character class over most of
Unicode. The C loader never uses it (libyaml checks characters itself). So the first import goes through here and
that one pattern is compiled on its first use instead: the Python loaders (`yaml.safe_load`, used off the hot
path) still reject non-printable characters exactly as PyYAML does. Measured again with callgrind (Python 3.11.7,
PyYAML 6.0.4): the function over the upstream base ResourceList runs 537 M instructions with this, 597 M without
(the compile is 11% of the whole process); a lone compile of the pattern takes ~60 M instructions."""

from __future__ import annotations

import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _CompiledOnFirstUse:
    """Stands for `re.compile(pattern)` until an attribute of the compiled pattern is asked for."""

    def __init__(self, pattern: str) -> None:
        self._pattern = pattern

    def __getattr__(self, name: str) -> Any:
        return getattr(re.compile(self._pattern), name)


def _import_yaml() -> Any:
    if "yaml" in sys.modules:
        return sys.modules["yaml"]
    compile_now = re.compile

    def compile_printable_check_later(pattern: Any, flags: int = 0) -> Any:
        if flags == 0 and isinstance(pattern, str) and pattern.startswith("[^\x09\x0a\x0d\x20-\x7e"):
            return _CompiledOnFirstUse(pattern)
        return compile_now(pattern, flags)

    re.compile = compile_printable_check_later
    try:
        import yaml
    finally:
        re.compile = compile_now
    return yaml


yaml = _import_yaml()
MappingNode, Node, ScalarNode, SequenceNode = yaml.MappingNode, yaml.Node, yaml.ScalarNode, yaml.SequenceNode
