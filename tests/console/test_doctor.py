"""`executor-dind doctor` as a user runs it, before any cluster is read: the usage and config errors (exit 2, one
stderr line naming the file and field), each beside a run that gets past it. The checks against a real API server
are tests/runtime/test_doctor.py's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import run

CONFIG = """\
apiVersion: executor-dind.dev/v1alpha1
kind: ExecutorDind
spec:
  hardening: {profile: recommended}
"""
FRONTEND = """\
apiVersion: v1
kind: Service
metadata: {name: sourcegraph-frontend, namespace: sourcegraph}
spec:
  selector: {app: sourcegraph-frontend}
  ports: [{name: http, port: 30080, targetPort: http}]
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    config, frontend, kubeconfig = tmp_path / "executor-dind.yaml", tmp_path / "frontend.yaml", tmp_path / "kubeconfig"
    config.write_text(CONFIG)
    frontend.write_text(FRONTEND)
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    return {"config": config, "frontend": frontend, "kubeconfig": kubeconfig}


def doctor(executor_dind: str, *args: str, path: str | None = None):
    env = {**os.environ, "PATH": path} if path is not None else None
    return run([executor_dind, "doctor", *args], env=env, stdin=subprocess.DEVNULL)


# kubectl's own words for a context its kubeconfig lacks, then the doctor's advice.
UNREACHABLE = (
    'executor-dind: doctor: cannot reach the cluster of context none: error: context "none" does not exist (exit 1): '
    "check --kubeconfig and --context (kubectl cluster-info)\n"
)


def test_the_namespace_comes_from_the_config_or_the_manifests(executor_dind, kubectl, files):
    config, kubeconfig = str(files["config"]), str(files["kubeconfig"])
    nowhere = doctor(executor_dind, "--config", config, "--kubeconfig", kubeconfig, "--context", "none")
    assert (nowhere.returncode, nowhere.stdout) == (2, "")
    assert nowhere.stderr == (
        f"executor-dind: doctor: {config}: spec.namespace is not set and no manifests name Sourcegraph's namespace: "
        f"set spec.namespace, or pass the instance's manifests (executor-dind doctor --config {config} rendered.yaml)\n"
    )
    # With the manifests the render knows its namespace and goes on to kubectl, which finds no such context.
    derived = doctor(
        executor_dind, "--config", config, "--kubeconfig", kubeconfig, "--context", "none", str(files["frontend"])
    )
    assert (derived.returncode, derived.stdout, derived.stderr) == (2, "", UNREACHABLE)


def test_a_config_error_names_the_file_and_the_field(executor_dind, files):
    files["config"].write_text(CONFIG.replace("recommended", "paranoid"))
    bad = doctor(executor_dind, "--config", str(files["config"]), str(files["frontend"]))
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == (
        f"error ExecutorDind/-/: invalid functionConfig in {files['config']}: spec.hardening.profile: must be one of "
        "baseline, recommended, strict, got 'paranoid'\n"
    )


def test_kubectl_must_be_on_path(executor_dind, kubectl, files, tmp_path):
    args = ("--config", str(files["config"]), "--kubeconfig", str(files["kubeconfig"]), "--context", "none")
    empty = tmp_path / "bin"
    empty.mkdir()
    without = doctor(executor_dind, *args, str(files["frontend"]), path=str(empty))
    assert (without.returncode, without.stdout) == (2, "")
    assert without.stderr == (
        "executor-dind: doctor: kubectl is not on PATH: install kubectl, the doctor reads the cluster through it\n"
    )
    # The positive control: kubectl alone on PATH gets the doctor as far as the kubeconfig.
    (empty / "kubectl").symlink_to(kubectl)
    found = doctor(executor_dind, *args, str(files["frontend"]), path=str(empty))
    assert (found.returncode, found.stdout, found.stderr) == (2, "", UNREACHABLE)


def test_a_kubeconfig_that_does_not_exist(executor_dind, kubectl, files, tmp_path):
    absent = tmp_path / "nope"
    missing = doctor(
        executor_dind, "--config", str(files["config"]), "--kubeconfig", str(absent), str(files["frontend"])
    )
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr == f"executor-dind: doctor: --kubeconfig {absent}: no such file: name your kubeconfig file\n"


def test_help_names_the_command_and_its_options(executor_dind):
    helped = run([executor_dind, "help", "doctor"], env={**os.environ, "COLUMNS": "200"})
    assert (helped.returncode, helped.stderr) == (0, "")
    assert helped.stdout.startswith(
        "usage: executor-dind doctor [-h] --config CONFIG [--kubeconfig KUBECONFIG] [--context CONTEXT] [paths ...]\n"
    )
    top = run([executor_dind, "help"], env={**os.environ, "COLUMNS": "200"})
    assert "    doctor " in top.stdout
