"""The ConfigMap form of the spec (kpt `configMap:`, `kpt fn eval ... -- key=value`): dotted keys, string values.

`frontend.url: http://...`, `hardening.profile: strict`; numbers and booleans are parsed by the field's type;
`queues: "batches,codeintel"` is one queue entry per name; any other map or list field is YAML flow
(`hardening.nodePool.nodeSelector: "{pool: executors}"`).
"""

from __future__ import annotations

from executor_dind.records import (
    LITERAL,
    ConfigError,
    Parser,
    alternatives,
    fields,
    is_record,
    nearest,
    origin,
    unwrap_optional,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def dotted_tree(data: dict[str, Any], record: type, path: str) -> dict[str, Any]:
    """ConfigMap data -> the nested raw form of `record`, each value typed by its field."""
    tree: dict[str, Any] = {}
    parser = Parser()
    for dotted, text in data.items():
        where = f"{path}.{dotted}"
        if not isinstance(text, str):
            text = str(text)
        cls: Any = record
        node = tree
        keys = str(dotted).split(".")
        for depth, key in enumerate(keys):
            known = fields(cls) if is_record(cls) else {}
            if key not in known:
                parser.problem(f"{path}.{'.'.join(keys[: depth + 1])}", "unknown field" + nearest(key, list(known)))
                break
            _, inner = unwrap_optional(known[key].type)
            if depth < len(keys) - 1:
                if not isinstance(node.setdefault(key, {}), dict):
                    parser.problem(where, f"conflicts with the key {'.'.join(keys[: depth + 1])!r}")
                    break
                node = node[key]
                cls = inner
            else:
                node[key] = _from_string(inner, key, text, where, parser)
    if parser.problems:
        raise ConfigError(parser.problems)
    return tree


# Longer than any integer a field takes (int64 has 19 digits); Python's int() refuses more than 4300.
_MAX_DIGITS = 19


def _from_string(tp: Any, key: str, text: str, where: str, parser: Parser) -> Any:
    digits = text.strip()
    # ASCII only: str.isdigit() also accepts superscripts and other scripts' digits, which int() refuses.
    if digits.isascii() and digits.isdigit() and len(digits) > _MAX_DIGITS and (tp is int or int in alternatives(tp)):
        parser.problem(where, f"is a number of {len(digits)} digits: no field takes an integer that large")
        return None
    if tp is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return text
    if tp is int:
        return int(digits) if digits.isascii() and digits.isdigit() else text
    if tp is str or origin(tp) is LITERAL:
        return text
    if key == "queues" and not text.lstrip().startswith("["):
        return [{"name": name.strip()} for name in text.split(",") if name.strip()]
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        parser.problem(where, f"is not valid YAML flow: {text!r}")
    except ValueError:  # PyYAML's int() of a number of more than 4300 digits
        parser.problem(where, "holds a number of thousands of digits: no field takes an integer that large")
    return None
