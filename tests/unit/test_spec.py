"""spec: defaults, and every validation error of a spec field (exact field path and message)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from executor_dind.function_config import parse_function_config
from executor_dind.settings import DENIED_CIDRS
from executor_dind.spec import API_VERSION, DEFAULT_IMAGES, KIND, MANAGED_ENV, Queue, Spec, parse_spec

from .helpers import configmap, problems, spec


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
    expected = (
        "must be a string or {valueFrom: {X: {...}}} with X one of configMapKeyRef, fieldRef, resourceFieldRef, "
        "secretKeyRef"
    )
    for bad in (1, {"value": "x"}, {"valueFrom": {}}, {"valueFrom": {"podRef": {}}}, {"valueFrom": {"fieldRef": "x"}}):
        assert problems({"queues": [{"name": "batches", "env": {"A": bad}}]}) == [("spec.queues[0].env.A", expected)]
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
        (
            {"maximumRuntimePerJob": "1" * 300 + "h"},
            "spec.maximumRuntimePerJob",
            "'1111111111111111111111111111111111111111'... (301 characters) is beyond Go's time.Duration range (at "
            "most 2562047h47m16.854775807s): the executor and dockerd cannot read it",
        ),
        (
            {"docker": {"prune": {"until": "2562047h47m16.854775808s"}}},
            "spec.docker.prune.until",
            "'2562047h47m16.854775808s' is beyond Go's time.Duration range (at most 2562047h47m16.854775807s): the "
            "executor and dockerd cannot read it",
        ),
        ({"storage": {"size": "20 GB"}}, "spec.storage.size", "'20 GB' is not a Kubernetes quantity (e.g. 20Gi)"),
        (
            {"privateRegistry": {"storage": "lots"}},
            "spec.privateRegistry.storage",
            "'lots' is not a Kubernetes quantity (e.g. 20Gi)",
        ),
        (
            {"hardening": {"networkPolicy": {"deniedCIDRs": ["10.0.0.0/33"]}}},
            "spec.hardening.networkPolicy.deniedCIDRs[0]",
            "'10.0.0.0/33' is not a CIDR: /33 is not a prefix length from 0 to 32",
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
        ({"docker": {"mtu": 100}}, "spec.docker.mtu", "must be between 576 and 9000, or auto"),
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


def test_audit_exceptions_name_a_known_rule_and_say_why():
    spec = parse_spec({"auditExceptions": [{"rule": "EXD303", "reason": "no private network at all"}]})
    assert [(e.rule, e.reason) for e in spec.audit_exceptions] == [("EXD303", "no private network at all")]
    [(path, message)] = problems({"auditExceptions": [{"rule": "EXD999", "reason": "no private network at all"}]})
    assert (path, message.split(" (")[0]) == ("spec.auditExceptions[0].rule", "'EXD999' is not an audit rule")
    assert problems({"auditExceptions": [{"rule": "EXD303", "reason": "ok"}]}) == [
        ("spec.auditExceptions[0].reason", "must say why the finding is acceptable here, in a few words")
    ]
    assert problems({"auditExceptions": [{"rule": "EXD303"}]}) == [("spec.auditExceptions[0].reason", "is required")]


def test_daemon_config_keys_are_those_dockerd_reads():
    """The singular `registry-mirror` (a flag name) passes `dockerd --validate` and is then ignored: refused here."""
    assert parse_spec({"docker": {"daemonConfig": {"debug": True, "registry-mirrors": ["https://m"]}}})
    [(path, message)] = problems({"docker": {"daemonConfig": {"registry-mirror": "https://m"}}})
    assert path == "spec.docker.daemonConfig.registry-mirror"
    assert message == (
        "is not a daemon.json key dockerd reads (it would be ignored, or refused at start) "
        "(did you mean 'registry-mirrors'?)"
    )
    [(path, _)] = problems({"docker": {"daemonConfig": {"no-such-key": 1}}})
    assert path == "spec.docker.daemonConfig.no-such-key"


def test_lifecycle_fields_default_off_and_parse():
    queue = Spec().queues[0]
    assert (queue.autoscaling, queue.recycle.after_jobs, queue.recycle.after_time) == (None, 0, "")
    assert (Spec().docker.prune.enabled, Spec().docker.prune.interval, Spec().docker.prune.until) == (True, "1h", "24h")
    parsed = parse_spec(
        {"queues": [{"name": "batches", "recycle": {"afterJobs": 5, "afterTime": "90m"}}], "docker": {"mtu": "auto"}}
    )
    assert (parsed.queues[0].recycle.after_jobs, parsed.queues[0].recycle.after_time) == (5, "90m")
    assert parsed.docker.mtu == "auto"


@pytest.mark.parametrize(
    "raw, path, message",
    [
        (
            {"queues": [{"name": "batches", "recycle": {"afterTime": "2d"}}]},
            "spec.queues[0].recycle.afterTime",
            "'2d' is not a duration (e.g. 30m, 1h30m, 90s)",
        ),
        (
            {"queues": [{"name": "batches", "recycle": {"afterJobs": -1}}]},
            "spec.queues[0].recycle.afterJobs",
            "must be a non-negative integer, got -1",
        ),
        ({"docker": {"prune": {"interval": "0s"}}}, "spec.docker.prune.interval", "'0s' is shorter than a second"),
        (
            {"docker": {"prune": {"until": ""}}},
            "spec.docker.prune.until",
            "'' is not a duration (e.g. 30m, 1h30m, 90s)",
        ),
        ({"docker": {"mtu": "Auto"}}, "spec.docker.mtu", "must be an integer or auto, got 'Auto'"),
        (
            {"docker": {"mtu": "auto", "daemonConfig": {"mtu": 1400}}},
            "spec.docker.daemonConfig.mtu",
            "conflicts with docker.mtu: auto (dockerd refuses it both ways)",
        ),
        (
            {"docker": {"mtu": "auto", "daemonConfig": {"default-network-opts": {"bridge": {"a": "b"}}}}},
            "spec.docker.daemonConfig.default-network-opts",
            "conflicts with docker.mtu: auto (the start script passes the bridge MTU as --default-network-opt and "
            "dockerd refuses a setting given both ways): set docker.mtu to a number to use this key",
        ),
        (
            {"docker": {"daemonConfig": {"default-network-opts": {"bridge": {"com.docker.network.driver.mtu": 1400}}}}},
            "spec.docker.daemonConfig.default-network-opts",
            "must map each network driver to an object of string options, e.g. {bridge: "
            "{com.docker.network.driver.mtu: '1400'}} (dockerd decodes it as map[string]map[string]string)",
        ),
        (
            {"docker": {"daemonConfig": {"default-network-opts": {"bridge": "x"}}}},
            "spec.docker.daemonConfig.default-network-opts",
            "must map each network driver to an object of string options, e.g. {bridge: "
            "{com.docker.network.driver.mtu: '1400'}} (dockerd decodes it as map[string]map[string]string)",
        ),
        (
            {"queues": [{"name": "batches", "env": {"EXECUTOR_NUM_TOTAL_JOBS": "3"}}]},
            "spec.queues[0].env.EXECUTOR_NUM_TOTAL_JOBS",
            "is set by executor-dind; use the structured spec field instead",
        ),
    ],
)
def test_lifecycle_value_checks(raw, path, message):
    assert problems(raw) == [(path, message)]


def test_the_config_model_is_a_leaf():
    """Importing the config model loads its own modules only: no YAML library, no object builder, no hardening
    control and no audit module (a fresh interpreter, so nothing imported before counts)."""
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules); import executor_dind.spec, executor_dind.settings; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    ours = {name for name in loaded if name.split(".")[0] == "executor_dind"}
    assert ours == {
        "executor_dind",
        "executor_dind.records",
        "executor_dind.settings",
        "executor_dind.spec",
        "executor_dind.values",
    }
    assert not {"yaml", "ruamel", "ruamel.yaml", "jsonpatch", "ipaddress", "typing"} & loaded


def _env(**env: Any) -> dict[str, Any]:
    return {"queues": [{"name": "batches", "env": env}]}


@pytest.mark.parametrize(
    ("source", "ref", "message"),
    [
        (
            "fieldRef",
            {"fieldPath": "spec.hostname"},
            "fieldRef.fieldPath 'spec.hostname' is not a pod field the kubelet resolves (metadata.name, "
            "metadata.namespace, metadata.uid, spec.nodeName, spec.serviceAccountName, status.hostIP, status.hostIPs, "
            "status.podIP, status.podIPs, metadata.labels['<key>'], metadata.annotations['<key>'])",
        ),
        ("secretKeyRef", {"name": "s"}, "secretKeyRef needs key, name (and may have optional); it lacks key"),
        (
            "configMapKeyRef",
            {"name": "c", "key": "k", "items": []},
            "configMapKeyRef needs key, name (and may have optional); items is no field of it",
        ),
        ("secretKeyRef", {"name": "S_x", "key": "k"}, "secretKeyRef.name 'S_x' is not a valid object name"),
        (
            "resourceFieldRef",
            {"resource": "limits.gpu"},
            "resourceFieldRef.resource 'limits.gpu' is not limits.<cpu|memory|ephemeral-storage> or requests.<...>",
        ),
        (
            "configMapKeyRef",
            {"name": "c", "key": "k", "optional": "yes"},
            "configMapKeyRef.optional must be true or false",
        ),
    ],
)
def test_env_value_from_as_the_api_server_validates_it(source, ref, message):
    assert problems(_env(A={"valueFrom": {source: ref}})) == [(f"spec.queues[0].env.A.valueFrom.{source}", message)]


def test_env_value_from_the_api_server_accepts_passes():
    accepted = {
        "A": {"valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app.kubernetes.io/name']"}}},
        "B": {"valueFrom": {"fieldRef": {"fieldPath": "status.podIP", "apiVersion": "v1"}}},
        "C": {"valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        "D": {"valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}}},
    }
    assert set(spec(**_env(**accepted)).queues[0].env) == set(accepted)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("debug", "true", "must be a boolean (dockerd decodes it into that type and refuses to start otherwise)"),
        ("mtu", True, "must be an integer (dockerd decodes it into that type and refuses to start otherwise)"),
        (
            "registry-mirrors",
            "https://m",
            "must be an array (dockerd decodes it into that type and refuses to start otherwise)",
        ),
        (
            "log-level",
            "verbose",
            "'verbose' is not a log level dockerd accepts (panic, fatal, error, warn, info, debug, trace)",
        ),
    ],
)
def test_daemon_config_values_are_of_the_type_dockerd_decodes(key, value, message):
    assert problems({"docker": {"daemonConfig": {key: value}}}) == [(f"spec.docker.daemonConfig.{key}", message)]


def test_daemon_config_typed_values_dockerd_reads_pass():
    accepted = {"debug": True, "log-level": "WARN", "max-concurrent-downloads": 6, "log-opts": {"max-size": "10m"}}
    assert dict(spec(docker={"daemonConfig": accepted}).docker.daemon_config) == accepted
