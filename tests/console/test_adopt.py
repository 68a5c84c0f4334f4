"""Adoption on a copy of the real deploy-sourcegraph-k8s checkout: `init --into` and `--from` add exactly the
executors to what the user runs, keep the user's kustomization, and the vendored components build the same."""

import base64
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import run
from executor_dind import naming

EXEC = ("--enable-alpha-plugins", "--enable-exec")
OURS = {
    ("ConfigMap", "executor-dind-docker"),
    ("Deployment", "executor-all"),
    ("NetworkPolicy", "executor-dind-executors"),
    ("NetworkPolicy", "executor-dind-registry"),
    ("Service", "executor-dind-metrics"),
    ("Service", "executor-dind-registry"),
    ("ServiceAccount", "executor-dind"),
    ("StatefulSet", "executor-dind-registry"),
}
ADDED_LINES = [
    "+transformers:",
    "+  - executor-dind.yaml",
    "+  - executor-dind-must-run.yaml",
    "+secretGenerator:",
    "+  - name: executor-secret",
    "+    files:",
    "+      - password=executor-password.txt",
]


@pytest.fixture
def checkout(checkout: Path) -> Path:
    """The checkout's copy with instances/mine made from the template, as upstream instructs."""
    copy = checkout
    mine = copy / "instances" / "mine"
    mine.mkdir()
    for name in ("kustomization", "buildConfig"):
        shutil.copy(copy / "instances/template" / f"{name}.template.yaml", mine / f"{name}.yaml")
    return copy


def objects(text: str) -> dict[tuple[str, str], dict]:
    """Built objects by kind and name (the generated Secret without its hash suffix)."""
    out = {}
    for doc in yaml.safe_load_all(text):
        name = doc["metadata"]["name"]
        if doc["kind"] == "Secret" and name.startswith("executor-secret-"):
            name = "executor-secret"
        out[(doc["kind"], name)] = doc
    return out


def build(tool: str, instance: Path, *flags: str) -> dict[tuple[str, str], dict]:
    (instance / "executor-password.txt").write_text("a-real-token")
    built = run([tool, "build" if "kustomize" in Path(tool).name else "kustomize", *flags, str(instance)])
    assert built.returncode == 0, built.stderr
    return objects(built.stdout)


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#") or " # " in line]


def test_init_into_adds_exactly_the_executors_and_keeps_every_comment(executor_dind, checkout, kustomize):
    mine = checkout / "instances" / "mine"
    original = (mine / "kustomization.yaml").read_text()
    built = run([kustomize, "build", str(mine)])
    assert built.returncode == 0, built.stderr
    before = objects(built.stdout)

    dry = run([executor_dind, "init", "--into", "instances/mine", "--dry-run"], cwd=checkout)
    assert dry.returncode == 0, dry.stderr
    assert (mine / "kustomization.yaml").read_text() == original and not (mine / "executor-dind.yaml").exists()
    kustomization_diff = dry.stdout.split("--- /dev/null")[0]
    assert [line for line in kustomization_diff.splitlines() if line[:1] in "+-"][2:] == ADDED_LINES
    assert "new file: instances/mine/executor-dind.schema.json" in dry.stdout

    result = run([executor_dind, "init", "--into", "instances/mine"], cwd=checkout)
    assert result.returncode == 0, result.stderr
    edited = (mine / "kustomization.yaml").read_text()
    assert edited == original + "".join(line[1:] + "\n" for line in ADDED_LINES)
    assert comments(edited) == comments(original)
    after = build(kustomize, mine, *EXEC)
    assert set(after) - set(before) == {*OURS, ("Secret", "executor-secret")}
    assert {key: after[key] for key in before} == before
    assert all(obj["metadata"]["namespace"] == "ns-sourcegraph" for key, obj in after.items() if key in OURS)


def test_init_from_gives_the_same_objects_as_into(executor_dind, checkout, kustomize):
    assert run([executor_dind, "init", "--into", "instances/mine"], cwd=checkout).returncode == 0
    made = run([executor_dind, "init", "--from", "instances/template", "instances/copy"], cwd=checkout)
    assert made.returncode == 0, made.stderr
    assert build(kustomize, checkout / "instances/copy", *EXEC) == build(kustomize, checkout / "instances/mine", *EXEC)


