"""The ScaledObjects of autoscaled queues, checked with KEDA's own code and schema, not our reading of them.

`keda-decode` (tools/keda, built by `make tools`) decodes each ScaledObject strictly with KEDA's Go types
(`github.com/kedacore/keda/v2/apis/keda/v1alpha1`, unknown fields rejected) and runs the checks of KEDA's
admission webhook that need no cluster. The CRD's OpenAPI schema and the Prometheus scaler's metadata keys come
from the same pinned Go module (the module cache `make tools` filled).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import jsonschema
import pytest

from checkers.tools import dump, load
from conftest import ROOT, find_tool, missing, run

KEDA_MODULE = "github.com/kedacore/keda/v2"
CONFIG = {
    "apiVersion": "executor-dind.dev/v1alpha1",
    "kind": "ExecutorDind",
    "metadata": {"name": "executors"},
    "spec": {
        "queues": [
            {"name": "batches", "maximumNumJobs": 4, "autoscaling": {"maxReplicas": 10}},
            {
                "name": "all",
                "queueNames": ["batches", "codeintel"],
                "autoscaling": {"maxReplicas": 3, "minReplicas": 1, "jobsPerReplica": 2},
            },
        ],
        "hardening": {"profile": "recommended"},
    },
}


@pytest.fixture(scope="module")
def keda_decode() -> str:
    return find_tool("keda-decode")


@pytest.fixture(scope="module")
def keda_module() -> Path:
    """The pinned KEDA module's source, where `go build` of tools/keda put it."""
    pinned = re.search(
        rf"^\s*(?:require\s+)?{re.escape(KEDA_MODULE)} (v\S+)", (ROOT / "tools/keda/go.mod").read_text(), re.M
    )
    assert pinned, "tools/keda/go.mod pins the KEDA module"
    listed = run(["go", "env", "GOMODCACHE"]) if shutil.which("go") else None
    directory = Path(listed.stdout.strip()) / f"{KEDA_MODULE}@{pinned[1]}" if listed else None
    if directory is None or not directory.is_dir():
        missing(f"the KEDA module {pinned[1]} is not in the Go module cache (`make tools` downloads it)")
    return directory


def render_to_file(executor_dind: str, base_stream: Path, config: dict, where: Path) -> Path:
    """`executor-dind render` of the upstream base with this config, written to where/render.yaml."""
    (where / "config.yaml").write_text(dump([config]))
    result = run([executor_dind, "render", "--config", str(where / "config.yaml"), str(base_stream)])
    assert result.returncode == 0, result.stderr
    path = where / "render.yaml"
    path.write_text(result.stdout)
    return path


@pytest.fixture(scope="module")
def rendered(executor_dind: str, base_stream: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_to_file(executor_dind, base_stream, CONFIG, tmp_path_factory.mktemp("keda"))


def of_kind(path: Path, kind: str) -> list[dict]:
    return [obj for obj in load(path.read_text()) if obj.get("kind") == kind]


def scaled_objects(path: Path) -> list[dict]:
    return of_kind(path, "ScaledObject")


def decoded(keda_decode: str, path: Path) -> list[str]:
    """keda-decode's lines for a file it accepts."""
    result = run([keda_decode, str(path)])
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout.splitlines()


def test_keda_decodes_our_scaled_objects_strictly(keda_decode: str, rendered: Path):
    assert decoded(keda_decode, rendered) == [
        "ok ScaledObject/sourcegraph/executor-batches target=executor-batches min=0 max=10 triggers=1",
        "ok ScaledObject/sourcegraph/executor-all target=executor-all min=1 max=3 triggers=1",
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        # a field KEDA does not have: dropped silently by a lenient decoder, an error here
        (lambda so: so["spec"].update(pollInterval=5), 'json: unknown field "pollInterval"'),
        (lambda so: so["spec"]["fallback"].update(replica=2), 'json: unknown field "replica"'),
        # trigger metadata is a map of strings in KEDA's types
        (
            lambda so: so["spec"]["triggers"][0]["metadata"].update(threshold=4),
            "json: cannot unmarshal number into Go struct field ScaleTriggers.spec.triggers.metadata of type string",
        ),
        (
            lambda so: so["spec"].update(minReplicaCount=11),
            "ScaledObject/executor-batches: replicas: MinReplicaCount=11 must be less than MaxReplicaCount=10",
        ),
        (
            lambda so: so["spec"].pop("maxReplicaCount"),
            "ScaledObject/executor-batches: no maxReplicaCount (KEDA would default it to 100)",
        ),
    ],
)
def test_keda_decode_rejects_what_keda_would(keda_decode: str, rendered: Path, tmp_path: Path, change, message):
    assert_refused(keda_decode, scaled_objects(rendered)[0], change, message, tmp_path)


