"""Label selectors as Kubernetes reads them, and the worst case for the labels the controllers add."""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAME_LABEL = "kubernetes.io/metadata.name"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# Labels the controllers add to the pods they create, with values no render holds: a selector term on one of
# them is met, at worst, whatever the template says (an allow policy may select the pods or reach them).
CONTROLLER_LABELS = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "job-name",
        "controller-uid",
    }
)
CONTROLLER_LABEL_PREFIXES = ("batch.kubernetes.io/",)


def controller_label(key: str) -> bool:
    return key in CONTROLLER_LABELS or key.startswith(CONTROLLER_LABEL_PREFIXES)


def controller_labels_in(selector: Any) -> list[str]:
    """The controller-added label keys a selector's terms read (the worst case takes them as met)."""
    selector = as_dict(selector)
    keys = [str(key) for key in as_dict(selector.get("matchLabels"))]
    keys += [str(as_dict(e).get("key")) for e in as_list(selector.get("matchExpressions"))]
    return [key for key in dict.fromkeys(keys) if controller_label(key)]


def selector_matches(selector: Any, labels: Mapping[str, str], worst: bool = False) -> bool:
    """Kubernetes label selector semantics; an empty selector matches everything. A malformed selector (the API
    server would reject its object) matches nothing. worst: a term on a label the controllers add (and the
    template does not hold) is met, as it may be at runtime."""
    if selector is None:
        return True
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        return False
    for key, value in match_labels.items():
        if worst and str(key) not in labels and controller_label(str(key)):
            continue
        if labels.get(str(key)) != str(value):
            return False
    for expression in expressions:
        if not isinstance(expression, dict):
            return False
        key, operator = str(expression.get("key")), expression.get("operator")
        if (
            worst
            and key not in labels
            and controller_label(key)
            and operator in ("In", "NotIn", "Exists", "DoesNotExist")
        ):
            continue
        values = expression.get("values") or []
        values = [str(v) for v in values] if isinstance(values, list) else []
        present = key in labels
        if operator == "In":
            ok = present and labels[key] in values
        elif operator == "NotIn":
            ok = not present or labels[key] not in values
        elif operator == "Exists":
            ok = present
        elif operator == "DoesNotExist":
            ok = not present
        else:
            return False
        if not ok:
            return False
    return True
