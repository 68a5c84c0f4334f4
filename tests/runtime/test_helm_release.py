"""Helm releases of Sourcegraph's dind chart through the post-renderer, against a real kube-apiserver: what the API
server stores is executor-dind's executors, and the upgrade path docs/helm.md gives from the plain chart works."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import find_tool, missing
from integration.test_helm import CHART, FRONTEND, PROFILE_ARGS, VALUES, helm_homes
from runtime.controlplane import ControlPlane
from runtime.harness import in_netns, sh
from runtime.test_apiserver import cluster  # noqa: F401 (fixture: a fresh etcd and API server per test)

NAMESPACE = "sourcegraph"
OWNER = "app.kubernetes.io/part-of"


@pytest.fixture
def helm_env(executor_dind: str, tmp_path: Path) -> dict[str, str]:
    if not (CHART / "Chart.yaml").is_file():
        missing(f"the sourcegraph-executor dind chart is not at {CHART}")
    env = helm_homes(tmp_path, executor_dind)
    installed = sh([executor_dind, "install-plugin", "--helm"], env=env)
    assert installed.returncode == 0, installed.stderr
    return env


def helm(cluster: ControlPlane, which: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:  # noqa: F811
    binary = find_tool("helm" if which == "helm4" else "helm3")
    command = [binary, f"--kubeconfig={cluster.kubeconfig}", *args]
    return sh(in_netns(cluster.netns, command), timeout=300, env=env)


def release_args(which: str, profile: str | None) -> list[str]:
    args = ["executors", str(CHART), "-n", NAMESPACE]
    for value in VALUES:
        args += ["--set", value]
    if profile is None:
        return args
    args += ["--post-renderer", "executor-dind"]
    if which == "helm3":
        args += ["--post-renderer-args", "helm-post-render"]
    for arg in PROFILE_ARGS[profile]:
        args += ["--post-renderer-args", arg]
    return args


def prepare(cluster: ControlPlane) -> None:  # noqa: F811
    """Sourcegraph's namespace and the existing Secret the chart's values name."""
    assert cluster.kubectl("create", "namespace", NAMESPACE).returncode == 0
    secret = ["create", "secret", "generic", "executor-secret", "-n", NAMESPACE]
    assert cluster.kubectl(*secret, "--from-literal=EXECUTOR_FRONTEND_PASSWORD=not-a-real-secret").returncode == 0


def stored(cluster: ControlPlane, kind: str, namespace: str) -> dict[str, dict]:  # noqa: F811
    return {obj["metadata"]["name"]: obj for obj in cluster.get_json(kind, "-n", namespace)["items"]}


@pytest.mark.parametrize(
    "which,profile",
    [("helm4", "baseline"), ("helm4", "recommended"), ("helm4", "strict"), ("helm3", "recommended")],
)
def test_helm_install_stores_our_executors(which, profile, cluster, helm_env) -> None:  # noqa: F811
    prepare(cluster)
    installed = helm(cluster, which, helm_env, "install", *release_args(which, profile))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "STATUS: deployed" in installed.stdout
    namespace = "sourcegraph-executors" if profile == "strict" else NAMESPACE
    deployments = stored(cluster, "deployments", namespace)
    assert list(deployments) == ["executor-batches"]
    executor = deployments["executor-batches"]
    assert executor["metadata"]["labels"][OWNER] == "executor-dind"
    assert executor["metadata"]["annotations"]["meta.helm.sh/release-name"] == "executors"  # Helm owns it
    env = {e["name"]: e.get("value") for e in executor["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["EXECUTOR_FRONTEND_URL"] == FRONTEND
    policies = set(stored(cluster, "networkpolicies", namespace))
    assert policies == (set() if profile == "baseline" else {"executor-dind-executors", "executor-dind-registry"})
    # None of the chart's executor objects reached the API server.
    assert "docker-config" not in stored(cluster, "configmaps", NAMESPACE)
    assert "private-docker-registry" not in stored(cluster, "statefulsets", NAMESPACE)


def test_upgrade_from_the_plain_chart_as_the_docs_say(cluster, helm_env) -> None:  # noqa: F811
    """docs/helm.md, Upgrades: straight to the post-renderer fails (a Deployment's selector is immutable); after
    deleting the chart's executor Deployments it succeeds and Helm prunes the chart's other executor objects."""
    prepare(cluster)
    plain = helm(cluster, "helm4", helm_env, "install", *release_args("helm4", None))
    assert plain.returncode == 0, plain.stderr
    assert "docker-config" in stored(cluster, "configmaps", NAMESPACE)  # positive control: the chart's own
    straight = helm(cluster, "helm4", helm_env, "upgrade", *release_args("helm4", "recommended"))
    assert straight.returncode == 1
    assert "field is immutable" in straight.stderr, straight.stderr
    label = "app.kubernetes.io/instance=executors,app.kubernetes.io/component=executor"
    deleted = cluster.kubectl("-n", NAMESPACE, "delete", "deployment", "-l", label)
    assert deleted.returncode == 0, deleted.stderr
    assert stored(cluster, "deployments", NAMESPACE) == {}
    upgraded = helm(cluster, "helm4", helm_env, "upgrade", *release_args("helm4", "recommended"))
    assert upgraded.returncode == 0, upgraded.stderr
    assert stored(cluster, "deployments", NAMESPACE)["executor-batches"]["metadata"]["labels"][OWNER] == "executor-dind"
    assert "docker-config" not in stored(cluster, "configmaps", NAMESPACE)
    assert "private-docker-registry" not in stored(cluster, "statefulsets", NAMESPACE)
