"""Python objects as block-style YAML: what the function writes for the items it creates or changes."""

from __future__ import annotations

from executor_dind.krm.nodes import MAP, SEQ, STR, HugeInt, SafeTags
from executor_dind.libyaml import MappingNode, Node, ScalarNode, SequenceNode, yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Dumper(SafeTags, yaml.CSafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_data(self, data: Any) -> Node:
        """The nodes PyYAML's representers make of plain dicts, lists and strings in block style, without their
        per-node dispatch (alias bookkeeping, a lookup along the type's MRO): half the time of dumping the objects
        the function makes. Anything else, or another flow style, goes to PyYAML's."""
        kind = type(data)
        if kind is str:
            return ScalarNode(STR, data, style="|" if "\n" in data else self.default_style)
        if self.default_flow_style is False:
            represent = self.represent_data
            if kind is dict:
                pairs = [(represent(key), represent(value)) for key, value in data.items()]
                return MappingNode(MAP, pairs, flow_style=False)
            if kind is list:
                return SequenceNode(SEQ, [represent(entry) for entry in data], flow_style=False)
        return super().represent_data(data)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar(STR, value, style=style)


def _represent_huge_int(dumper: yaml.SafeDumper, value: HugeInt) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:int", value.literal)


Dumper.add_representer(str, _represent_str)
Dumper.add_representer(HugeInt, _represent_huge_int)


def dump(obj: Any) -> str:
    """Block-style YAML, no anchors, no comments; multi-line strings as literal blocks."""
    return yaml.dump(obj, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 20)