def test_force_twice_keeps_the_users_lines_and_refuses_without_it(executor_dind, checkout):
    mine = checkout / "instances" / "mine"
    assert run([executor_dind, "init", "--into", str(mine)]).returncode == 0
    extra = "# my own note\ncommonAnnotations:\n  team: search\n"
    (mine / "kustomization.yaml").write_text((mine / "kustomization.yaml").read_text() + extra)
    config = mine / "executor-dind.yaml"
    config.write_text(config.read_text().replace("profile: recommended", "profile: baseline"))
    refused = run([executor_dind, "init", "--into", str(mine)])
    assert refused.returncode == 1
    assert refused.stderr == (
        f"executor-dind: {config} already exist and differ from what init writes: pass --force to replace them "
        "(the kustomization keeps everything else it holds)\n"
    )
    expected = (mine / "kustomization.yaml").read_text()
    for _ in range(2):
        forced = run([executor_dind, "init", "--into", str(mine), "--force"])
        assert forced.returncode == 0, forced.stderr
        assert (mine / "kustomization.yaml").read_text() == expected
    assert "profile: recommended" in config.read_text()
    assert expected.count("executor-dind.yaml") == 1 and expected.endswith(extra)


def test_into_errors_are_one_line_and_say_what_to_do(executor_dind, checkout):
    template = run([executor_dind, "init", "--into", "instances/template"], cwd=checkout)
    assert template.returncode == 1
    assert template.stderr == (
        f"executor-dind: {checkout}/instances/template is the template (kustomization.template.yaml): make an "
        f"instance of it with `executor-dind init --from {checkout}/instances/template`\n"
    )
    (checkout / "instances/mine/kustomization.yaml").write_text("resources: [a\n")
    broken = run([executor_dind, "init", "--into", "instances/mine"], cwd=checkout)
    assert broken.returncode == 1
    assert re.fullmatch(
        r"executor-dind: \S+/instances/mine/kustomization\.yaml: not valid YAML \(.+\): fix it, then run again\n",
        broken.stderr,
    )
    strict = run([executor_dind, "init", "--into", "instances/mine", "--profile", "strict"], cwd=checkout)
    assert strict.stderr == (
        "executor-dind: --profile strict puts the executors in a namespace of their own (Pod Security Admission): "
        "pass --namespace NAME\n"
    )


def test_strict_with_a_namespace_explains_without_placeholders(executor_dind, checkout):
    result = run(
        [executor_dind, "init", "--into", "instances/mine", "--profile", "strict", "--namespace", "executors"],
        cwd=checkout,
    )
    assert result.returncode == 0, result.stderr
    assert "(check: kubectl get runtimeclass gvisor)" in result.stderr
    config = checkout / "instances/mine/executor-dind.yaml"
    spec = yaml.safe_load(config.read_text())["spec"]
    assert spec["frontend"]["url"] == "http://sourcegraph-frontend.ns-sourcegraph.svc.cluster.local:30080"
    explained = run([executor_dind, "explain", "--config", str(config)])
    assert explained.returncode == 0, explained.stderr
    assert "into namespace executors:" in explained.stdout
    for text in (explained.stdout, explained.stderr):
        assert "<" not in text and "(unset)" not in text


def test_init_into_with_components_builds_the_functions_objects(executor_dind, checkout, kustomize, kubectl):
    mine = checkout / "instances" / "mine"
    shutil.copytree(mine, checkout / "instances/plain")
    assert run([executor_dind, "init", "--into", str(mine)]).returncode == 0
    result = run([executor_dind, "init", "--into", "instances/plain", "--way", "components"], cwd=checkout)
    assert result.returncode == 0, result.stderr
    assert "then kubectl kustomize instances/plain" in result.stderr
    text = (checkout / "instances/plain/kustomization.yaml").read_text()
    ours = text.index("  - ../../components/hardening/network-policy\n")
    assert ours < text.index("  - ../../components/utils/endpoints # REQUIRED - DO NOT REMOVE\n")
    assert build(kubectl, checkout / "instances/plain") == build(kustomize, mine, *EXEC)


