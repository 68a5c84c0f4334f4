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
    terms = selector_terms(selector)
    if terms is None:
        return False
    for key, operator, values in terms:
        present = key in labels
        if worst and not present and controller_label(key):
            continue
        if operator == "In":
            met = present and labels[key] in values
        elif operator == "NotIn":
            met = not present or labels[key] not in values
        else:
            met = present if operator == "Exists" else not present
        if not met:
            return False
    return True


def selector_terms(selector: Any) -> list[tuple[str, str, tuple[str, ...]]] | None:
    """A selector as (key, operator, values) terms, matchLabels as `In` with one value; None when malformed (the
    API server would reject its object)."""
    if selector is None:
        return []
    if not isinstance(selector, dict):
        return None
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        return None
    terms = [(str(key), "In", (str(value),)) for key, value in match_labels.items()]
    for expression in expressions:
        if not isinstance(expression, dict) or expression.get("operator") not in OPERATORS:
            return None
        values = expression.get("values") or []
        values = tuple(str(v) for v in values) if isinstance(values, list) else ()
        terms.append((str(expression.get("key")), str(expression["operator"]), values))
    return terms


OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def describe_term(key: str, operator: str, values: tuple[str, ...]) -> str:
    """A term as people write it: `team=x`, `team in (a, b)`, `!team`."""
    if operator == "In" and len(values) == 1:
        return f"{key}={values[0]}"
    if operator in ("In", "NotIn"):
        return f"{key} {operator.lower()} ({', '.join(values)})"
    return key if operator == "Exists" else f"!{key}"


def required_labels(selector: Any) -> dict[str, str]:
    """Labels a pod the selector matches must carry (matchLabels, and the first value of each `In`): what a pod
    the input does not show is assumed to carry when only such a pod can match."""
    out: dict[str, str] = {}
    for key, operator, values in selector_terms(selector) or []:
        if operator == "In" and values and key not in out:
            out[key] = values[0]
    return out


def surely_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """Whether every pod of this template matches, whatever the controllers add: the selector matches its labels
    and reads no label the controllers add (what a Deny is credited on)."""
    terms = selector_terms(selector)
    return (
        terms is not None
        and not any(controller_label(key) for key, _, _ in terms)
        and selector_matches(selector, labels)
    )
