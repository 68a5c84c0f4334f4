"""config: defaults, every validation error (field path, message, nearest-key suggestion), the ConfigMap form and
the JSON Schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from executor_dind.config import (
    API_VERSION,
    DEFAULT_IMAGES,
    DENIED_CIDRS,
    KIND,
    MANAGED_ENV,
    ConfigError,
    Queue,
    Spec,
    duration_seconds,
    json_schema,
    parse_function_config,
    parse_spec,
)

ROOT = Path(__file__).resolve().parents[2]


def problems(raw: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_spec(raw)
    return caught.value.problems


def configmap(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "function-input"}, "data": data}


def cm_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_function_config(configmap(**data))
    return caught.value.problems


# --- defaults ---------------------------------------------------------------------------------------------------


def test_no_config_and_empty_spec_mean_the_defaults():
    assert parse_function_config(None) == Spec()
    assert parse_function_config({}) == Spec()
    assert parse_spec(None) == Spec()
    assert parse_spec({}) == Spec()
    assert parse_function_config({"apiVersion": API_VERSION, "kind": KIND}) == Spec()
    assert parse_function_config(configmap()) == Spec()


def test_default_values_are_those_of_the_design():
    spec = Spec()
    assert spec.namespace == ""
    assert spec.frontend.url == ""
    assert (spec.frontend.password_secret.name, spec.frontend.password_secret.key) == ("executor-secret", "password")
    assert spec.queues == (Queue(name="all", queue_names=("batches", "codeintel")),)
    assert (spec.queues[0].replicas, spec.queues[0].maximum_num_jobs) == (1, 4)
    assert spec.maximum_runtime_per_job == "30m"
    # terminationGracePeriodSeconds: maximumRuntimePerJob + 60 s
    assert spec.termination_grace_period_seconds is None
    assert spec.grace_period_seconds == 30 * 60 + 60
    assert spec.replace_upstream is False
    assert (spec.log.level, spec.log.format) == ("warn", "json")
    assert (spec.storage.type, spec.scratch_size) == ("emptyDir", "20Gi")
    assert (spec.docker.native_sidecar, spec.docker.mtu, spec.docker.daemon_config) == (True, 1200, {})
    assert spec.private_registry.enabled is True
    assert spec.private_registry.storage == "100Gi"
    assert spec.private_registry.remote_url == "https://registry-1.docker.io"
    assert spec.hardening.profile == "baseline"
    for control in ("node_pool", "gvisor", "network_policy", "pod_security"):
        assert getattr(spec.hardening, control).enabled is None, control
    assert spec.hardening.node_pool.taint.key == "executor-dind.dev/untrusted"
    assert spec.hardening.network_policy.denied_cidrs == DENIED_CIDRS
    assert spec.hardening.network_policy.dns.pod_labels == {"k8s-app": "kube-dns"}


def test_default_executor_and_dind_images_are_pinned_by_tag_and_digest():
    for name in ("executor", "dind"):
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", DEFAULT_IMAGES[name]), name


def test_denied_cidrs_cover_metadata_private_cgnat_loopback_and_ipv6_ranges():
    for cidr in ("169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8"):
        assert cidr in DENIED_CIDRS
    for cidr in ("fc00::/7", "fe80::/10", "::1/128"):
        assert cidr in DENIED_CIDRS


def test_explicit_grace_period_wins_and_runtime_drives_the_default():
    assert parse_spec({"terminationGracePeriodSeconds": 90}).grace_period_seconds == 90
    assert parse_spec({"maximumRuntimePerJob": "1h30m"}).grace_period_seconds == 5400 + 60
    assert parse_spec({"storage": {"size": "50Gi"}}).scratch_size == "50Gi"


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("2h0m10s", 7210)]
)
def test_duration_seconds(text, seconds):
    assert duration_seconds(text) == seconds


def test_a_full_spec_round_trips_into_the_dataclasses():
    spec = parse_spec(
        {
            "namespace": "executors",
            "frontend": {"url": "http://sg.example.com:30080", "passwordSecret": {"name": "s", "key": "k"}},
            "queues": [
                {"name": "batches", "replicas": 2, "maximumNumJobs": 8, "env": {"FOO": "bar"}},
                {"name": "gpu", "queueNames": ["codeintel"], "resources": {"limits": {"cpu": "8"}}},
            ],
            "docker": {"nativeSidecar": False, "mtu": 1400, "daemonConfig": {"debug": True}},
            "privateRegistry": {"enabled": False},
            "hardening": {
                "profile": "strict",
                "nodePool": {"enabled": False, "nodeSelector": {"pool": "executors"}},
                "networkPolicy": {"allowedCIDRs": ["203.0.113.0/24"], "dns": {"nodeLocalIP": "169.254.20.10"}},
            },
        }
    )
    assert spec.namespace == "executors"
    assert spec.frontend.password_secret.name == "s"
    assert [(q.name, q.queue_names, q.replicas, q.maximum_num_jobs) for q in spec.queues] == [
        ("batches", (), 2, 8),
        ("gpu", ("codeintel",), 1, 4),
    ]
    assert spec.queues[0].env == {"FOO": "bar"}
    assert spec.docker.native_sidecar is False
    assert spec.docker.daemon_config == {"debug": True}
    assert spec.private_registry.enabled is False
    assert spec.hardening.node_pool.enabled is False
    assert spec.hardening.node_pool.node_selector == {"pool": "executors"}
    assert spec.hardening.network_policy.allowed_cidrs == ("203.0.113.0/24",)
    assert spec.hardening.network_policy.dns.node_local_ip == "169.254.20.10"


def test_spec_is_frozen():
    with pytest.raises(AttributeError):
        Spec().namespace = "x"  # type: ignore[misc]


# --- validation errors: exact field path and message ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "path", "suggestion"),
    [
        ({"queus": []}, "spec.queus", "queues"),
        ({"namespce": "x"}, "spec.namespce", "namespace"),
        ({"frontend": {"ulr": "x"}}, "spec.frontend.ulr", "url"),
        ({"frontend": {"passwordSecret": {"nmae": "x"}}}, "spec.frontend.passwordSecret.nmae", "name"),
        ({"queues": [{"name": "batches", "replica": 2}]}, "spec.queues[0].replica", "replicas"),
        ({"queues": [{"name": "batches", "queueName": ["batches"]}]}, "spec.queues[0].queueName", "queueNames"),
        ({"hardening": {"nodePool": {"enabeld": True}}}, "spec.hardening.nodePool.enabeld", "enabled"),
        ({"hardening": {"gVisor": {}}}, "spec.hardening.gVisor", "gvisor"),
        (
            {"hardening": {"networkPolicy": {"deniedCidrs": []}}},
            "spec.hardening.networkPolicy.deniedCidrs",
            "deniedCIDRs",
        ),
        ({"privateRegistry": {"remoteURL": "x"}}, "spec.privateRegistry.remoteURL", "remoteUrl"),
        ({"docker": {"nativesidecar": True}}, "spec.docker.nativesidecar", "nativeSidecar"),
        ({"replaceUpstreams": True}, "spec.replaceUpstreams", "replaceUpstream"),
    ],
)
def test_unknown_field_is_named_with_the_nearest_valid_key(raw, path, suggestion):
    assert problems(raw) == [(path, f"unknown field (did you mean {suggestion!r}?)")]


def test_unknown_field_without_a_near_key_has_no_suggestion():
    assert problems({"replicas": 3}) == [("spec.replicas", "unknown field")]


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ("a string", "spec", "must be an object, got 'a string'"),
        ({"frontend": {"url": 5}}, "spec.frontend.url", "must be a string, got 5"),
        ({"frontend": "http://x"}, "spec.frontend", "must be an object, got 'http://x'"),
        ({"queues": "batches"}, "spec.queues", "must be a list, got 'batches'"),
        ({"queues": [5]}, "spec.queues[0]", "must be an object, got 5"),
        (
            {"queues": [{"name": "batches", "replicas": "2"}]},
            "spec.queues[0].replicas",
            "must be a non-negative integer, got '2'",
        ),
        (
            {"queues": [{"name": "batches", "replicas": True}]},
            "spec.queues[0].replicas",
            "must be a non-negative integer, got True",
        ),
        (
            {"queues": [{"name": "batches", "replicas": -1}]},
            "spec.queues[0].replicas",
            "must be a non-negative integer, got -1",
        ),
        ({"queues": [{"name": "batches", "env": ["A=b"]}]}, "spec.queues[0].env", "must be an object, got a list"),
        ({"docker": {"nativeSidecar": "yes"}}, "spec.docker.nativeSidecar", "must be true or false, got 'yes'"),
        ({"docker": {"mtu": 1.5}}, "spec.docker.mtu", "must be a non-negative integer, got 1.5"),
        (
            {"terminationGracePeriodSeconds": "60"},
            "spec.terminationGracePeriodSeconds",
            "must be a non-negative integer, got '60'",
        ),
        (
            {"hardening": {"nodePool": {"nodeSelector": {"pool": 1}}}},
            "spec.hardening.nodePool.nodeSelector.pool",
            "must be a string, got 1",
        ),
        (
            {"hardening": {"networkPolicy": {"allowedCIDRs": "10.0.0.0/8"}}},
            "spec.hardening.networkPolicy.allowedCIDRs",
            "must be a list, got '10.0.0.0/8'",
        ),
        (
            {"log": {"level": "debug"}},
            "spec.log.level",
            "must be one of dbug, info, warn, eror, crit, got 'debug' (did you mean 'dbug'?)",
        ),
        ({"storage": {"type": "pvc"}}, "spec.storage.type", "must be one of emptyDir, ephemeral, got 'pvc'"),
    ],
)
def test_wrong_types_name_the_field_and_the_expected_type(raw, path, message):
    assert problems(raw) == [(path, message)]


def test_a_nullable_boolean_rejects_strings():
    [(path, message)] = problems({"hardening": {"nodePool": {"enabled": "true"}}})
    assert path == "spec.hardening.nodePool.enabled"
    assert message.startswith("must be true or false") and message.endswith(", got 'true'")


@pytest.mark.parametrize("name", ["Batches", "my_queue", "-batches", "batches-", "a" * 64, ""])
def test_queue_name_must_be_a_dns_1123_label(name):
    assert problems({"queues": [{"name": name, "queueNames": ["batches"]}]}) == [
        ("spec.queues[0].name", f"{name!r} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)")
    ]


def test_queue_name_is_required():
    assert problems({"queues": [{"queueNames": ["batches"]}]}) == [("spec.queues[0].name", "is required")]


@pytest.mark.parametrize(
    ("value", "hint"),
    [("batch", " (did you mean 'batches'?)"), ("codeIntel", " (did you mean 'codeintel'?)"), ("precise", "")],
)
def test_queue_values_are_only_batches_or_codeintel(value, hint):
    assert problems({"queues": [{"name": "q", "queueNames": ["batches", value]}]}) == [
        ("spec.queues[0].queueNames[1]", f"must be one of batches, codeintel, got {value!r}{hint}")
    ]


def test_a_queue_named_other_than_a_queue_needs_queue_names():
    assert problems({"queues": [{"name": "gpu"}]}) == [
        (
            "spec.queues[0].queueNames",
            "is required because the name 'gpu' is not itself a queue (set queueNames to a list of batches, codeintel)",
        )
    ]
    # ...and a queue named after a queue does not
    assert parse_spec({"queues": [{"name": "codeintel"}]}).queues[0].queue_names == ()


def test_duplicate_queues_and_queue_names_are_rejected():
    assert problems({"queues": [{"name": "batches"}, {"name": "batches"}]}) == [
        ("spec.queues[1].name", "duplicate queue name 'batches'")
    ]
    assert problems({"queues": [{"name": "all", "queueNames": ["batches", "batches"]}]}) == [
        ("spec.queues[0].queueNames", "lists a queue twice")
    ]
    assert problems({"queues": []}) == [("spec.queues", "must list at least one queue")]


@pytest.mark.parametrize("name", sorted(MANAGED_ENV))
def test_managed_env_names_are_rejected(name):
    assert problems({"queues": [{"name": "batches", "env": {name: "x"}}]}) == [
        (f"spec.queues[0].env.{name}", "is set by executor-dind; use the structured spec field instead")
    ]


def test_managed_env_covers_what_the_model_sets():
    for name in (
        "EXECUTOR_FRONTEND_URL",
        "EXECUTOR_FRONTEND_PASSWORD",
        "EXECUTOR_QUEUE_NAME",
        "EXECUTOR_QUEUE_NAMES",
        "EXECUTOR_USE_FIRECRACKER",
        "EXECUTOR_USE_KUBERNETES",
        "DOCKER_HOST",
        "TMPDIR",
    ):
        assert name in MANAGED_ENV


def test_env_values_are_strings_or_value_from():
    spec = parse_spec(
        {"queues": [{"name": "batches", "env": {"A": "1", "B": {"valueFrom": {"secretKeyRef": {"name": "s"}}}}}]}
    )
    assert spec.queues[0].env["B"] == {"valueFrom": {"secretKeyRef": {"name": "s"}}}
    assert problems({"queues": [{"name": "batches", "env": {"A": 1}}]}) == [
        ("spec.queues[0].env.A", "must be a string or {valueFrom: {...}}")
    ]
    assert problems({"queues": [{"name": "batches", "env": {"A": {"value": "x"}}}]}) == [
        ("spec.queues[0].env.A", "must be a string or {valueFrom: {...}}")
    ]
    assert problems({"queues": [{"name": "batches", "env": {"1A=": "x"}}]}) == [
        ("spec.queues[0].env.1A=", "is not a valid environment variable name")
    ]


def test_ephemeral_storage_needs_an_explicit_size():
    assert problems({"storage": {"type": "ephemeral"}}) == [
        (
            "spec.storage.size",
            "is required with storage.type: ephemeral (each pod gets a volume of that size: it costs money)",
        )
    ]
    assert parse_spec({"storage": {"type": "ephemeral", "size": "50Gi"}}).scratch_size == "50Gi"


@pytest.mark.parametrize(("value", "hint"), [("strct", " (did you mean 'strict'?)"), ("paranoid", "")])
def test_unknown_profile(value, hint):
    assert problems({"hardening": {"profile": value}}) == [
        ("spec.hardening.profile", f"must be one of baseline, recommended, strict, got {value!r}{hint}")
    ]


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        (
            {"namespace": "Executors"},
            "spec.namespace",
            "'Executors' is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)",
        ),
        (
            {"frontend": {"url": "sourcegraph-frontend:30080"}},
            "spec.frontend.url",
            "'sourcegraph-frontend:30080' is not scheme://host[:port] (e.g. http://sourcegraph-frontend:30080)",
        ),
        (
            {"frontend": {"url": "http://sourcegraph-frontend:30080/path"}},
            "spec.frontend.url",
            "'http://sourcegraph-frontend:30080/path' is not scheme://host[:port] (e.g. http://sourcegraph-frontend:30080)",
        ),
        (
            {"maximumRuntimePerJob": "30 minutes"},
            "spec.maximumRuntimePerJob",
            "'30 minutes' is not a duration (e.g. 30m, 1h30m, 90s)",
        ),
        ({"storage": {"size": "20 GB"}}, "spec.storage.size", "'20 GB' is not a Kubernetes quantity (e.g. 20Gi)"),
        (
            {"privateRegistry": {"storage": "lots"}},
            "spec.privateRegistry.storage",
            "'lots' is not a Kubernetes quantity (e.g. 20Gi)",
        ),
        (
            {"hardening": {"networkPolicy": {"deniedCIDRs": ["10.0.0.0/33"]}}},
            "spec.hardening.networkPolicy.deniedCIDRs",
            "'10.0.0.0/33' is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)",
        ),
        (
            {"hardening": {"networkPolicy": {"dns": {"nodeLocalIP": "169.254.20"}}}},
            "spec.hardening.networkPolicy.dns.nodeLocalIP",
            "'169.254.20' is not an IP address",
        ),
        (
            {"hardening": {"gvisor": {"runtimeClassName": "gVisor"}}},
            "spec.hardening.gvisor.runtimeClassName",
            "'gVisor' is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)",
        ),
        ({"docker": {"mtu": 100}}, "spec.docker.mtu", "must be between 576 and 9000"),
        (
            {"docker": {"daemonConfig": {"hosts": ["tcp://0.0.0.0:2375"]}}},
            "spec.docker.daemonConfig.hosts",
            "must not be set: dockerd listens on 127.0.0.1:2375 only (an unauthenticated privileged API)",
        ),
        (
            {"queues": [{"name": "batches", "maximumNumJobs": 0}]},
            "spec.queues[0]",
            "replicas must be at most 1000 and maximumNumJobs at least 1",
        ),
    ],
)
def test_value_checks(raw, path, message):
    assert problems(raw) == [(path, message)]


def test_every_problem_is_reported_not_only_the_first():
    # Field problems in spec order; cross-field checks (ephemeral without a size) wait for a well-typed spec.
    assert problems(
        {"queus": [], "hardening": {"profile": "strct"}, "storage": {"type": "ephemeral"}, "docker": {"mtu": "x"}}
    ) == [
        ("spec.queus", "unknown field (did you mean 'queues'?)"),
        ("spec.docker.mtu", "must be a non-negative integer, got 'x'"),
        (
            "spec.hardening.profile",
            "must be one of baseline, recommended, strict, got 'strct' (did you mean 'strict'?)",
        ),
    ]


def test_config_error_message_joins_the_problems():
    error = ConfigError([("spec.a", "one"), ("spec.b", "two")])
    assert str(error) == "spec.a: one; spec.b: two"


# --- functionConfig kinds ---------------------------------------------------------------------------------------


def test_typed_config_is_read_from_spec():
    config = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "x"}, "spec": {"namespace": "ex"}}
    assert parse_function_config(config).namespace == "ex"


def test_typed_config_errors_carry_the_spec_path():
    config = {"apiVersion": API_VERSION, "kind": KIND, "spec": {"queus": []}}
    with pytest.raises(ConfigError) as caught:
        parse_function_config(config)
    assert caught.value.problems == [("spec.queus", "unknown field (did you mean 'queues'?)")]


@pytest.mark.parametrize(
    "config",
    [
        {"apiVersion": "v1", "kind": "Secret"},
        {"apiVersion": "executor-dind.dev/v1", "kind": KIND},
        {"apiVersion": API_VERSION, "kind": "ExecutorDinD"},
        {"apiVersion": "fn.kpt.dev/v1alpha1", "kind": "SetNamespace"},
    ],
)
def test_other_function_config_kinds_are_rejected_naming_both_forms(config):
    with pytest.raises(ConfigError) as caught:
        parse_function_config(config)
    assert caught.value.problems == [
        (
            "functionConfig",
            f"unknown functionConfig {config['apiVersion']}/{config['kind']}: expected {API_VERSION}/{KIND} "
            "or v1/ConfigMap (dotted keys such as frontend.url)",
        )
    ]


# --- the ConfigMap form -----------------------------------------------------------------------------------------


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
        ({"docker.mtu": "abc"}, [("data.docker.mtu", "must be a non-negative integer, got 'abc'")]),
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


# --- JSON Schema -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _expected_to_fail(case: Path) -> bool:
    config = case / ".expected" / "config.yaml"
    return config.exists() and bool((yaml.safe_load(config.read_text()) or {}).get("exitCode"))


def _example_documents() -> list[tuple[str, dict[str, Any]]]:
    """Every ExecutorDind document in README code blocks, overlays/ and the golden test packages."""
    found = []
    valid_cases = [case for case in ROOT.glob("tests/golden/*") if not _expected_to_fail(case)]
    files = [*ROOT.glob("overlays/**/*.yaml"), *(path for case in valid_cases for path in case.glob("*.yaml"))]
    for path in sorted(files):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == KIND:
                found.append((str(path.relative_to(ROOT)), doc))
    readme = ROOT / "README.md"
    if readme.exists():
        for index, block in enumerate(re.findall(r"```ya?ml\n(.*?)```", readme.read_text(), re.S)):
            for doc in yaml.safe_load_all(block):
                if isinstance(doc, dict) and doc.get("kind") == KIND:
                    found.append((f"README.md block {index}", doc))
    return found


EXAMPLES = _example_documents()


def test_there_are_examples_to_validate():
    assert any(name.startswith("tests/golden/") for name, _ in EXAMPLES)


@pytest.mark.parametrize(("name", "document"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_examples_validate_against_the_schema_and_parse(validator, name, document):
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    parse_function_config(document)


def test_the_failing_golden_config_is_rejected_by_the_schema_too(validator):
    document = yaml.safe_load((ROOT / "tests" / "golden" / "config-error" / "executor-dind.yaml").read_text())
    assert sorted(list(e.absolute_path) for e in validator.iter_errors(document)) == [
        ["spec"],  # additionalProperties: queus
        ["spec", "hardening", "profile"],
    ]


def test_schema_accepts_a_full_spec(validator):
    validator.validate(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "x"},
            "spec": {
                "namespace": "executors",
                "queues": [{"name": "batches", "replicas": 2, "env": {"A": "b"}}],
                "terminationGracePeriodSeconds": None,
                "hardening": {"profile": "strict", "nodePool": {"enabled": True, "nodeSelector": {"a": "b"}}},
            },
        }
    )


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"queus": []}, []),
        ({"hardening": {"profile": "strct"}}, ["hardening", "profile"]),
        ({"queues": [{"name": "batches", "queueNames": ["batch"]}]}, ["queues", 0, "queueNames", 0]),
        ({"queues": [{"replicas": 1}]}, ["queues", 0]),
        ({"docker": {"nativeSidecar": "yes"}}, ["docker", "nativeSidecar"]),
        ({"hardening": {"nodePool": {"nodeSelector": {"a": 1}}}}, ["hardening", "nodePool", "nodeSelector", "a"]),
        ({"queues": [{"name": "batches", "replicas": -1}]}, ["queues", 0, "replicas"]),
    ],
)
def test_schema_rejects_what_the_parser_rejects(validator, spec, where):
    document = {"apiVersion": API_VERSION, "kind": KIND, "spec": spec}
    errors = list(validator.iter_errors(document))
    assert [list(e.absolute_path) for e in errors] == [["spec", *where]]
    with pytest.raises(ConfigError):
        parse_function_config(document)


def test_schema_describes_every_spec_field_with_its_wire_name():
    properties = json_schema()["properties"]["spec"]["properties"]
    assert set(properties) == {
        "namespace",
        "frontend",
        "queues",
        "maximumRuntimePerJob",
        "terminationGracePeriodSeconds",
        "replaceUpstream",
        "log",
        "images",
        "storage",
        "docker",
        "privateRegistry",
        "hardening",
    }
    assert set(properties["hardening"]["properties"]) == {
        "profile",
        "nodePool",
        "gvisor",
        "networkPolicy",
        "podSecurity",
    }
    assert "deniedCIDRs" in properties["hardening"]["properties"]["networkPolicy"]["properties"]
    assert properties["queues"]["items"]["required"] == ["name"]
