"""The Helm post-renderer with the real Helm 4 (the postrenderer/v1 plugin `install-plugin --helm` writes) and Helm 3
(the console script as the executable) over the real sourcegraph-executor dind chart, inside an umbrella chart
that adds objects of its own (an existing Secret, a ConfigMap) which must come back unchanged."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, find_tool, missing, run
from integration.util import assert_failed, assert_ok, key, objects

CHART = ROOT.parent / "shared" / "upstream" / "deploy-sourcegraph-helm" / "charts" / "sourcegraph-executor" / "dind"
SUB = "sourcegraph-executor-dind"  # the chart's name: its values' prefix in the umbrella chart
FRONTEND = "http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080"
VALUES = (
    f"executor.frontendUrl={FRONTEND}",
    "executor.frontendExistingSecret=executor-secret",
    "executor.queueName=batches",
)
UMBRELLA_OBJECTS = """\
apiVersion: v1
kind: Secret
metadata:
  name: executor-secret
stringData:
  EXECUTOR_FRONTEND_PASSWORD: not-a-real-secret
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: site-notes
data:
  owner: platform-team
---
apiVersion: v1
kind: Service
metadata:
  name: team-registry
spec:
  selector: {app: team-registry}
  ports: [{port: 5000}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: team-registry
spec:
  selector:
    matchLabels: {app: team-registry}
  template:
    metadata:
      labels: {app: team-registry}
    spec:
      containers:
        - name: registry
          image: index.docker.io/library/registry:3.0.0
"""  # a registry of the team's own, which the executors' daemon.json does not name: it is kept
# The chart's executor objects with these values: what the post-renderer must replace, and nothing else.
CHART_EXECUTOR_OBJECTS = {
    ("Deployment", "", "executor-batches"),
    ("ConfigMap", "", "docker-config"),
    ("StatefulSet", "", "private-docker-registry"),
    ("Service", "", "private-docker-registry"),
}
PROFILE_ARGS = {
    "baseline": ("hardening.profile=baseline",),
    "recommended": ("hardening.profile=recommended",),
    "strict": ("hardening.profile=strict", "namespace=sourcegraph-executors"),
}
# What the chart's objects say with VALUES, reasoned from its values.yaml and templates: the executor image and
# its log and runtime settings from executor.*, the existing Secret's key that the chart hard-codes, one replica,
# daemon.json's mtu, the registry's 10Gi claim of storage class `sourcegraph` proxying Docker Hub.
MAPPED = {
    "hardening": {"profile": "recommended"},
    "frontend": {"url": FRONTEND, "passwordSecret": {"name": "executor-secret", "key": "EXECUTOR_FRONTEND_PASSWORD"}},
    "log": {"level": "warn", "format": "json"},
    "maximumRuntimePerJob": "30m",
    "images": {
        "executor": "index.docker.io/sourcegraph/executor:6.0.0"
        "@sha256:0be94a7c91f8273db10fdf46718c6596340ab2acc570e7b85353806e67a27508"
    },
    "queues": [{"name": "batches", "replicas": 1}],
    "docker": {"mtu": 1200},
    "privateRegistry": {
        "enabled": True,
        "storage": "10Gi",
        "storageClassName": "sourcegraph",
        "remoteUrl": "https://registry-1.docker.io",
    },
}


def _helm(name: str, major: str) -> str:
    path = find_tool(name)
    shown = subprocess.run([path, "version", "--short"], capture_output=True, text=True, check=False).stdout
    if not shown.startswith(f"v{major}."):
        missing(f"{path} is not Helm {major}: {shown.strip()!r} (`make tools` installs helm and helm3)")
    return path


@pytest.fixture(scope="module")
def helms() -> dict[str, str]:
    return {"helm4": _helm("helm", "4"), "helm3": _helm("helm3", "3")}


@pytest.fixture(scope="module")
def umbrella(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (CHART / "Chart.yaml").is_file():
        missing(f"the sourcegraph-executor dind chart is not at {CHART}")
    chart = tmp_path_factory.mktemp("umbrella")
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: umbrella\nversion: 0.1.0\n")
    (chart / "templates").mkdir()
    (chart / "templates" / "extra.yaml").write_text(UMBRELLA_OBJECTS)
    (chart / "charts").mkdir()
    (chart / "charts" / SUB).symlink_to(CHART)
    return chart


def helm_homes(directory: Path, executor_dind: str) -> dict[str, str]:
    """The environment for helm: executor-dind on PATH, Helm's homes and the report file under `directory`."""
    return {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(executor_dind).parent), os.environ.get("PATH", "")]),
        "HELM_PLUGINS": str(directory / "plugins"),
        "HELM_CACHE_HOME": str(directory / "cache"),
        "HELM_CONFIG_HOME": str(directory / "config"),
        "HELM_DATA_HOME": str(directory / "data"),
        "XDG_STATE_HOME": str(directory / "state"),
    }


