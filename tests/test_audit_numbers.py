"""Property: the audit's input (a rendered stream, as `executor-dind audit` reads it) with Unicode digits, numbers
of thousands of digits or durations beyond Go's range in its numeric places gives findings, located where the
value makes the render unusable, and never an exception (an internal error on the command line)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from executor_dind.audit import audit
from executor_dind.krm.errors import InputError
from executor_dind.krm.read import read_stream
from unit.helpers import frontend_service, render, secret

UNICODE_DIGITS = st.text(
    st.characters(categories=["Nd", "No"], exclude_characters="0123456789"), min_size=1, max_size=4
)
HUGE = st.integers(min_value=400, max_value=6000).map(lambda n: "9" * n)
STRANGE = st.one_of(UNICODE_DIGITS, HUGE, st.sampled_from(["1e400", "-1", "٣٠٨٠"]))
DEPLOYMENT = "executor-all"
# Written where the strange value goes, then replaced in the YAML text: the value is read as YAML reads it (a
# number of thousands of digits stays a number), as the audit's reader gets it.
SENTINEL = "strange-value-here"
EXECUTOR = "spec.template.spec.containers[0]"


def _rendered() -> list[dict[str, Any]]:
    items = render(
        frontend_service(), secret(namespace="executors"), namespace="executors", hardening={"profile": "strict"}
    )
    return [item.obj for item in items]


STRICT = _rendered()


def _env(obj: dict[str, Any], name: str) -> tuple[dict[str, Any], str]:
    for index, var in enumerate(obj["spec"]["template"]["spec"]["containers"][0]["env"]):
        if var["name"] == name:
            return var, f"{EXECUTOR}.env[{index}]"
    raise AssertionError(name)


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name)


def _url_port(objects: list[dict[str, Any]], text: str) -> str:
    var, path = _env(_find(objects, "Deployment", DEPLOYMENT), "EXECUTOR_FRONTEND_URL")
    var["value"] = f"http://sourcegraph-frontend.sourcegraph.svc.cluster.local:{SENTINEL}"
    return path


def _policy_port(objects: list[dict[str, Any]], text: str) -> str:
    policy = _find(objects, "NetworkPolicy", "executor-dind-executors")
    rule = next(i for i, rule in enumerate(policy["spec"]["egress"]) if rule.get("ports"))
    policy["spec"]["egress"][rule]["ports"][0]["port"] = SENTINEL
    # A port name as the API server takes it (IANA_SVC_NAME, e.g. `1e400`) is no number and no error.
    name = re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?", text) and re.search("[a-z]", text) and "--" not in text
    return "" if name else f"spec.egress[{rule}].ports[0].port"


def _runtime(objects: list[dict[str, Any]], text: str) -> str:
    var, path = _env(_find(objects, "Deployment", DEPLOYMENT), "EXECUTOR_MAXIMUM_RUNTIME_PER_JOB")
    var["value"] = f"{SENTINEL}m"
    return path


def _grace(objects: list[dict[str, Any]], text: str) -> str:
    spec = _find(objects, "Deployment", DEPLOYMENT)["spec"]["template"]["spec"]
    spec["terminationGracePeriodSeconds"] = SENTINEL
    return ""


def _limit(objects: list[dict[str, Any]], text: str) -> str:
    container = _find(objects, "Deployment", DEPLOYMENT)["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["limits"]["cpu"] = SENTINEL
    return ""


def _container_port(objects: list[dict[str, Any]], text: str) -> str:
    container = _find(objects, "Deployment", DEPLOYMENT)["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["containerPort"] = SENTINEL
    return ""


PLACES = {
    "frontend URL port": (_url_port, "EXD004"),
    "NetworkPolicy port": (_policy_port, "EXD307"),
    "job runtime": (_runtime, "EXD008"),
    "grace period": (_grace, ""),
    "cpu limit": (_limit, ""),
    "container port": (_container_port, ""),
}


@pytest.mark.parametrize("place", PLACES)
@settings(max_examples=15, deadline=None)
@given(text=STRANGE)
def test_strange_numbers_in_the_audited_stream_give_findings_never_an_exception(place: str, text: str) -> None:
    edit, rule = PLACES[place]
    objects = [yaml.safe_load(yaml.safe_dump(obj)) for obj in STRICT]  # a deep copy
    field = edit(objects, text)
    stream = "".join("---\n" + yaml.safe_dump(obj, sort_keys=False, width=10**6) for obj in objects)
    assert stream.count(SENTINEL) == 1
    stream = stream.replace(SENTINEL, text)
    try:
        findings = audit(read_stream(stream))
    except InputError as error:  # the command line's located refusal of an object it cannot build
        assert error.messages
        return
    if rule and field:
        assert [r.field_path for r in findings if r.rule == rule and r.field_path.startswith(field)], [
            r.line() for r in findings
        ]


@pytest.mark.parametrize("place", PLACES)
def test_the_places_are_clean_with_their_rendered_values(place: str) -> None:
    """The positive control: the same stream, unedited, has no finding of the places' rules."""
    stream = "".join("---\n" + yaml.safe_dump(obj, sort_keys=False) for obj in STRICT)
    findings = audit(read_stream(stream))
    _, rule = PLACES[place]
    assert [r.line() for r in findings if rule and r.rule == rule] == []
