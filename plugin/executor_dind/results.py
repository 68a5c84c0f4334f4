"""KRM function results: what the function tells the orchestrator and the user."""

from __future__ import annotations

from collections.abc import Iterable

from executor_dind.krm.item import PATH_ANNOTATIONS, Item
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal

    Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


class ResourceRef(Record):
    api_version: str
    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def of(cls, item: Item) -> ResourceRef:
        return cls(item.api_version, item.kind, item.name, item.namespace)

    def describe(self) -> str:
        return f"{self.kind}/{self.namespace or '-'}/{self.name}"


class Result(Record):
    message: str
    severity: Severity = "error"
    resource: ResourceRef | None = None
    field_path: str = ""
    file_path: str = ""
    rule: str = ""

    def to_krm(self) -> dict[str, Any]:
        result: dict[str, Any] = {"message": self.message, "severity": self.severity}
        if self.resource is not None:
            ref = {"apiVersion": self.resource.api_version, "kind": self.resource.kind}
            ref["name"] = self.resource.name
            if self.resource.namespace:
                ref["namespace"] = self.resource.namespace
            result["resourceRef"] = ref
            if self.field_path:
                result["field"] = {"path": self.field_path}
        if self.file_path:
            result["file"] = {"path": self.file_path}
        if self.rule:
            result["tags"] = {"rule": self.rule}
        return result

    def line(self) -> str:
        """One line for humans: `<severity> [<ID> ]<Kind>/<ns>/<name> <field.path>[ in <file>]: <message>`."""
        parts = [self.severity]
        if self.rule:
            parts.append(self.rule)
        if self.resource is not None:
            parts.append(self.resource.describe())
        if self.field_path and self.field_path not in self.message:  # never say the path twice
            parts.append(self.field_path)
        if self.file_path and self.file_path not in self.message:  # nor the file
            parts.append(f"in {self.file_path}")
        return " ".join(parts) + ": " + self.message


def about(item: Item, message: str, severity: Severity = "error", field_path: str = "", rule: str = "") -> Result:
    """A result pointing at an item, with its file when the orchestrator said where it lives."""
    file_path = next((item.annotation(key) for key in PATH_ANNOTATIONS if item.annotation(key)), "")
    return Result(message, severity, ResourceRef.of(item), field_path, file_path, rule)


def has_errors(results: Iterable[Result]) -> bool:
    return any(result.severity == "error" for result in results)


def sort_results(results: Iterable[Result]) -> list[Result]:
    return sorted(
        results,
        key=lambda r: (
            SEVERITY_ORDER[r.severity],
            r.rule,
            r.resource.describe() if r.resource else "",
            r.field_path,
        ),
    )


def summary(results: list[Result]) -> str:
    """The stderr line: the first error (or warning) in full, and how many more there are."""
    ordered = sort_results(results)
    if not ordered:
        return "executor-dind: ok"
    first = ordered[0]
    more = len([r for r in ordered if r.severity == first.severity]) - 1
    suffix = f" (and {more} more {first.severity}{'s' if more > 1 else ''})" if more > 0 else ""
    return f"executor-dind: {first.line()}{suffix}"
