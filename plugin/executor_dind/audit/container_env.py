"""A container's environment and command line as the kubelet builds them, from the objects a render holds.

The kubelet takes `envFrom` first (each source in order, a later one overriding an earlier, names prefixed), then
`env` in order (the last entry of a name wins); an `env` value expands `$(NAME)` against what is defined before
it, `$$` is an escaped `$`, and a reference to nothing stays as written. Command and args expand the same way
against the whole environment. A value from an object the render does not hold (a Secret created apart, an
`envFrom` of a ConfigMap elsewhere) or from the pod's own fields cannot be determined here: it is None, with why.
"""

from __future__ import annotations

import base64
import binascii

from executor_dind.krm.item import Item
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from executor_dind.audit.scope import Scope


class EnvVar(Record):
    """One variable as the container gets it: its value (None: not determinable from the render, and `why` says
    what is outside), the object and field that set it, and how: `value`, `configMap`, `secret` or `unknown` (the
    pod's own fields, known only at run time)."""

    name: str
    value: str | None
    source: Item
    field_path: str
    origin: str
    why: str = ""
    holder: Item | None = None  # the ConfigMap or Secret that holds the value
    key: str = ""  # its key there
    holder_name: str = ""  # the ConfigMap or Secret the entry names, whether or not the render holds it


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def object_data(held: Item) -> dict[str, str | None]:
    """The keys a ConfigMap or Secret provides as text: ConfigMap data and binaryData, Secret data and stringData
    (which the API server writes over data); a value that is not valid base64 is None."""
    obj = _mapping(held.obj)
    found: dict[str, str | None] = {}
    encoded = ("binaryData", "data") if held.kind == "Secret" else ("binaryData",)
    plain = ("stringData",) if held.kind == "Secret" else ("data",)
    for field in encoded:
        for key, value in _mapping(obj.get(field)).items():
            try:
                found[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8", "surrogateescape")
            except (binascii.Error, ValueError):
                found[str(key)] = None
    for field in plain:
        for key, value in _mapping(obj.get(field)).items():
            found[str(key)] = str(value)
    return found


def held_object(scope: Scope, kind: str, namespace: str, name: Any) -> Item | None:
    table = scope.config_maps if kind == "ConfigMap" else scope.secrets
    return table.get((namespace, str(name)))


def expand(text: str, lookup: Callable[[str], str | bool | None]) -> str | None:
    """`$(NAME)` and `$$` as the kubelet expands them (k8s.io/kubernetes third_party/forked/golang/expansion).
    lookup gives a value, None (defined but not determinable: the result is None) or False (not defined: the
    reference stays as written)."""
    out: list[str] = []
    index = 0
    while index < len(text):
        dollar = text.find("$", index)
        if dollar < 0 or dollar == len(text) - 1:
            out.append(text[index:])
            break
        out.append(text[index:dollar])
        following = text[dollar + 1]
        if following == "$":
            out.append("$")
            index = dollar + 2
        elif following == "(" and (close := text.find(")", dollar + 2)) >= 0:
            value = lookup(text[dollar + 2 : close])
            if value is None:
                return None
            out.append(text[dollar : close + 1] if value is False else str(value))
            index = close + 1
        else:
            out.append(text[dollar : dollar + 2])
            index = dollar + 2
    return "".join(out)


class ContainerEnv:
    """The environment of one container of a workload's pod (`path` is the container's field path)."""

    def __init__(self, item: Item, scope: Scope, entry: dict[str, Any], path: str) -> None:
        self.item = item
        self.scope = scope
        self.path = path
        self.vars: dict[str, EnvVar] = {}
        # envFrom sources the render does not hold: they may define any name with their prefix that is not set
        # after them (a name they may override is dropped from vars).
        self.opaque: list[tuple[str, str, str]] = []
        self._from_sources(_list(entry.get("envFrom")))
        self._from_entries(_list(entry.get("env")))

    def _from_sources(self, sources: list[Any]) -> None:
        for index, source in enumerate(sources):
            source = _mapping(source)
            prefix = str(source.get("prefix") or "")
            for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if field not in source:
                    continue
                name = _mapping(source[field]).get("name", "")
                held = held_object(self.scope, kind, self.item.namespace, name)
                where = f"{self.path}.envFrom[{index}]"
                origin = "configMap" if kind == "ConfigMap" else "secret"
                if held is None:
                    # Set names an opaque source may override again: it comes after them.
                    why = f"{kind} {name!r} of {where}, which the render does not hold"
                    self.opaque.append((prefix, why, origin))
                    self.vars = {k: v for k, v in self.vars.items() if not k.startswith(prefix)}
                    continue
                for key, value in object_data(held).items():
                    self.vars[prefix + key] = EnvVar(
                        prefix + key, value, held, f"data.{key}", origin, "", held, key, held.name
                    )

    def _from_entries(self, entries: list[Any]) -> None:
        for index, var in enumerate(entries):
            if not isinstance(var, dict) or not isinstance(var.get("name"), str):
                continue
            name, where = var["name"], f"{self.path}.env[{index}]"
            if "valueFrom" in var:
                self.vars[name] = self._value_from(name, _mapping(var["valueFrom"]), where)
            else:
                value = expand(str(var.get("value") or ""), self._defined)
                why = "" if value is not None else "it refers to a variable whose value cannot be determined"
                self.vars[name] = EnvVar(name, value, self.item, where, "value", why)

    def _value_from(self, name: str, source: dict[str, Any], where: str) -> EnvVar:
        for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            if field not in source:
                continue
            ref = _mapping(source[field])
            origin = "configMap" if kind == "ConfigMap" else "secret"
            held = held_object(self.scope, kind, self.item.namespace, ref.get("name", ""))
            data = object_data(held) if held is not None else {}
            key, held_name = str(ref.get("key", "")), str(ref.get("name", ""))
            path = f"{where}.valueFrom.{field}"
            if held is None or key not in data:
                missing = f"{kind} {ref.get('name')!r} key {key!r}, which the render does not hold"
                return EnvVar(name, None, self.item, path, origin, missing, held, key, held_name)
            return EnvVar(name, data[key], self.item, path, origin, "", held, key, held_name)
        what = next(iter(source), "valueFrom")
        return EnvVar(
            name, None, self.item, f"{where}.valueFrom", "unknown", f"the pod's {what}, known only at run time"
        )

    def _defined(self, name: str) -> str | bool | None:
        var = self.get(name)
        if var is None:
            return False
        return var.value

    def get(self, name: str) -> EnvVar | None:
        """The variable as the container gets it; undetermined when an opaque envFrom may set it; None: unset."""
        if name in self.vars:
            return self.vars[name]
        for prefix, why, origin in reversed(self.opaque):
            if name.startswith(prefix):
                return EnvVar(name, None, self.item, self.path, origin, f"it may come from {why}")
        return None

    def expand_words(self, words: list[Any]) -> list[str | None]:
        """Command or args with `$(NAME)` expanded against the whole environment, as the kubelet does."""
        return [expand(str(word), self._defined) for word in words]
