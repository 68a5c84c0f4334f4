"""The file a container sees at a path, as the kubelet mounts it from the objects a render holds.

The most specific mount over the path decides (a mount at the file itself, or at a directory above it); subPath
and subPathExpr (`$(NAME)` from the container's environment) pick a path inside the volume. ConfigMap (data and
binaryData), Secret (data and stringData) and projected volumes show each key as a file, or only the keys their
`items` list, at the paths listed. What another volume holds (emptyDir, a claim, the node's disk) was written by
something running, and a source the render does not hold may hold anything: the text cannot be determined.
"""

from __future__ import annotations

from executor_dind.audit.container_env import ContainerEnv, held_object, object_data
from executor_dind.krm.item import Item
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.audit.scope import Scope


class FileRead(Record):
    """What a container reads at a path: `text` (None: no such file, or not determinable when `why` is set),
    the object and field that provide it."""

    text: str | None
    source: Item | None = None
    field_path: str = ""
    why: str = ""


ABSENT = FileRead(None)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _covering_mount(mounts: list[Any], path: str, env: ContainerEnv) -> tuple[dict[str, Any], str] | FileRead:
    """The mount the path lies under (the longest mountPath), and the path inside the volume."""
    best: tuple[dict[str, Any], str] | None = None
    best_length = -1
    for mount in mounts:
        if not isinstance(mount, dict):
            continue
        mount_path = str(mount.get("mountPath", "")).rstrip("/") or "/"
        if path == mount_path:
            rest = ""
        elif path.startswith(mount_path.rstrip("/") + "/"):
            rest = path[len(mount_path.rstrip("/")) + 1 :]
        else:
            continue
        if len(mount_path) <= best_length:
            continue
        sub = mount.get("subPath")
        if mount.get("subPathExpr"):
            sub = env.expand_words([mount["subPathExpr"]])[0]
            if sub is None:
                why = f"the subPathExpr of mount {mount.get('name')!r} refers to a variable that cannot be determined"
                return FileRead(None, None, "", why)
        inside = "/".join(part for part in (str(sub or "").strip("/"), rest) if part)
        best, best_length = (mount, inside), len(mount_path)
    return best if best is not None else ABSENT


def _sources(volume: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, source) of each ConfigMap and Secret a volume shows; other projected sources are not files we read."""
    if isinstance(volume.get("configMap"), dict):
        return [("ConfigMap", volume["configMap"])]
    if isinstance(volume.get("secret"), dict):
        secret = dict(volume["secret"])
        return [("Secret", {**secret, "name": secret.get("secretName", "")})]
    found = []
    for source in _list(_mapping(volume.get("projected")).get("sources")):
        for kind, field in (("ConfigMap", "configMap"), ("Secret", "secret")):
            if isinstance(_mapping(source).get(field), dict):
                found.append((kind, source[field]))
    return found


def read_file(
    item: Item, scope: Scope, spec: dict[str, Any], entry: dict[str, Any], env: ContainerEnv, path: str
) -> FileRead:
    """The text of the file at path in this container (entry) of the pod (spec) of item."""
    covering = _covering_mount(_list(entry.get("volumeMounts")), path, env)
    if isinstance(covering, FileRead):
        return covering
    mount, inside = covering
    volumes = {str(v.get("name")): v for v in _list(spec.get("volumes")) if isinstance(v, dict)}
    volume = volumes.get(str(mount.get("name")))
    what = f"volume {mount.get('name')!r} mounted at {mount.get('mountPath')}"
    if volume is None:
        return FileRead(None, None, "", f"{what} is not among the pod's volumes")
    sources = _sources(volume)
    if not sources and not isinstance(volume.get("projected"), dict):
        kind = next((key for key in volume if key != "name"), "volume")
        return FileRead(None, None, "", f"{what} is a {kind} volume: something running writes what it holds")
    found: list[FileRead] = []
    for kind, source in sources:
        held = held_object(scope, kind, item.namespace, source.get("name", ""))
        if held is None:
            return FileRead(
                None, None, "", f"{what} shows {kind} {source.get('name')!r}, which the render does not hold"
            )
        data = object_data(held)
        key = inside
        listed = _list(source.get("items"))
        if listed:
            key = next((str(m.get("key")) for m in listed if isinstance(m, dict) and m.get("path") == inside), "")
        if key and key in data:
            text = data[key]
            if text is None:
                return FileRead(None, held, f"data.{key}", f"{kind} {held.name!r} key {key!r} is not valid base64")
            found.append(FileRead(text, held, f"{_field_of(held, key)}.{key}"))
    if len({read.text for read in found}) > 1:
        return FileRead(None, None, "", f"{what} shows {path} from more than one source")
    return found[0] if found else ABSENT


def _field_of(held: Item, key: str) -> str:
    """The field of a ConfigMap or Secret whose key the file shows (the later one, where both hold it)."""
    later, earlier = ("stringData", "data") if held.kind == "Secret" else ("data", "binaryData")
    return later if key in _mapping(_mapping(held.obj).get(later)) else earlier
