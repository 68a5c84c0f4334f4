"""Python objects as block-style YAML: what the function writes for the items it creates or changes."""

from __future__ import annotations

from executor_dind.krm.nodes import STR, HugeInt, SafeTags
from executor_dind.libyaml import yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Dumper(SafeTags, yaml.CSafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


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
