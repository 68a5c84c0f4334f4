"""Autoscaling and the job lifecycle through the real tools: the plain autoscaling and isolation-job components
equal the function, kpt takes the new fields from a ConfigMap, and every ScaledObject and ScaledJob passes KEDA's
strict decoder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import run
from integration.util import (
    DEMO_BASE,
    OVERLAYS,
    ROOT,
    assert_ok,
    by_key,
    container,
    env,
    executor_deployments,
    normalized,
    objects,
    pod_spec,
    relpath,
    snapshot,
)

pytestmark = pytest.mark.integration

# The demo base has no namespace: nor do the objects, and the Prometheus address must be given (as the
# component gives it).
SCALED_OBJECT = ("ScaledObject", "", "executor-all")
PROMETHEUS = "http://prometheus.sourcegraph.svc.cluster.local:30090"
AUTOSCALED_QUEUE = {
    "name": "all",
    "queueNames": ["batches", "codeintel"],
    "autoscaling": {"maxReplicas": 10, "prometheus": PROMETHEUS},
}


def overlay(where: Path, **body) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **body}
    (where / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return where


def built_both_ways(root: Path, component: str, queue: dict, kustomize: str, kubectl: str, tool_env) -> dict:
    """The demo base with one queue: as plain components (executor-dind and the named sub-component, by kubectl
    and kustomize), and as the KRM function with the same spec (privateRegistry off: its own component adds it)."""
    components = root / "components"
    overlay(
        components,
        resources=[relpath(DEMO_BASE, components)],
        components=[
            relpath(ROOT / "components" / "executor-dind", components),
            relpath(ROOT / "components" / "executor-dind" / component, components),
        ],
    )
    function = root / "function"
    function.mkdir()
    config = {
        "apiVersion": "executor-dind.dev/v1alpha1",
        "kind": "ExecutorDind",
        "metadata": {
            "name": "executors",
            "annotations": {"config.kubernetes.io/function": "exec:\n  path: executor-dind\n"},
        },
        "spec": {"queues": [queue], "privateRegistry": {"enabled": False}},
    }
    (function / "executor-dind.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    overlay(function, resources=[relpath(DEMO_BASE, function)], transformers=["executor-dind.yaml"])
    built = {
        "kubectl-components": assert_ok(run([kubectl, "kustomize", str(components)], env=tool_env)),
        "kustomize-components": assert_ok(run([kustomize, "build", str(components)], env=tool_env)),
        "function": assert_ok(
            run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(function)], env=tool_env)
        ),
    }
    return {way: by_key(objects(text)) for way, text in built.items()} | {"text": built}


@pytest.fixture(scope="module")
def both_ways(kustomize, kubectl, tool_env, tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("autoscaling")
    return built_both_ways(root, "autoscaling", AUTOSCALED_QUEUE, kustomize, kubectl, tool_env)


@pytest.fixture(scope="module")
def per_job_both_ways(kustomize, kubectl, tool_env, tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("isolation-job")
    queue = {**AUTOSCALED_QUEUE, "isolation": "job"}
    return built_both_ways(root, "isolation-job", queue, kustomize, kubectl, tool_env)


def assert_components_equal_function(built: dict[str, dict]) -> None:
    function = {k: normalized(v, checksum=True) for k, v in built["function"].items()}
    for way in ("kubectl-components", "kustomize-components"):
        components = {k: normalized(v, checksum=True) for k, v in built[way].items()}
        assert components == function, way


def test_the_autoscaling_component_equals_the_function(both_ways):
    assert_components_equal_function(both_ways)


def test_the_isolation_job_component_equals_the_function(per_job_both_ways, validate):
    assert_components_equal_function(per_job_both_ways)
    objs = per_job_both_ways["kubectl-components"]
    assert [key for key in objs if key[2] == "executor-all"] == [("ScaledJob", "", "executor-all")]
    spec = objs[("ScaledJob", "", "executor-all")]["spec"]
    assert (spec["maxReplicaCount"], spec["triggers"][0]["metadata"]["serverAddress"]) == (10, PROMETHEUS)
    validate(per_job_both_ways["text"]["kubectl-components"])  # keda-decode for the ScaledJob


def test_the_component_scales_executor_all_and_leaves_its_replicas_to_keda(both_ways, validate):
    objs = both_ways["kubectl-components"]
    scaled = objs[SCALED_OBJECT]["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "executor-all"}
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (0, 10)
    metadata = scaled["triggers"][0]["metadata"]
    assert metadata["serverAddress"] == PROMETHEUS
    assert 'src_executor_processor_handlers{queue="batches_codeintel"}' in metadata["query"]
    assert "replicas" not in objs[("Deployment", "", "executor-all")]["spec"]
    validate(both_ways["text"]["kubectl-components"])  # keda-decode for the ScaledObject


@pytest.fixture
def package(tmp_path: Path) -> Path:
    target = tmp_path / "executors"
    shutil.copytree(OVERLAYS / "kpt", target)
    (target / "Kptfile").unlink()
    (target / "executor-dind.yaml").unlink()
    return target


def test_kpt_eval_takes_the_lifecycle_fields_as_key_values(kpt, tool_env, package, validate):
    args = [
        "queues=[{name: batches, autoscaling: {maxReplicas: 4}, recycle: {afterJobs: 25}}]",
        "docker.mtu=auto",
        "docker.prune.interval=30m",
        "docker.prune.until=72h",
        "privateRegistry.enabled=false",
    ]
    command = [kpt, "fn", "eval", str(package), "--exec", "executor-dind", "--truncate-output=false", "--", *args]
    assert_ok(run(command, env=tool_env))
    files = snapshot(package)
    objs = [obj for path, data in files.items() if path.endswith(".yaml") for obj in objects(data.decode())]
    assert set(executor_deployments(objs)) == {"executor-batches"}
    index = by_key(objs)
    deployment = index[("Deployment", "sourcegraph", "executor-batches")]
    assert "replicas" not in deployment["spec"]
    spec = pod_spec(deployment)
    assert env(container(spec, "executor")[1])["EXECUTOR_NUM_TOTAL_JOBS"] == "25"
    assert container(spec, "dind")[1]["command"][2].endswith(
        'exec dockerd --mtu="$mtu" --default-network-opt="bridge=com.docker.network.driver.mtu=$mtu"\n'
    )
    prune = container(spec, "docker-prune")[1]["command"][2]
    assert "  sleep 1800 & wait $!\n" in prune and "--filter until=72h" in prune
    scaled = index[("ScaledObject", "sourcegraph", "executor-batches")]["spec"]
    # no prometheus Service in overlays/kpt: the base's, in Sourcegraph's namespace
    assert scaled["triggers"][0]["metadata"]["serverAddress"] == PROMETHEUS
    assert scaled["maxReplicaCount"] == 4
    validate("---\n".join(data.decode() for path, data in files.items() if path.endswith(".yaml")))
