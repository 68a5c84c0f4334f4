"""The objects read: an Item (one KRM object, its text and its nodes), the ResourceList, and the annotations the
orchestrator owns on them."""

from __future__ import annotations

from executor_dind.krm.nodes import construct, scalar
from executor_dind.libyaml import MappingNode, Node

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RESOURCE_LIST_KIND = "ResourceList"
PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_ANNOTATIONS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
# Annotations the orchestrator owns on an item; a replaced item keeps the ones it came with.
_ORCHESTRATOR_PREFIXES = ("internal.config.kubernetes.io/", "kustomize.config.k8s.io/", "config.k8s.io/")
_ORCHESTRATOR_KEYS = frozenset((*PATH_ANNOTATIONS[1:], *INDEX_ANNOTATIONS[1:]))


def is_orchestrator_annotation(key: str) -> bool:
    return key.startswith(_ORCHESTRATOR_PREFIXES) or key in _ORCHESTRATOR_KEYS


class Item:
    """One KRM object: its source text (None when created or changed here) and its parsed form.

    Compared by identity: two items with the same content are still two items. `where` names it in errors
    (a format and the item's index, formatted only when an error needs it); `line` is the line (from 0) its
    document starts at when it was read without keeping its nodes.
    """

    __slots__ = ("_identity", "_obj", "_where", "line", "node", "text")

    def __init__(
        self,
        text: str | None = None,
        node: Node | None = None,
        _obj: Any = None,
        where: str | tuple[str, int] = "",
        line: int | None = None,
    ) -> None:
        self.text = text
        self.node = node
        self._obj = _obj
        self._where = where
        self.line = line
        self._identity: tuple[str, str, str, str] | None = None

    @property
    def where(self) -> str:
        where = self._where
        return where if isinstance(where, str) else where[0].format(where[1])

    def __repr__(self) -> str:
        return f"Item({self.describe()})"

    @classmethod
    def new(cls, obj: dict[str, Any]) -> Item:
        return cls(_obj=obj)

    @property
    def obj(self) -> Any:
        if self._obj is None and self.node is not None:
            self._obj = construct(self.node, f"{self.where or 'item'} ({self.describe()})")
        return self._obj

    def _field(self, *path: str) -> str:
        if self.node is not None:
            return scalar(self.node, *path)
        value: Any = self._obj
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value if isinstance(value, str) else ""

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.node, MappingNode) if self.node is not None else isinstance(self._obj, dict)

    def _identify(self) -> tuple[str, str, str, str]:
        """apiVersion, kind, namespace and name, kept once read: the readers ask every item for them again and
        again (its kind alone ~1,000 times in a KRM run over the upstream base, ~600 of them the self-audit's)."""
        self._identity = (
            self._field("apiVersion"),
            self._field("kind"),
            self._field("metadata", "namespace"),
            self._field("metadata", "name"),
        )
        return self._identity

    @property
    def api_version(self) -> str:
        return (self._identity or self._identify())[0]

    @property
    def kind(self) -> str:
        return (self._identity or self._identify())[1]

    @property
    def namespace(self) -> str:
        return (self._identity or self._identify())[2]

    @property
    def name(self) -> str:
        return (self._identity or self._identify())[3]

    def annotation(self, key: str) -> str:
        return self._field("metadata", "annotations", key)

    def label(self, key: str) -> str:
        return self._field("metadata", "labels", key)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity for upsert: API group (not version), kind, namespace, name."""
        return (self.group, self.kind, self.namespace, self.name)

    @property
    def annotations(self) -> dict[str, str]:
        obj = self.obj
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        annotations = meta.get("annotations") if isinstance(meta, dict) else None
        return annotations if isinstance(annotations, dict) else {}

    def describe(self) -> str:
        namespace = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind or '(no kind)'}/{namespace}{self.name or '(no name)'}"


class Document:
    """A composed input document and the text it was composed from."""

    __slots__ = ("root", "text")

    def __init__(self, text: str, root: Node) -> None:
        self.text = text
        self.root = root


class ResourceList:
    def __init__(
        self,
        api_version: str,
        items: list[Item],
        function_config: dict[str, Any] | None = None,
        function_config_text: str | None = None,
        document: Document | None = None,
    ) -> None:
        self.api_version = api_version
        self.items = items
        self.function_config = function_config
        self.function_config_text = function_config_text
        self.results: list[dict[str, Any]] = []
        # The input as it came: what a failure writes back, so that no item is lost or altered.
        self.document = document
