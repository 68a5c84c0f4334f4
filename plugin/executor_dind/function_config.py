"""The functionConfig: an ExecutorDind object or a ConfigMap with dotted keys, parsed into the spec at the edge."""

from __future__ import annotations

from executor_dind import records
from executor_dind.records import ConfigError, shown
from executor_dind.results import ResourceRef, Result
from executor_dind.spec import API_VERSION, KIND, Spec, parse_spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def parse_function_config(config: dict[str, Any] | None) -> Spec:
    """Accepts the ExecutorDind kind or a ConfigMap with dotted keys; no config at all means the defaults."""
    if config is None or config == {}:
        return Spec()
    if not isinstance(config, dict):
        raise ConfigError(
            [
                (
                    "functionConfig",
                    f"the functionConfig must be an object ({API_VERSION}/{KIND} or v1/ConfigMap), not {shown(config)}",
                )
            ]
        )
    api_version, kind = config.get("apiVersion"), config.get("kind")
    if kind == KIND and api_version == API_VERSION:
        return validated_spec(config.get("spec"), "spec")
    if kind == "ConfigMap" and api_version == "v1":
        data = config.get("data") or {}
        if not isinstance(data, dict):
            raise ConfigError([("data", "must be an object of dotted keys, e.g. frontend.url")])
        from executor_dind.configmap import dotted_tree

        return validated_spec(dotted_tree(data, Spec, "data"), "data")
    raise ConfigError(
        [
            (
                "functionConfig",
                f"unknown functionConfig {api_version}/{kind}: expected {API_VERSION}/{KIND} "
                "or v1/ConfigMap (dotted keys such as frontend.url)",
            )
        ]
    )


def validated_spec(raw: Any, path: str = "spec") -> Spec:
    """The spec, each field checked alone, then across fields by every control's validate hook, and its
    auditExceptions against the audit's registry; ConfigError lists every problem at its config field."""
    spec = parse_spec(raw, path)
    from executor_dind import hardening

    problems = [*hardening.validate(spec, path), *_audit_exception_problems(spec, path)]
    if problems:
        raise ConfigError(problems)
    return spec


def _audit_exception_problems(spec: Spec, path: str) -> list[tuple[str, str]]:
    from executor_dind.audit.rules import RULES

    return [
        (f"{path}.auditExceptions[{index}].rule", f"{exception.rule!r} is not an audit rule ({', '.join(RULES)})")
        for index, exception in enumerate(spec.audit_exceptions)
        if exception.rule not in RULES
    ]


def config_ref(config: Any) -> ResourceRef | None:
    """The functionConfig as a result's resourceRef (a KRM result's field.path needs one)."""
    if not isinstance(config, dict):
        return None
    meta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
    return ResourceRef(
        str(config.get("apiVersion", API_VERSION)),
        str(config.get("kind", KIND)),
        str(meta.get("name", "")),
        str(meta.get("namespace", "")),
    )


def config_file(config: Any) -> str:
    """Where the orchestrator says the functionConfig lives (kpt's and kustomize's path annotation), or ""."""
    from executor_dind.krm.item import PATH_ANNOTATIONS

    meta = config.get("metadata") if isinstance(config, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict):
        return ""
    return next((str(annotations[key]) for key in PATH_ANNOTATIONS if annotations.get(key)), "")


def config_results(error: ConfigError, config: Any, file: str = "") -> list[Result]:
    """One error per problem, naming the config field and the config file (given, or the path annotation)."""
    ref = config_ref(config)
    file = file or config_file(config)
    where = f" in {file}" if file else ""
    return [
        # A problem with the whole object ("functionConfig") is its own message; a field's names the field.
        Result(
            message if path == "functionConfig" else f"invalid functionConfig{where}: {path}: {message}",
            "error",
            ref,
            path if ref else "",
            file,
        )
        for path, message in error.problems
    ]


def json_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{KIND} ({API_VERSION})",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": KIND},
            "metadata": {"type": "object"},
            "spec": records.schema(Spec),
        },
    }
