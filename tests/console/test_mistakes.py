"""The bad-input matrix: realistic config mistakes through every way of use, with the fail-closed contract.

Each mistake runs through the KRM function, the legacy plugin, `render` and `explain` (the installed script),
and a sample of them under the real kustomize (KRM exec and legacy plugin), kubectl and kpt. The contract:
exit 1 (non-zero under the orchestrators), no traceback, no "internal error", the message that names the
problem; in KRM mode the input items come back byte-identical with one stderr line per warning and one summary;
in stream modes nothing on stdout and one stderr line per result plus the summary.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from executor_dind.krm.dump import dump
from unit.helpers import config, frontend_service, secret

# The huge-integer mistake is dumped by this process; the function must read it whatever Python's limit.
sys.set_int_max_str_digits(0)
SG = "sourcegraph"
INPUT = [frontend_service(SG), secret(namespace=SG)]

# name -> (spec, the text that must appear in the error, input objects (default INPUT))
MISTAKES: dict[str, tuple[Any, str, list[dict[str, Any]] | None]] = {
    "namespace-upper-case": ({"namespace": "Sourcegraph"}, "is not a DNS-1123 label", None),
    "namespace-trailing-newline": ({"namespace": "sg-exec\n"}, "is not a DNS-1123 label", None),
    "queue-name-too-long": ({"queues": [{"name": "q" * 60, "queueNames": ["batches"]}]}, "is too long", None),
    "queue-not-a-queue": ({"queues": [{"name": "all", "queueNames": ["batch"]}]}, "must be one of batches", None),
    "queue-name-without-queue-names": ({"queues": [{"name": "gpu"}]}, "queueNames: is required", None),
    "replicas-huge": ({"queues": [{"name": "batches", "replicas": 10**5000}]}, "integer of at most", None),
    "replicas-negative": ({"queues": [{"name": "batches", "replicas": -1}]}, "a non-negative integer", None),
    "replicas-string": ({"queues": [{"name": "batches", "replicas": "2"}]}, "a non-negative integer", None),
    "docker-storage-size-empty": ({"docker": {"storageSize": ""}}, "not empty", None),
    "storage-size-newline": ({"storage": {"size": "20Gi\n"}}, "is not a Kubernetes quantity", None),
    "ephemeral-without-size": ({"storage": {"type": "ephemeral"}}, "is required with storage.type", None),
    "url-without-port": ({"frontend": {"url": "http://sourcegraph-frontend"}}, "has no port", None),
    "url-without-scheme": ({"frontend": {"url": "sourcegraph-frontend:30080"}}, "is not scheme://host", None),
    "url-short-name-elsewhere": (
        {"namespace": "executors", "frontend": {"url": "http://sourcegraph-frontend:30080"}},
        "use the Service's FQDN",
        [*INPUT, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "executors"}}],
    ),
    "url-underivable": ({"namespace": "executors"}, "cannot derive the frontend URL", [secret(namespace="executors")]),
    "profile-typo": ({"hardening": {"profile": "strct"}}, "did you mean 'strict'", None),
    "pod-security-without-namespace": (
        {"hardening": {"profile": "strict"}},
        "labels the executors' namespace privileged, but spec.namespace is not set",
        None,
    ),
    "pod-security-in-kube-system": (
        {"namespace": "kube-system", "hardening": {"profile": "strict"}},
        "is 'kube-system', which every cluster shares",
        None,
    ),
    "gvisor-on-runc": (
        {"hardening": {"gvisor": {"enabled": True, "runtimeClassName": "runc"}}},
        "'runc' runs containers on the node's kernel",
        None,
    ),
    "allowed-cidr-ipv4-mapped-metadata": (
        {"hardening": {"profile": "recommended", "networkPolicy": {"allowedCIDRs": ["::ffff:169.254.169.254/128"]}}},
        "169.254.169.254/32 holds 169.254.169.254",
        None,
    ),
    "allowed-cidr-leading-zero": (
        {"hardening": {"networkPolicy": {"allowedCIDRs": ["010.0.0.0/8"]}}},
        "has an IPv4 octet with a leading zero",
        None,
    ),
    "denied-cidr-everything": (
        {"hardening": {"networkPolicy": {"deniedCIDRs": ["0.0.0.0/0"]}}},
        "must be a strict subset",
        None,
    ),
    "node-local-ipv6": (
        {"hardening": {"profile": "recommended", "networkPolicy": {"dns": {"nodeLocalIP": "fd00:ec2::254"}}}},
        "fd00:ec2::254/128 holds fd00:ec2::254",
        None,
    ),
    "runtime-hundreds-of-digits": (
        {"maximumRuntimePerJob": "1" * 300 + "h"},
        "is beyond Go's time.Duration range",
        None,
    ),
    "storage-size-zero": ({"privateRegistry": {"storage": "0Gi"}}, "a size must be more than 0", None),
    "image-upper-case": ({"images": {"dind": "Sourcegraph/dind:6.2"}}, "the repository must be lower-case", None),
    "image-short-digest": (
        {"images": {"executor": "sourcegraph/executor@sha256:" + "a" * 40}},
        "a sha256 digest is exactly 64 lower-case hex digits",
        None,
    ),
    "prune-until-beyond-go": (
        {"docker": {"prune": {"until": "2562048h"}}},
        "is beyond Go's time.Duration range",
        None,
    ),
    "node-selector-bad-key": ({"hardening": {"nodePool": {"nodeSelector": {"bad key!": "x"}}}}, "qualified name", None),
    "taint-value-with-space": ({"hardening": {"nodePool": {"taint": {"value": "a b"}}}}, "is not a label value", None),
    "cidr-prefix-too-long": (
        {"hardening": {"networkPolicy": {"allowedCIDRs": ["10.0.0.0/33"]}}},
        "is not a CIDR",
        None,
    ),
    "allowed-everything": (
        {"hardening": {"profile": "recommended", "networkPolicy": {"allowedCIDRs": ["0.0.0.0/0"]}}},
        "0.0.0.0/0 holds 169.254.169.254",
        None,
    ),
    "denied-nothing": (
        {"hardening": {"profile": "recommended", "networkPolicy": {"deniedCIDRs": []}}},
        "does not cover 169.254.169.254",
        None,
    ),
    "node-local-dns-on-metadata": (
        {"hardening": {"profile": "recommended", "networkPolicy": {"dns": {"nodeLocalIP": "169.254.169.254"}}}},
        "169.254.169.254/32 holds 169.254.169.254",
        None,
    ),
    "daemon-config-hosts": ({"docker": {"daemonConfig": {"hosts": ["tcp://0.0.0.0:2375"]}}}, "must not be set", None),
    "gvisor-storage-driver-twice": (
        {"docker": {"daemonConfig": {"storage-driver": "overlay2"}}, "hardening": {"gvisor": {"enabled": True}}},
        "gVisor mode passes this to dockerd as a flag",
        None,
    ),
    "mtu-too-small": ({"docker": {"mtu": 100}}, "must be between 576 and 9000", None),
    "managed-env": ({"queues": [{"name": "batches", "env": {"EXECUTOR_QUEUE_NAME": "x"}}]}, "is set by", None),
    "env-value-from-bogus": (
        {"queues": [{"name": "batches", "env": {"A": {"valueFrom": {"podRef": {}}}}}]},
        "with X one of",
        None,
    ),
    "image-with-space": ({"images": {"executor": "sourcegraph/executor latest"}}, "is not an image reference", None),
    "resources-not-a-quantity": (
        {"docker": {"resources": {"limits": {"memory": "lots"}}}},
        "is not a Kubernetes quantity",
        None,
    ),
    "secret-name-invalid": ({"frontend": {"passwordSecret": {"name": "Bad_Name"}}}, "DNS-1123 subdomain", None),
    "grace-period-beyond-int64": ({"terminationGracePeriodSeconds": 2**64}, "integer of at most", None),
    "runtime-without-unit": ({"maximumRuntimePerJob": "30"}, "is not a duration", None),
    "log-level-debug": ({"log": {"level": "debug"}}, "must be one of dbug", None),
    "unknown-field": ({"queus": [{"name": "batches"}]}, "did you mean 'queues'", None),
    "unknown-audit-exception": (
        {"auditExceptions": [{"rule": "EXD999", "reason": "because we say so"}]},
        "is not an audit rule",
        None,
    ),
    "placeholder-password": (
        {},
        "still holds the placeholder",
        [frontend_service(SG), secret(namespace=SG, password="REPLACE-ME-with-executors.accessToken\n")],
    ),
    "empty-password": ({}, "is empty", [frontend_service(SG), secret(namespace=SG, password="")]),
}
WAYS = ("krm", "legacy", "render", "explain")


def run(argv: list[str], stdin: str = "", cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120, check=False, cwd=cwd, env=env)


def clean(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr


def stream(objects: list[dict[str, Any]]) -> str:
    return "---\n".join(dump(obj) for obj in objects)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("mistake", MISTAKES)
def test_every_mistake_fails_closed_in_every_way(executor_dind, tmp_path, mistake, way):
    spec, expected, objects = MISTAKES[mistake]
    objects = INPUT if objects is None else objects
    function_config = config(**spec)
    if way == "krm":
        document = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": objects}
        given = dump({**document, "functionConfig": function_config})
        proc = run([executor_dind], given)
        clean(proc)
        assert proc.returncode == 1, proc.stderr
        output = yaml.safe_load(proc.stdout)
        assert output["items"] == objects  # the package is untouched
        errors = [r for r in output["results"] if r["severity"] == "error"]
        warnings = [r for r in output["results"] if r["severity"] == "warning"]
        assert any(expected in r["message"] for r in errors), errors
        *warning_lines, summary = proc.stderr.splitlines()
        assert len(warning_lines) == len(warnings) and summary.startswith("executor-dind: error ")
        return
    config_file = tmp_path / "executor-dind.yaml"
    config_file.write_text(dump(function_config))
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(stream(objects))
    if way == "legacy":
        proc = run([executor_dind, str(config_file)], manifests.read_text())
    else:
        proc = run([executor_dind, way, "--config", str(config_file), str(manifests)])
    clean(proc)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert any(expected in line for line in lines), proc.stderr
    assert all(line.startswith(("error ", "warning ", "executor-dind: ")) for line in lines), proc.stderr


# --- under the real orchestrators -----------------------------------------------------------------------------

UNDER_TOOLS = ["url-without-port", "denied-nothing", "queue-name-too-long", "placeholder-password", "unknown-field"]


def overlay(directory: Path, spec: Any, objects: list[dict[str, Any]], exec_annotation: bool) -> Path:
    directory.mkdir()
    (directory / "manifests.yaml").write_text(stream(objects))
    function_config = config(**spec)
    if exec_annotation:
        function_config["metadata"]["annotations"] = {"config.kubernetes.io/function": "exec:\n  path: executor-dind\n"}
    (directory / "executor-dind.yaml").write_text(dump(function_config))
    (directory / "kustomization.yaml").write_text("resources: [manifests.yaml]\ntransformers: [executor-dind.yaml]\n")
    return directory


@pytest.fixture
def tool_env(executor_dind, tmp_path):
    home = tmp_path / "plugins"
    subprocess.run([executor_dind, "install-plugin", "--plugin-home", str(home)], check=True, capture_output=True)
    path = os.pathsep.join([str(Path(executor_dind).parent), os.environ["PATH"]])
    return {**os.environ, "PATH": path, "KUSTOMIZE_PLUGIN_HOME": str(home)}


@pytest.mark.parametrize("tool", ["kustomize-krm", "kustomize-legacy", "kubectl-legacy", "kpt-eval"])
@pytest.mark.parametrize("mistake", UNDER_TOOLS)
def test_mistakes_fail_the_real_orchestrators(request, tool_env, tmp_path, mistake, tool):
    spec, expected, objects = MISTAKES[mistake]
    objects = INPUT if objects is None else objects
    if tool == "kpt-eval":
        kpt = request.getfixturevalue("kpt")
        package = tmp_path / "package"
        package.mkdir()
        (package / "manifests.yaml").write_text(stream(objects))
        (tmp_path / "fn-config.yaml").write_text(dump(config(**spec)))
        proc = run(
            [
                kpt,
                "fn",
                "eval",
                str(package),
                "--exec",
                "executor-dind",
                "--fn-config",
                str(tmp_path / "fn-config.yaml"),
            ],
            env=tool_env,
        )
        before = stream(objects)
        assert (package / "manifests.yaml").read_text() == before  # kpt wrote nothing back
    else:
        directory = overlay(tmp_path / "overlay", spec, objects, exec_annotation=tool == "kustomize-krm")
        if tool == "kubectl-legacy":
            argv = [request.getfixturevalue("kubectl"), "kustomize", "--enable-alpha-plugins", str(directory)]
        else:
            argv = [request.getfixturevalue("kustomize"), "build", "--enable-alpha-plugins", str(directory)]
            if tool == "kustomize-krm":
                argv.insert(3, "--enable-exec")
        proc = run(argv, env=tool_env)
    clean(proc)
    assert proc.returncode != 0
    assert proc.stdout.strip() == "" or tool == "kpt-eval"
    assert expected in proc.stdout + proc.stderr, proc.stderr