def assert_refused(keda_decode: str, obj: dict, change, message: str, tmp_path: Path) -> None:
    """keda-decode refuses the object once changed, with this message."""
    change(obj)
    broken = tmp_path / "broken.yaml"
    broken.write_text(dump([obj]))
    result = run([keda_decode, str(broken)])
    assert result.returncode == 1
    assert message in result.stderr, result.stderr


def test_scaled_objects_follow_kedas_crd_schema(keda_module: Path, rendered: Path):
    import yaml

    crd = yaml.safe_load((keda_module / "config/crd/bases/keda.sh_scaledobjects.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = version["schema"]["openAPIV3Schema"]
    found = scaled_objects(rendered)
    assert len(found) == 2
    for scaled_object in found:
        jsonschema.validate(scaled_object, schema)
    bad = {
        **found[0],
        "spec": {**found[0]["spec"], "fallback": {"failureThreshold": 3, "replicas": 1, "behavior": "x"}},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_trigger_metadata_keys_are_the_prometheus_scalers(keda_module: Path, rendered: Path):
    source = (keda_module / "pkg/scalers/prometheus_scaler.go").read_text()
    known = set(re.findall(r'keda:"name=(\w+)', source))
    assert {"serverAddress", "query", "threshold", "activationThreshold", "ignoreNullValues"} <= known
    for scaled_object in scaled_objects(rendered):
        (trigger,) = scaled_object["spec"]["triggers"]
        assert trigger["type"] == "prometheus"
        assert set(trigger["metadata"]) <= known, set(trigger["metadata"]) - known


# isolation: job (a ScaledJob per queue), with every control on, so the pod template KEDA decodes is the one a
# cluster would run.
JOB_CONFIG = {
    **CONFIG,
    "spec": {
        "namespace": "executors",
        "queues": [{"name": "batches", "isolation": "job", "autoscaling": {"maxReplicas": 6}}],
        "hardening": {"profile": "strict"},
    },
}


@pytest.fixture(scope="module")
def rendered_jobs(executor_dind: str, base_stream: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_to_file(executor_dind, base_stream, JOB_CONFIG, tmp_path_factory.mktemp("keda-jobs"))


def test_keda_decodes_our_scaled_jobs_strictly(keda_decode: str, rendered_jobs: Path):
    assert decoded(keda_decode, rendered_jobs) == [
        "ok ScaledJob/executors/executor-batches min=0 max=6 strategy=default rollout=gradual backoffLimit=0 "
        "activeDeadlineSeconds=2700 restartPolicy=Never containers=1 initContainers=1 triggers=1"
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        # the Job and pod template are Kubernetes' own types: a misspelt field is an error, not dropped
        (
            lambda sj: sj["spec"]["jobTargetRef"].update(backoffLimits=0),
            'json: unknown field "backoffLimits"',
        ),
        (
            lambda sj: sj["spec"]["jobTargetRef"]["template"]["spec"].update(runtimeClass="gvisor"),
            'json: unknown field "runtimeClass"',
        ),
        # ScaledObject fields a ScaledJob does not have
        (lambda sj: sj["spec"].update(cooldownPeriod=300), 'json: unknown field "cooldownPeriod"'),
        (
            lambda sj: sj["spec"]["triggers"][0]["metadata"].update(threshold=1),
            "json: cannot unmarshal number into Go struct field ScaleTriggers.spec.triggers.metadata of type string",
        ),
        (
            lambda sj: sj["spec"].pop("maxReplicaCount"),
            "ScaledJob/executor-batches: no maxReplicaCount (KEDA would default it to 100)",
        ),
        (
            lambda sj: sj["spec"]["triggers"].append(dict(sj["spec"]["triggers"][0])),
            'ScaledJob/executor-batches: triggers: triggerName "jobs" is defined multiple times',
        ),
    ],
)
def test_keda_decode_rejects_in_a_scaled_job_what_keda_would(
    keda_decode: str, rendered_jobs: Path, tmp_path: Path, change, message
):
    assert_refused(keda_decode, of_kind(rendered_jobs, "ScaledJob")[0], change, message, tmp_path)


def test_scaled_jobs_follow_kedas_crd_schema(keda_module: Path, rendered_jobs: Path):
    import yaml

    crd = yaml.safe_load((keda_module / "config/crd/bases/keda.sh_scaledjobs.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = version["schema"]["openAPIV3Schema"]
    (scaled_job,) = of_kind(rendered_jobs, "ScaledJob")
    jsonschema.validate(scaled_job, schema)
    (trigger,) = scaled_job["spec"]["triggers"]
    source = (keda_module / "pkg/scalers/prometheus_scaler.go").read_text()
    assert set(trigger["metadata"]) <= set(re.findall(r'keda:"name=(\w+)', source))
    bad = {**scaled_job, "spec": {**scaled_job["spec"], "rollout": {"strategy": "slow"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