@pytest.fixture(scope="module")
def helm_env(executor_dind: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Helm's homes in a scratch directory, the plugin installed the way users install it."""
    home = tmp_path_factory.mktemp("helm-home")
    env = helm_homes(home, executor_dind)
    out = assert_ok(run([executor_dind, "install-plugin", "--helm"], env=env))
    assert out == f"{home / 'plugins' / 'executor-dind'}\n"
    return env


def report_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "executor-dind" / "helm-post-render.log"


def template(
    helms: dict[str, str],
    which: str,
    chart: Path,
    env: dict[str, str],
    values: tuple[str, ...] = VALUES,
    args: tuple[str, ...] | None = (),
    prefix: str = f"{SUB}.",
) -> subprocess.CompletedProcess:
    """`helm template` of the chart, through the post-renderer with these --post-renderer-args (None: without)."""
    command = [helms[which], "template", "x", str(chart)]
    for value in values:
        command += ["--set", prefix + value]
    if args is not None:
        if which == "helm4":
            command += ["--post-renderer", "executor-dind"]
        else:
            command += ["--post-renderer", "executor-dind", "--post-renderer-args", "helm-post-render"]
        for arg in args:
            command += ["--post-renderer-args", arg]
    return run(command, env=env)


def by_key(text: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {key(obj): obj for obj in objects(text)}


def mapped_config(executor_dind: str, chart_output: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    return yaml.safe_load(
        assert_ok(run([executor_dind, "helm-post-render", "--emit-config", *args], input=chart_output, env=env))
    )


@pytest.mark.parametrize("which", ["helm4", "helm3"])
@pytest.mark.parametrize("profile", list(PROFILE_ARGS))
def test_post_render_per_profile(which, profile, helms, umbrella, helm_env, executor_dind, tmp_path) -> None:
    """Audited, ours exactly as `render` makes them from the mapped config, and the rest of the chart unchanged."""
    plain = assert_ok(template(helms, which, umbrella, helm_env, args=None))
    result = template(helms, which, umbrella, helm_env, args=PROFILE_ARGS[profile])
    rendered = assert_ok(result)
    before, after = by_key(plain), by_key(rendered)
    kept = {k: obj for k, obj in before.items() if k not in CHART_EXECUTOR_OBJECTS}
    assert set(before) - set(kept) == CHART_EXECUTOR_OBJECTS
    assert {k: after[k] for k in kept} == kept
    if which == "helm4":  # Helm 4 names each object's template from the annotation the post-renderer kept
        assert rendered.count("# Source: umbrella/templates/extra.yaml\n") == 4
    assert "executor-dind: self-audit passed" in result.stderr  # the report reaches helm's stderr on success

    audit = run([executor_dind, "audit"], input=rendered)
    assert audit.returncode == 0, audit.stdout + audit.stderr

    config = mapped_config(executor_dind, plain, helm_env, *PROFILE_ARGS[profile])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    others = yaml.safe_dump_all(list(kept.values()))
    ours = by_key(
        assert_ok(run([executor_dind, "render", "--config", str(tmp_path / "config.yaml"), "-"], input=others))
    )
    assert {k: obj for k, obj in after.items() if k not in kept} == {k: o for k, o in ours.items() if k not in kept}
    assert not set(after) & CHART_EXECUTOR_OBJECTS - set(ours)  # none of the chart's executor objects is left


def test_what_the_chart_says_is_mapped(helms, umbrella, helm_env, executor_dind) -> None:
    plain = assert_ok(template(helms, "helm4", umbrella, helm_env, args=None))
    assert mapped_config(executor_dind, plain, helm_env)["spec"] == MAPPED
    # A --post-renderer-args setting wins over the chart's value; the rest of what the chart said stays.
    overridden = mapped_config(executor_dind, plain, helm_env, "docker.mtu=1400", "log.level=info")["spec"]
    assert overridden == {**MAPPED, "docker": {"mtu": 1400}, "log": {"level": "info", "format": "json"}}


def test_config_file_and_arguments_merge(helms, umbrella, helm_env, executor_dind, tmp_path) -> None:
    """--config FILE over the chart's values, KEY=VALUE over the file."""
    plain = assert_ok(template(helms, "helm4", umbrella, helm_env, args=None))
    (tmp_path / "overrides.yaml").write_text(
        "apiVersion: executor-dind.dev/v1alpha1\nkind: ExecutorDind\n"
        "spec:\n  namespace: executors\n  hardening: {profile: strict}\n  docker: {storageSize: 80Gi}\n"
    )
    spec = mapped_config(
        executor_dind, plain, helm_env, f"--config={tmp_path / 'overrides.yaml'}", "hardening.profile=baseline"
    )["spec"]
    expected = {**MAPPED, "namespace": "executors", "docker": {"mtu": 1200, "storageSize": "80Gi"}}
    assert spec == {**expected, "hardening": {"profile": "baseline"}}


def test_gvisor_mode_maps_to_our_gvisor(helms, umbrella, helm_env, executor_dind) -> None:
    gvisor_values = (*VALUES, "dind.gVisor.enabled=true")
    plain = assert_ok(template(helms, "helm4", umbrella, helm_env, values=gvisor_values, args=None))
    chart_pod = by_key(plain)[("Deployment", "", "executor-batches")]["spec"]["template"]["spec"]
    assert chart_pod["runtimeClassName"] == "gvisor"
    spec = mapped_config(executor_dind, plain, helm_env)["spec"]
    # The chart's gVisor daemon.json keys (vfs, no iptables) are not the user's: our gVisor control sets its own.
    assert spec == {
        **MAPPED,
        "hardening": {"profile": "recommended", "gvisor": {"enabled": True, "runtimeClassName": "gvisor"}},
    }
    rendered = by_key(assert_ok(template(helms, "helm4", umbrella, helm_env, values=gvisor_values)))
    pod = rendered[("Deployment", "", "executor-batches")]["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "gvisor"
    # Positive control: without the chart's gVisor mode the recommended profile runs no sandbox.
    without = by_key(assert_ok(template(helms, "helm4", umbrella, helm_env)))
    assert "runtimeClassName" not in without[("Deployment", "", "executor-batches")]["spec"]["template"]["spec"]


LITERAL_PASSWORD = (
    "executor-dind: error: Deployment/executor-batches: the chart puts the frontend password in the Deployment as "
    "a literal (executor.frontendPassword), and executor-dind never does: create a Secret with the key "
    "EXECUTOR_FRONTEND_PASSWORD and set executor.frontendExistingSecret to its name (or pass "
    "frontend.passwordSecret.name=NAME in --post-renderer-args)"
)
NO_NAMESPACE = (
    "executor-dind: error ExecutorDind/-/helm-post-renderer: invalid functionConfig: spec.namespace: "
    "hardening.podSecurity labels the executors' namespace privileged, but spec.namespace is not set: set it to a "
    "namespace of their own (e.g. sourcegraph-executors) or disable hardening.podSecurity"
)
HELM_SAYS = {
    "helm4": 'Error: error while running post render on files: failed to invoke post-renderer plugin "executor-dind": '
    'plugin "executor-dind" exited with error',
    "helm3": "Error: error while running post render on files: error while running command ",
}


@pytest.mark.parametrize("which", ["helm4", "helm3"])
@pytest.mark.parametrize(
    "values,args,reason",
    [
        pytest.param(
            (f"executor.frontendUrl={FRONTEND}", "executor.frontendPassword=hunter2", "executor.queueName=batches"),
            (),
            LITERAL_PASSWORD,
            id="literal-password",
        ),
        pytest.param(VALUES, ("hardening.profile=strict",), NO_NAMESPACE, id="strict-without-namespace"),
    ],
)
def test_a_refusal_is_seen_in_what_helm_prints(which, values, args, reason, helms, umbrella, helm_env) -> None:
    """Helm 4 drops a plugin's stderr: the reason still reaches helm's own stderr, once; nothing is emitted."""
    refused = template(helms, which, umbrella, helm_env, values=values, args=args)
    output = assert_failed(refused)
    assert refused.stdout == ""
    assert refused.stderr.count(reason + "\n") == 1, refused.stderr
    assert HELM_SAYS[which] in refused.stderr
    assert "hunter2" not in output
    report = report_file(helm_env).read_text()
    assert report.endswith(
        f"{reason}\nexecutor-dind: nothing was emitted; this report is also in {report_file(helm_env)}\n"
    )
    # Positive control: the same chart with an existing Secret and a namespace renders.
    fixed = template(helms, which, umbrella, helm_env, args=(*args, "namespace=sourcegraph-executors"))
    assert ("Deployment", "sourcegraph-executors", "executor-batches") in by_key(assert_ok(fixed))


def test_the_plugin_is_listed_by_helm4(helms, helm_env) -> None:
    listed = assert_ok(run([helms["helm4"], "plugin", "list"], env=helm_env)).splitlines()
    assert [line.split() for line in listed[1:]] == [
        ["executor-dind", "0.1.0", "postrenderer/v1", "v1", "unknown", "unknown"]
    ]


def test_not_the_chart_and_bad_arguments_are_refused(executor_dind, helm_env) -> None:
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    refused = run([executor_dind, "helm-post-render"], input=other, env=helm_env)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.splitlines()[0] == (
        "executor-dind: error: no executor workload in Helm's output (a Deployment running Sourcegraph's executor "
        "beside dockerd): use this post-renderer with the sourcegraph-executor dind chart"
    )
    bad = run([executor_dind, "helm-post-render", "hardening.profil=strict", "nokey"], input=other, env=helm_env)
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr.splitlines()[0] == (
        "executor-dind: error: --post-renderer-args: 'nokey' is not KEY=VALUE (e.g. hardening.profile=strict)"
    )
    typo = run([executor_dind, "helm-post-render", "hardening.profil=strict"], input=other, env=helm_env)
    assert typo.returncode == 1
    assert typo.stderr.splitlines()[0].startswith(
        "executor-dind: error: --post-renderer-args.hardening.profil: unknown field"
    )


PLACEMENT_VALUES = f"""\
{SUB}:
  queues:
    - name: codeintel
      replicaCount: 2
      resources: {{requests: {{cpu: "2", memory: 4Gi}}, limits: {{cpu: "4", memory: 8Gi}}}}
    - name: both
      queueNames: [batches, codeintel]
      env: {{FOO: {{value: bar}}}}
  executor:
    frontendUrl: {FRONTEND}
    frontendExistingSecret: executor-secret
    storage: {{type: ephemeral, size: 50Gi, class: premium-rwo}}
  sourcegraph:
    nodeSelector: {{pool: executors}}
    tolerations: [{{key: dedicated, operator: Equal, value: executors, effect: NoSchedule}}]
    affinity: {{podAntiAffinity: {{}}}}
  privateDockerRegistry: {{enabled: false}}
  dind:
    daemonConfig: {{debug: true}}
"""


def test_queues_storage_placement_and_daemon_config_map(helms, umbrella, helm_env, executor_dind, tmp_path) -> None:
    """The chart's `queues`, per-queue resources and env, ephemeral scratch, global node placement, an extra
    daemon.json key and a disabled registry, each where executor-dind keeps it; affinity is said not mapped."""
    values = tmp_path / "values.yaml"
    values.write_text(PLACEMENT_VALUES)
    plain = assert_ok(run([helms["helm4"], "template", "x", str(umbrella), "-f", str(values)], env=helm_env))
    spec = mapped_config(executor_dind, plain, helm_env)["spec"]
    assert spec == {
        **{k: v for k, v in MAPPED.items() if k not in ("queues", "privateRegistry", "docker")},
        "hardening": {
            "profile": "recommended",
            "nodePool": {
                "enabled": True,
                "nodeSelector": {"pool": "executors"},
                "taint": {"key": "dedicated", "value": "executors", "effect": "NoSchedule"},
            },
        },
        "storage": {"type": "ephemeral", "size": "50Gi", "storageClassName": "premium-rwo"},
        "queues": [
            {
                "name": "codeintel",
                "replicas": 2,
                "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}},
            },
            {"name": "both", "queueNames": ["batches", "codeintel"], "replicas": 1, "env": {"FOO": "bar"}},
        ],
        "docker": {"mtu": 1200, "daemonConfig": {"debug": True}},
        "privateRegistry": {"enabled": False},
    }
    result = run(
        [helms["helm4"], "template", "x", str(umbrella), "-f", str(values), "--post-renderer", "executor-dind"],
        env=helm_env,
    )
    rendered = by_key(assert_ok(result))
    # The team's registry of the umbrella chart is kept; the chart's, disabled here, is not there to replace.
    assert {k[2] for k in rendered if k[0] == "Deployment"} == {"executor-codeintel", "executor-both", "team-registry"}
    assert "StatefulSet" not in {k[0] for k in rendered}
    assert (
        "executor-dind: not mapped: Deployment/executor-codeintel affinity: executor-dind has no such setting; "
        "its executors are placed by nodePool\n"
    ) in result.stderr


def _executor_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]


MALFORMED = {
    "resources": (
        lambda pod: pod["containers"][0].__setitem__("resources", "big"),
        'executor-dind: error: Deployment/executor-batches: the executor\'s resources is "big", not an object: '
        "fix the chart's values",
    ),
    "nodeSelector": (
        lambda pod: pod.__setitem__("nodeSelector", ["pool"]),
        'executor-dind: error: Deployment/executor-batches: nodeSelector is ["pool"], not an object: '
        "fix the chart's values",
    ),
    "toleration": (
        lambda pod: pod.__setitem__("tolerations", [5]),
        "executor-dind: error: Deployment/executor-batches: a toleration is 5, not an object: fix the chart's values",
    ),
    "env": (
        lambda pod: pod["containers"][0]["env"].append("FOO=bar"),
        'executor-dind: error: Deployment/executor-batches: an entry of the executor\'s env is "FOO=bar", not an '
        "object: fix the chart's values",
    ),
}


@pytest.mark.parametrize("field", list(MALFORMED))
def test_a_malformed_chart_object_is_refused_not_dropped(field, helms, umbrella, helm_env, executor_dind) -> None:
    plain = assert_ok(template(helms, "helm4", umbrella, helm_env, args=None))
    control = run([executor_dind, "helm-post-render"], input=plain, env=helm_env)
    assert control.returncode == 0, control.stderr  # positive control: the chart's own output maps
    docs = objects(plain)
    change, message = MALFORMED[field]
    change(_executor_pod(docs))
    refused = run([executor_dind, "helm-post-render"], input=yaml.safe_dump_all(docs), env=helm_env)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert [line for line in refused.stderr.splitlines() if "error" in line] == [message]
