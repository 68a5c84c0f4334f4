"""hardening/common and audit/scope: the label selector matcher (which policies select executor pods), patch helpers."""

from __future__ import annotations

import pytest

from executor_dind.audit.scope import selector_matches
from executor_dind.hardening.common import container_pointer, escape_pointer, op, snake_case

LABELS = {"app": "executor-all", "tier": "untrusted"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        (None, True),  # an absent podSelector
        ({}, True),  # an empty one selects every pod
        ({"matchLabels": {"app": "executor-all"}}, True),
        ({"matchLabels": {"app": "executor-all", "tier": "trusted"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["untrusted", "x"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["trusted"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["trusted"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["untrusted"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, True),  # absent key
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
        (
            {
                "matchLabels": {"app": "executor-all"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["trusted"]}],
            },
            False,  # both must hold
        ),
        ("not a selector", False),
    ],
)
def test_selector_matches(selector, matches):
    assert selector_matches(selector, LABELS) is matches


def test_container_pointer_finds_native_sidecars_and_plain_containers():
    deployment = {
        "kind": "Deployment",
        "spec": {"template": {"spec": {"initContainers": [{"name": "dind"}], "containers": [{"name": "executor"}]}}},
    }
    assert container_pointer(deployment, "dind") == "/spec/template/spec/initContainers/0"
    assert container_pointer(deployment, "executor") == "/spec/template/spec/containers/0"
    with pytest.raises(LookupError):
        container_pointer(deployment, "registry")


def test_ops_and_pointers():
    assert op("remove", "/a") == {"op": "remove", "path": "/a"}
    assert op("add", "/a", [1]) == {"op": "add", "path": "/a", "value": [1]}
    assert escape_pointer("checkov.io/skip16~x") == "checkov.io~1skip16~0x"
    assert snake_case("networkPolicy") == "network_policy"