EXECUTOR_PATCH = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: executor-config
data:
  EXECUTOR_FRONTEND_URL: "http://sourcegraph-frontend"
  EXECUTOR_MAXIMUM_NUM_JOBS: "6"
  EXECUTOR_QUEUE_NAMES: "batches,codeintel"
  EXECUTOR_DOCKER_ADD_HOST_GATEWAY: "true"
"""
RESOURCES_PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: executor
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: executor
          resources:
            requests: {cpu: "1", memory: 2Gi, ephemeral-storage: 1Gi}
            limits: {cpu: "2", memory: 4Gi, ephemeral-storage: 2Gi}
"""


def upstream_instance(checkout: Path) -> Path:
    """instances/mine with the template's executors lines enabled, its executor ConfigMap and Deployment patched."""
    mine = checkout / "instances" / "mine"
    text = (mine / "kustomization.yaml").read_text()
    for line in ("  # - ../../components/executors/dind #", "  # - ../../components/executors/dind/private-docker-"):
        assert line in text
        text = text.replace(line, line.replace("# - ", "- "))
    (mine / "patches").mkdir()
    (mine / "patches/executor.ConfigMap.yaml").write_text(EXECUTOR_PATCH)
    (mine / "patches/executor.Deployment.yaml").write_text(RESOURCES_PATCH)
    text += (
        "patches:\n  - path: patches/executor.ConfigMap.yaml # queues and concurrency\n"
        "  - path: patches/executor.Deployment.yaml\n"
        "secretGenerator:\n  - name: executor-secret\n    literals:\n      - password=our-shared-secret\n"
    )
    (mine / "kustomization.yaml").write_text(text)
    return mine


