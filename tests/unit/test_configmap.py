"""configmap: the dotted-key ConfigMap form of the spec."""

from __future__ import annotations

import sys

import pytest

from executor_dind.function_config import parse_function_config
from executor_dind.records import ConfigError
from executor_dind.spec import parse_spec

from .helpers import cm_problems, configmap


def test_configmap_queues_list_means_one_queue_per_name():
    spec = parse_function_config(configmap(queues="batches,codeintel"))
    assert [(q.name, q.queue_names) for q in spec.queues] == [("batches", ()), ("codeintel", ())]
    spaced = parse_function_config(configmap(queues=" batches , codeintel "))
    assert spaced.queues == spec.queues
    assert [q.name for q in parse_function_config(configmap(queues="codeintel")).queues] == ["codeintel"]


def test_configmap_queues_may_be_yaml_flow():
    spec = parse_function_config(configmap(queues="[{name: all, queueNames: [batches], replicas: 3}]"))
    assert [(q.name, q.queue_names, q.replicas) for q in spec.queues] == [("all", ("batches",), 3)]


def test_configmap_dotted_keys_booleans_and_integers_are_parsed():
    spec = parse_function_config(
        configmap(
            **{
                "frontend.url": "http://sourcegraph-frontend.sg.svc.cluster.local:30080",
                "namespace": "executors",
                "hardening.profile": "strict",
                "docker.nativeSidecar": "false",
                "docker.mtu": "1400",
                "replaceUpstream": "True",
                "privateRegistry.enabled": "FALSE",
                "terminationGracePeriodSeconds": "120",
                "hardening.gvisor.enabled": "true",
                "hardening.networkPolicy.dns.nodeLocalIP": "169.254.20.10",
            }
        )
    )
    assert spec.frontend.url == "http://sourcegraph-frontend.sg.svc.cluster.local:30080"
    assert spec.namespace == "executors"
    assert spec.hardening.profile == "strict"
    assert spec.docker.native_sidecar is False
    assert spec.docker.mtu == 1400
    assert spec.replace_upstream is True
    assert spec.private_registry.enabled is False
    assert spec.termination_grace_period_seconds == 120
    assert spec.hardening.gvisor.enabled is True
    assert spec.hardening.network_policy.dns.node_local_ip == "169.254.20.10"


def test_configmap_map_and_list_fields_are_yaml_flow():
    spec = parse_function_config(
        configmap(
            **{
                "hardening.nodePool.nodeSelector": "{pool: executors}",
                "hardening.networkPolicy.allowedCIDRs": "[203.0.113.0/24, 198.51.100.7/32]",
                "docker.daemonConfig": '{"debug": true}',
            }
        )
    )
    assert spec.hardening.node_pool.node_selector == {"pool": "executors"}
    assert spec.hardening.network_policy.allowed_cidrs == ("203.0.113.0/24", "198.51.100.7/32")
    assert spec.docker.daemon_config == {"debug": True}


def test_configmap_string_fields_stay_strings():
    # YAML would read these as a number or a boolean; a string field keeps the text.
    spec = parse_function_config(configmap(**{"hardening.nodePool.taint.value": "true", "storage.size": "20Gi"}))
    assert spec.hardening.node_pool.taint.value == "true"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"fronted.url": "x"}, [("data.fronted", "unknown field (did you mean 'frontend'?)")]),
        ({"frontend.ulr": "x"}, [("data.frontend.ulr", "unknown field (did you mean 'url'?)")]),
        ({"docker.mtu": "abc"}, [("data.docker.mtu", "must be an integer or auto, got 'abc'")]),
        ({"docker.nativeSidecar": "maybe"}, [("data.docker.nativeSidecar", "must be true or false, got 'maybe'")]),
        (
            {"hardening.profile": "strct"},
            [
                (
                    "data.hardening.profile",
                    "must be one of baseline, recommended, strict, got 'strct' (did you mean 'strict'?)",
                )
            ],
        ),
        (
            {"hardening.nodePool.nodeSelector": "{pool: executors"},
            [("data.hardening.nodePool.nodeSelector", "is not valid YAML flow: '{pool: executors'")],
        ),
        ({"docker.daemonConfig": "[1]"}, [("data.docker.daemonConfig", "must be an object, got a list")]),
        (
            {"queues": "gpu"},
            [
                (
                    "data.queues[0].queueNames",
                    "is required because the name 'gpu' is not itself a queue "
                    "(set queueNames to a list of batches, codeintel)",
                )
            ],
        ),
        (
            {"queues": "batches,Code_Intel"},
            [
                (
                    "data.queues[1].name",
                    "'Code_Intel' is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)",
                )
            ],
        ),
        ({"queues": ""}, [("data.queues", "must list at least one queue")]),
        (
            {"storage.type": "ephemeral"},
            [
                (
                    "data.storage.size",
                    "is required with storage.type: ephemeral (each pod gets a volume of that size: it costs money)",
                )
            ],
        ),
    ],
)
def test_configmap_errors_carry_the_data_key_path(data, expected):
    assert cm_problems(data) == expected


def test_configmap_data_must_be_a_map():
    with pytest.raises(ConfigError) as caught:
        parse_function_config({"apiVersion": "v1", "kind": "ConfigMap", "data": ["frontend.url"]})
    assert caught.value.problems == [("data", "must be an object of dotted keys, e.g. frontend.url")]


def test_configmap_and_typed_config_agree():
    typed = parse_spec(
        {
            "namespace": "ex",
            "queues": [{"name": "batches"}, {"name": "codeintel"}],
            "hardening": {"profile": "recommended", "nodePool": {"nodeSelector": {"pool": "x"}}},
        }
    )
    dotted = parse_function_config(
        configmap(
            **{
                "namespace": "ex",
                "queues": "batches,codeintel",
                "hardening.profile": "recommended",
                "hardening.nodePool.nodeSelector": "{pool: x}",
            }
        )
    )
    assert dotted == typed


def test_integers_are_ascii_digits_and_no_longer_than_any_field_takes():
    """str.isdigit() accepts superscripts and other scripts' digits, which int() refuses: they are text here."""
    assert cm_problems({"terminationGracePeriodSeconds": "6\u2070"}) == [
        ("data.terminationGracePeriodSeconds", "must be a non-negative integer, got '6\u2070'")
    ]
    assert cm_problems({"docker.mtu": "9" * 5000}) == [
        ("data.docker.mtu", "is a number of 5000 digits: no field takes an integer that large")
    ]
    # PyYAML reads the number only if this process lifted Python's int() limit of 4300 digits (another test does)
    huge = cm_problems({"queues": "[{name: batches, replicas: " + "9" * 5000 + "}]"})
    if 0 < sys.get_int_max_str_digits() < 5000:
        assert huge == [("data.queues", "holds a number of thousands of digits: no field takes an integer that large")]
    else:
        assert huge == [
            ("data.queues[0].replicas", "must be an integer of at most 2147483647, got a 16610-bit integer")
        ]
    # the positive control: ASCII digits of a sane length are the integer they say
    assert parse_function_config(configmap(terminationGracePeriodSeconds=" 60 ")).termination_grace_period_seconds == 60
