"""The transformation behind every way of use: items and a functionConfig in, items and results out.

Pure: no I/O. The config is validated before anything is touched; on any error the input items come back
unchanged with the results that say why, and the caller exits non-zero.
"""

from __future__ import annotations

from executor_dind.function_config import config_file as function_config_file
from executor_dind.function_config import config_ref, config_results, parse_function_config
from executor_dind.krm.item import INDEX_ANNOTATIONS, PATH_ANNOTATIONS, Item, is_orchestrator_annotation
from executor_dind.naming import PART_OF
from executor_dind.plan import Plan, plan
from executor_dind.records import ConfigError, Record
from executor_dind.results import Result, about, has_errors
from executor_dind.versions import following

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OWNER_LABEL = ("app.kubernetes.io/part-of", PART_OF)
OUTPUT_DIR = "executor-dind"
# Only objects of these kinds can be ours; a user's Secret labelled part-of executor-dind is theirs.
PRODUCED_KINDS = frozenset(
    {
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "Deployment",
        "StatefulSet",
        # KEDA's: a queue that changes isolation (or drops autoscaling) leaves none behind.
        "ScaledObject",
        "ScaledJob",
        "NetworkPolicy",
        "Namespace",
        "RuntimeClass",
    }
)


# The workloads the audit judges (it reads Namespaces, ServiceAccounts, policies and ConfigMaps around them).
SELF_AUDITED_KINDS = frozenset({"Deployment", "StatefulSet", "ScaledJob"})


class Outcome(Record):
    items: list[Item]
    results: list[Result]
    plan: Plan | None = None  # what was planned, when the config parsed (explain shows it)

    @property
    def failed(self) -> bool:
        return has_errors(self.results)


def _owned(item: Item) -> bool:
    return item.label(OWNER_LABEL[0]) == OWNER_LABEL[1]


def _without_orchestrator_annotations(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if not is_orchestrator_annotation(k)}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return {**obj, "metadata": meta}


def _with_annotations(obj: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
    if not annotations:
        return obj
    meta = dict(obj["metadata"])
    meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    return {**obj, "metadata": meta}


def _file_annotations(obj: dict[str, Any]) -> dict[str, str]:
    path = f"{OUTPUT_DIR}/{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
    return {**dict.fromkeys(PATH_ANNOTATIONS, path), **dict.fromkeys(INDEX_ANNOTATIONS, "0")}


def upsert(
    items: list[Item], objects: tuple[dict[str, Any], ...] | list[dict[str, Any]], file_paths: bool = False
) -> tuple[list[Item], list[Result], dict[str, int]]:
    """Replace or add each object by (group, kind, namespace, name); untouched items keep their text.

    An item with the same identity that executor-dind does not own is a conflict, never overwritten. Owned items
    no longer produced (a removed queue, a control turned off) are pruned, so a re-render follows the config.
    """
    new_items = [Item.new(obj) for obj in objects]
    index = {item.key: position for position, item in enumerate(items)}
    produced = {item.key for item in new_items}
    out = list(items)
    results: list[Result] = []
    counts = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0}
    appended: list[Item] = []
    for new in new_items:
        position = index.get(new.key)
        if position is None:
            obj = _with_annotations(new.obj, _file_annotations(new.obj) if file_paths else {})
            appended.append(Item.new(obj))
            counts["added"] += 1
            continue
        existing = items[position]
        if not _owned(existing):
            results.append(
                about(
                    existing,
                    f"{existing.describe()} is in the input but not managed by executor-dind, which would create "
                    "an object of the same name: rename or remove yours (or turn off the option that adds it)",
                )
            )
            continue
        if _without_orchestrator_annotations(existing.obj) == new.obj:
            counts["unchanged"] += 1
            continue
        kept = {k: v for k, v in existing.annotations.items() if is_orchestrator_annotation(k)}
        out[position] = Item.new(_with_annotations(new.obj, kept))
        counts["updated"] += 1
    stale = [
        item
        for item in out
        if item.key not in produced and item.kind in PRODUCED_KINDS and item.is_mapping and _owned(item)
    ]
    counts["removed"] = len(stale)
    out = [item for item in out if item not in stale] + appended
    return out, results, counts


def run(
    items: list[Item], function_config: dict[str, Any] | None, file_paths: bool = False, config_file: str = ""
) -> Outcome:
    """file_paths: give new items path annotations (KRM mode: kpt writes them there, kustomize strips them).
    config_file: the file the config came from (render, the legacy plugin), named in its errors."""
    try:
        spec = parse_function_config(function_config)
    except ConfigError as error:
        return Outcome(items, config_results(error, function_config, config_file))
    spec, followed = following(spec, items)
    ref = config_ref(function_config)
    planned = plan(spec, items, ref)
    file = config_file or function_config_file(function_config)
    # The checks that need the input point at the config too: they name its file as its parse errors do.
    results = [
        *followed,
        *(r._replace(file_path=file) if file and ref and r.resource == ref else r for r in planned.results),
    ]
    if planned.failed:
        return Outcome(items, results, planned)
    upstream = planned.context.upstream
    kept = [item for item in items if item not in upstream]
    out, upsert_results, counts = upsert(kept, planned.objects, file_paths)
    results.extend(upsert_results)
    if not has_errors(results):
        results.extend(self_audit(spec, out))
    if has_errors(results):
        return Outcome(items, results, planned)
    results.append(_summary(spec, planned, counts))
    return Outcome(out, results, planned)


def self_audit(spec: Any, out: list[Item]) -> list[Result]:
    """The audit's error findings on the objects we emit, judged with the whole output around them: a render
    the audit rejects is never emitted, unless spec.auditExceptions accepts that rule (then a warning says why)."""
    from executor_dind.audit import audit
    from executor_dind.audit.allowances import Allowances

    ours = [item for item in out if item.kind in SELF_AUDITED_KINDS and _owned(item)]
    accepted = {exception.rule: exception.reason for exception in spec.audit_exceptions}
    results = []
    # Warnings are for `executor-dind audit`: profiles below strict carry several by design.
    for finding in audit(out, targets=ours, errors_only=True, allowances=Allowances.of(spec)):
        if finding.severity != "error":
            continue
        if finding.rule in accepted:
            message = f"accepted by spec.auditExceptions ({accepted[finding.rule]}): {finding.message}"
            results.append(finding._replace(severity="warning", message=message))
        else:
            message = f"the render fails its own audit: {finding.message}"
            results.append(finding._replace(message=message))
    return results


def _summary(spec: Any, planned: Plan, counts: dict[str, int]) -> Result:
    context = planned.context
    changes = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    where = f"namespace {context.namespace}" if context.namespace else "no namespace"
    replaced = f"; removed {len(context.upstream)} upstream executor objects" if context.upstream else ""
    controls = ", ".join(control.id for control in planned.controls if control.settings is not None)
    return Result(
        f"executor-dind: {len(planned.objects)} objects for queue(s) {', '.join(q.name for q in spec.queues)} in "
        f"{where} ({changes}){replaced}; frontend {context.frontend_url}; "
        f"hardening profile {spec.hardening.profile}, controls: {controls or 'baseline only'}",
        "info",
    )