def test_migrate_replaces_the_upstream_executor_with_the_same_settings(executor_dind, checkout, kustomize):
    mine = upstream_instance(checkout)
    original = (mine / "kustomization.yaml").read_text()
    before = objects(run([kustomize, "build", str(mine)]).stdout)
    assert ("Deployment", "executor") in before and ("Deployment", "private-docker-registry") in before
    result = run([executor_dind, "migrate", "instances/mine"], cwd=checkout)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "mapped: EXECUTOR_FRONTEND_URL=http://sourcegraph-frontend -> frontend.url http://sourcegraph-frontend:30080 "
        "(the frontend Service's port added: without it the executor hangs)",
        "mapped: EXECUTOR_QUEUE_NAMES=batches,codeintel -> queues[0]: name all, queueNames [batches, codeintel]",
        "mapped: EXECUTOR_MAXIMUM_NUM_JOBS=6 -> queues[0].maximumNumJobs",
        "mapped: EXECUTOR_USE_FIRECRACKER=false -> set by executor-dind too",
        "mapped: DOCKER_HOST=tcp://localhost:2375 -> set by executor-dind too",
        "mapped: TMPDIR=/scratch -> set by executor-dind too",
        "mapped: EXECUTOR_DOCKER_ADD_HOST_GATEWAY -> queues[0].env",
        "mapped: Deployment executor replicas 2 -> queues[0].replicas",
        "mapped: executor container resources -> queues[0].resources",
        "mapped: components/executors/dind/private-docker-registry: present -> privateRegistry.enabled: true",
        "mapped: secretGenerator executor-secret -> frontend.passwordSecret executor-secret/password",
        "commented out: patch patches/executor.ConfigMap.yaml (its settings are in executor-dind.yaml)",
        "commented out: patch patches/executor.Deployment.yaml (its settings are in executor-dind.yaml)",
        "wrote: instances/mine/kustomization.yaml",
        "wrote: instances/mine/executor-dind.yaml",
        "wrote: instances/mine/executor-dind.schema.json",
        "wrote: instances/mine/executor-dind-must-run.yaml",
        "wrote: instances/mine/executor-password.txt",
        "wrote: instances/mine/.gitignore",
    ]
    assert (
        "executor-dind: instances/mine/kustomization.yaml: secretGenerator executor-secret: its `password=` literal "
        "is no password; it now reads executor-password.txt (git-ignored): put executors.accessToken there\n"
    ) in result.stderr
    assert (mine / "executor-password.txt").read_text() == naming.PASSWORD_PLACEHOLDER + "\n"
    assert (
        "executor-dind:   kubectl -n ns-sourcegraph delete configmap/docker-config configmap/executor-config "
        "deployment/executor service/executor persistentvolumeclaim/private-docker-registry "
        "deployment/private-docker-registry service/private-docker-registry\n"
    ) in result.stderr
    edited = (mine / "kustomization.yaml").read_text()
    expected = original
    for line in (
        "  - ../../components/executors/dind #",
        "  - ../../components/executors/dind/private-docker-registry #",
        "  - path: patches/executor.ConfigMap.yaml #",
        "  - path: patches/executor.Deployment.yaml\n",
    ):
        expected = expected.replace(line, "  # " + line[2:])
    expected = expected.replace(
        "    literals:\n      - password=our-shared-secret\n", "    files:\n      - password=executor-password.txt\n"
    )
    assert edited == expected + "transformers:\n  - executor-dind.yaml\n  - executor-dind-must-run.yaml\n"

    refused = run([kustomize, "build", *EXEC, str(mine)])
    assert refused.returncode == 1 and "still holds the placeholder `executor-dind init` wrote" in refused.stderr
    (mine / "executor-password.txt").write_text("a-real-token")
    built = run([kustomize, "build", *EXEC, str(mine)])
    assert built.returncode == 0, built.stderr
    after = objects(built.stdout)
    upstream_names = {"executor", "executor-config", "docker-config", "private-docker-registry"}
    assert not [key for key in after if key[1] in upstream_names]
    assert set(after) >= OURS
    # The Secret changed on purpose: the template's public example became the password file's token.
    secret = ("Secret", "executor-secret")
    assert base64.b64decode(after.pop(secret)["data"]["password"]) == b"a-real-token"
    assert base64.b64decode(before.pop(secret)["data"]["password"]) == b"our-shared-secret"
    assert {key: after.get(key) for key in before if key[1] not in upstream_names} == {
        key: value for key, value in before.items() if key[1] not in upstream_names
    }
    deployment = after[("Deployment", "executor-all")]
    executor = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in executor["env"]}
    assert {k: env[k] for k in ("EXECUTOR_FRONTEND_URL", "EXECUTOR_QUEUE_NAMES", "EXECUTOR_MAXIMUM_NUM_JOBS")} == {
        "EXECUTOR_FRONTEND_URL": "http://sourcegraph-frontend:30080",
        "EXECUTOR_QUEUE_NAMES": "batches,codeintel",
        "EXECUTOR_MAXIMUM_NUM_JOBS": "6",
    }
    assert env["EXECUTOR_DOCKER_ADD_HOST_GATEWAY"] == "true" and deployment["spec"]["replicas"] == 2
    assert executor["resources"]["limits"] == {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "2Gi"}
    rendered = checkout / "rendered.yaml"
    rendered.write_text(built.stdout)
    audit = run([executor_dind, "audit", str(rendered)])
    assert audit.returncode == 0, audit.stdout


def test_migrate_without_upstream_executors_says_what_to_do(executor_dind, checkout):
    result = run([executor_dind, "migrate", "instances/mine"], cwd=checkout)
    assert result.returncode == 1
    assert result.stderr == (
        f"executor-dind: {checkout}/instances/mine/kustomization.yaml: no components/executors/dind in its "
        f"components: nothing to migrate (add executors with `executor-dind init --into {checkout}/instances/mine`)\n"
    )


def test_components_write_only_vendors_the_named_ones_with_the_version(executor_dind, tmp_path):
    from executor_dind import __version__

    result = run([executor_dind, "components", "--write", str(tmp_path), "--only", "hardening/node-pool"])
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml")) == [
        "hardening/node-pool/kustomization.yaml"
    ]
    header = (tmp_path / "hardening/node-pool/kustomization.yaml").read_text().splitlines()[0]
    assert (
        header
        == f"# Generated by executor-dind {__version__} (`executor-dind components --write`); do not edit: regenerate."
    )
    unknown = run([executor_dind, "components", "--write", str(tmp_path), "--only", "hardening/nodepool"])
    assert unknown.returncode == 1
    assert unknown.stderr.startswith(
        "executor-dind: --only: no component hardening/nodepool: choose among executor-dind, "
    )
