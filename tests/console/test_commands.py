"""The user-facing subcommands, run as users run them: the installed console script in a subprocess."""

import json
from pathlib import Path

import pytest
import yaml

from conftest import run

CONFIG = """\
apiVersion: executor-dind.dev/v1alpha1
kind: ExecutorDind
metadata:
  name: executors
spec:
  hardening:
    profile: {profile}
"""
FRONTEND = """\
apiVersion: v1
kind: Service
metadata:
  name: sourcegraph-frontend
  namespace: sourcegraph
spec:
  selector: {app: sourcegraph-frontend}
  ports:
    - {name: http, port: 30080, targetPort: http}
"""
SUBCOMMANDS = (
    "render",
    "audit",
    "explain",
    "init",
    "migrate",
    "install-plugin",
    "schema",
    "components",
    "helm-post-render",
    "doctor",
)


@pytest.fixture
def config(tmp_path: Path):
    def write(profile: str = "baseline") -> Path:
        path = tmp_path / f"config-{profile}.yaml"
        path.write_text(CONFIG.format(profile=profile))
        return path

    return write


@pytest.fixture
def frontend(tmp_path: Path) -> Path:
    path = tmp_path / "frontend.yaml"
    path.write_text(FRONTEND)
    return path


def test_version_names_the_package_version(executor_dind):
    from executor_dind import __version__

    result = run([executor_dind, "--version"])
    assert result.returncode == 0
    assert result.stdout.strip() == f"executor-dind {__version__}"


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(executor_dind, command):
    result = run([executor_dind, command, "--help"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: executor-dind {command}")
    example = result.stdout.split("\n\nexample")[1]
    assert "executor-dind " in example, result.stdout


def test_top_level_help_lists_every_subcommand(executor_dind):
    result = run([executor_dind, "--help"])
    assert result.returncode == 0
    for command in SUBCOMMANDS:
        assert command in result.stdout


def test_explain_lists_objects_queues_images_and_posture(executor_dind, config, frontend):
    result = run([executor_dind, "explain", "--config", str(config("recommended")), str(frontend)])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "into namespace sourcegraph" in out
    for obj in ("Deployment/sourcegraph/executor-all", "NetworkPolicy/sourcegraph/executor-dind-executors"):
        assert f"  {obj}\n" in out
    assert "frontend: http://sourcegraph-frontend:30080" in out
    assert "executor-all: batches, codeintel" in out
    posture = {line.split()[0]: line.split()[1] for line in out.split("security posture")[1].splitlines()[2:]}
    assert posture == {"baseline": "on", "nodePool": "on", "gvisor": "off", "networkPolicy": "on", "podSecurity": "off"}


def test_explain_mermaid_marks_flows_blocked_only_when_the_policy_is_on(executor_dind, config, frontend):
    on = run([executor_dind, "explain", "--format", "mermaid", "--config", str(config("recommended")), str(frontend)])
    off = run([executor_dind, "explain", "--format", "mermaid", "--config", str(config("baseline")), str(frontend)])
    assert on.returncode == off.returncode == 0
    assert on.stdout.startswith("flowchart LR\n")
    assert "pod -- blocked --x metadata" in on.stdout and "not restricted" not in on.stdout
    assert "pod -. not restricted .-> metadata" in off.stdout and "blocked --x" not in off.stdout
    assert "sourcegraph-frontend pods :http" in on.stdout


def test_explain_reports_config_errors_without_traceback(executor_dind, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.format(profile="paranoid"))
    result = run([executor_dind, "explain", "--config", str(bad)])
    assert result.returncode == 1
    assert "spec.hardening.profile" in result.stderr and "Traceback" not in result.stderr


def test_schema_is_json_schema_of_the_config(executor_dind):
    result = run([executor_dind, "schema"])
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["properties"]["kind"] == {"const": "ExecutorDind"}
    assert schema["properties"]["spec"]["additionalProperties"] is False
    assert "hardening" in schema["properties"]["spec"]["properties"]


def test_init_makes_an_instance_from_the_template(executor_dind, checkout):
    result = run([executor_dind, "init"], cwd=checkout / "base" / "sourcegraph")
    assert result.returncode == 0, result.stderr
    overlay = checkout / "instances" / "executors"
    template = checkout / "instances" / "template"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    original = yaml.safe_load((template / "kustomization.template.yaml").read_text())
    assert kustomization == {
        **original,
        "transformers": ["executor-dind.yaml", "executor-dind-must-run.yaml"],
        "secretGenerator": [{"name": "executor-secret", "files": ["password=executor-password.txt"]}],
    }
    assert (overlay / "buildConfig.yaml").read_text() == (template / "buildConfig.template.yaml").read_text()
    config_text = (overlay / "executor-dind.yaml").read_text()
    assert config_text.startswith("# yaml-language-server: $schema=executor-dind.schema.json\n")
    assert yaml.safe_load(config_text)["spec"]["frontend"]["url"] == "http://sourcegraph-frontend:30080"
    assert json.loads((overlay / "executor-dind.schema.json").read_text())["properties"]["kind"]["const"]
    assert (overlay / ".gitignore").read_text() == "executor-password.txt\n"
    assert "REPLACE-ME" in (overlay / "executor-password.txt").read_text()
    assert result.stderr.splitlines()[-1] == (
        "executor-dind: the recommended profile needs a node pool labelled executor-dind.dev/untrusted=true and "
        "tainted executor-dind.dev/untrusted=true:NoSchedule "
        "(check: kubectl get nodes -l executor-dind.dev/untrusted=true)"
    )


def test_init_refuses_to_overwrite_and_force_keeps_the_password(executor_dind, checkout):
    assert run([executor_dind, "init"], cwd=checkout).returncode == 0
    password = checkout / "instances" / "executors" / "executor-password.txt"
    password.write_text("the-real-token\n")
    again = run([executor_dind, "init"], cwd=checkout)
    assert again.returncode == 1
    assert again.stderr == (
        f"executor-dind: {checkout}/instances/executors already exists: add executors to it with "
        f"`executor-dind init --into {checkout}/instances/executors`, or choose another directory\n"
    )
    forced = run([executor_dind, "init", "--force"], cwd=checkout)
    assert forced.returncode == 0, forced.stderr
    assert password.read_text() == "the-real-token\n"


def test_init_outside_a_checkout_says_so(executor_dind, tmp_path):
    result = run([executor_dind, "init"], cwd=tmp_path)
    assert result.returncode == 1
    assert "not inside a deploy-sourcegraph-k8s checkout" in result.stderr


def test_init_overlay_builds_and_passes_the_audit(executor_dind, checkout, kustomize):
    assert run([executor_dind, "init"], cwd=checkout).returncode == 0
    overlay = checkout / "instances" / "executors"
    # Until the placeholder is replaced by the real executors.accessToken, the build refuses.
    refused = run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(overlay)])
    assert refused.returncode != 0
    assert "still holds the placeholder `executor-dind init` wrote" in refused.stderr
    assert oct((overlay / "executor-password.txt").stat().st_mode & 0o777) == "0o600"
    (overlay / "executor-password.txt").write_text("a-real-token")
    built = run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(overlay)])
    assert built.returncode == 0, built.stderr
    kinds = [(doc["kind"], doc["metadata"]["name"]) for doc in yaml.safe_load_all(built.stdout)]
    assert ("Deployment", "executor-all") in kinds and ("NetworkPolicy", "executor-dind-executors") in kinds
    rendered = overlay / "rendered.yaml"
    rendered.write_text(built.stdout)
    audit = run([executor_dind, "audit", str(rendered)])
    assert audit.returncode == 0, audit.stdout
    assert " error " not in audit.stdout


def _imported(executor_dind: str, argv: list[str], stdin: str = "") -> set[str]:
    """Modules the console script imports (python -X importtime), for the lazy-import contract of the hot paths
    (the script itself, not `-m`, whose runpy imports importlib)."""
    import sys

    result = run([sys.executable, "-X", "importtime", executor_dind, *argv], input=stdin)
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def test_help_imports_no_yaml_and_no_function(executor_dind):
    modules = _imported(executor_dind, ["--help"])
    assert "argparse" in modules
    assert not {"yaml", "executor_dind.function", "executor_dind.spec"} & modules


def test_the_krm_path_imports_only_what_it_uses(executor_dind, frontend):
    resource_list = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" + "".join(
        ("- " if i == 0 else "  ") + line for i, line in enumerate(frontend.read_text().splitlines(True))
    )
    modules = _imported(executor_dind, [], resource_list)
    assert {"executor_dind.function", "executor_dind.audit", "json"} <= modules
    # Each of these costs milliseconds of a ~45 ms budget (see docs/evidence-performance.md); typing alone is ~6 ms.
    unwanted = {"argparse", "dataclasses", "hashlib", "pathlib", "difflib", "ipaddress", "typing", "urllib.parse"}
    assert not (unwanted | {"ruamel.yaml"} | ONLY_WHEN_NEEDED) & modules


# Imported only by a run that needs them: importlib (and its warnings) by none of the commands, the daemon.json
# key table by a config that sets keys, KEDA's ScaledObject by a queue that autoscales, its ScaledJob by a queue of one
# pod per job.
ONLY_WHEN_NEEDED = {
    "importlib",
    "warnings",
    "executor_dind.daemon_keys",
    "executor_dind.autoscaling",
    "executor_dind.scaledjob",
}


def test_the_modules_left_out_are_imported_when_a_run_needs_them(executor_dind, frontend, tmp_path):
    """Positive control for ONLY_WHEN_NEEDED: a config that sets daemon.json keys, autoscales a queue and runs one
    pod per job for another loads the three."""
    import sys

    needing = tmp_path / "needing.yaml"
    needing.write_text(
        CONFIG.format(profile="baseline")
        + "  docker: {daemonConfig: {debug: true}}\n"
        + "  queues:\n"
        + "    - {name: batches, autoscaling: {maxReplicas: 3, prometheus: 'http://prometheus.monitoring:9090'}}\n"
        + "    - {name: codeintel, isolation: job, autoscaling: {maxReplicas: 3, prometheus: 'http://prometheus.monitoring:9090'}}\n"
    )
    result = run([sys.executable, "-X", "importtime", executor_dind, "render", "--config", str(needing), str(frontend)])
    assert result.returncode == 0, result.stderr
    assert "kind: ScaledObject" in result.stdout and "kind: ScaledJob" in result.stdout
    assert '"debug": true' in result.stdout
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert {"executor_dind.daemon_keys", "executor_dind.autoscaling", "executor_dind.scaledjob"} <= modules


def test_render_imports_neither_argparse_nor_pathlib_nor_what_they_would_pull_in(executor_dind, config, frontend):
    modules = _imported(executor_dind, ["render", "--config", str(config()), str(frontend)])
    assert "executor_dind.function" in modules
    unwanted = {"argparse", "gettext", "shutil", "bz2", "lzma", "pathlib", "urllib.parse", "ipaddress", "typing"}
    assert not (unwanted | {"ruamel.yaml"} | ONLY_WHEN_NEEDED) & modules


def test_other_render_forms_go_through_argparse_without_shutil(executor_dind, config, frontend):
    modules = _imported(executor_dind, ["render", f"--config={config()}", str(frontend)])
    assert {"argparse", "executor_dind.function"} <= modules
    assert not {"shutil", "bz2", "lzma", "pathlib", "typing"} & modules


AGREEMENT_CASES = {
    "clean": ("", 0),
    "upstream-component": ("upstream", 1),
    "pod-security-without-a-namespace": ("podsecurity", 1),
    "bad-config": ("bad", 1),
}


@pytest.mark.parametrize("case", AGREEMENT_CASES)
def test_explain_and_render_give_the_same_verdict(executor_dind, config, frontend, tmp_path, case):
    from unit.conftest import HAND_WRITTEN_UPSTREAM

    what, expected = AGREEMENT_CASES[case]
    paths = [str(frontend)]
    path = config("recommended")
    if what == "upstream":
        (tmp_path / "upstream.yaml").write_text(HAND_WRITTEN_UPSTREAM)
        paths.append(str(tmp_path / "upstream.yaml"))
    elif what == "podsecurity":
        path.write_text(CONFIG.format(profile="strict"))
    elif what == "bad":
        path.write_text(CONFIG.format(profile="strct"))
    rendered = run([executor_dind, "render", "--config", str(path), *paths])
    explained = run([executor_dind, "explain", "--config", str(path), *paths])
    assert (rendered.returncode, explained.returncode) == (expected, expected), (rendered.stderr, explained.stderr)
    if what == "bad":
        # the config file is refused before anything is rendered, by both, naming the file and the field
        line = (
            f"error ExecutorDind/-/executors: invalid functionConfig in {path}: spec.hardening.profile: must be one "
            "of baseline, recommended, strict, got 'strct' (did you mean 'strict'?)"
        )
        assert rendered.stderr.splitlines() == [line, f"executor-dind: {line}"]
        assert explained.stderr.splitlines() == [line]
        assert explained.stdout == rendered.stdout == ""
    elif expected:
        # explain prints the same result lines render does, without render's closing summary line
        assert explained.stderr.splitlines() == rendered.stderr.splitlines()[:-1]
        assert explained.stdout == rendered.stdout == ""


def test_render_refuses_a_kustomization_directory_and_says_what_to_run(executor_dind, config, tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    result = run([executor_dind, "render", "--config", str(config()), str(tmp_path)])
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"executor-dind: {tmp_path} is a kustomization (kustomization.yaml): render reads manifests, not "
        f"kustomizations; build it first: kustomize build {tmp_path} | executor-dind render --config CFG -\n"
    )


def test_render_of_a_directory_skips_the_config_dot_directories_and_non_objects_saying_so(
    executor_dind, frontend, tmp_path
):
    directory = tmp_path / "manifests"
    directory.mkdir()
    (directory / "frontend.yaml").write_text(frontend.read_text())
    (directory / "executor-dind.yaml").write_text(CONFIG.format(profile="baseline"))
    (directory / "executor-dind.schema.json").write_text('{"type": "object"}')
    (directory / ".github").mkdir()
    (directory / ".github" / "ci.yaml").write_text("on: push\n")
    result = run([executor_dind, "render", "--config", str(directory / "executor-dind.yaml"), str(directory)])
    assert result.returncode == 0, result.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.stdout)]
    assert kinds[0] == "Service" and "ExecutorDind" not in kinds
    assert result.stderr.splitlines()[0] == (
        f"executor-dind: warning {directory / 'executor-dind.schema.json'}: skipped 1 document(s) that are not "
        "Kubernetes objects (no apiVersion or kind)"
    )


@pytest.mark.parametrize("command", ["render", "explain", "audit"])
def test_every_problem_of_unreadable_manifests_is_one_stderr_line(executor_dind, config, tmp_path, command):
    manifests = tmp_path / "list.yaml"
    manifests.write_text("apiVersion: v1\nkind: List\nitems:\n- just a string\n- {kind: A}\n- [1]\n")
    argv = [command, str(manifests)] if command == "audit" else [command, "--config", str(config()), str(manifests)]
    result = run([executor_dind, *argv])
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"executor-dind: {manifests}: document 1 (List): items[0] is not an object (got the scalar 'just a string'): "
        "each item must be a Kubernetes object\n"
        f"executor-dind: {manifests}: document 1 (List): items[2] is not an object (got a list): each item must be a "
        "Kubernetes object\n"
    )


@pytest.mark.parametrize(
    ("command", "kind", "name"),
    [
        ("render", "Service", "sourcegraph-frontend"),
        ("explain", "Service", "sourcegraph-frontend"),
        ("audit", "Deployment", "d"),
    ],
)
def test_an_object_that_must_be_read_but_cannot_be_built_is_one_stderr_line(
    executor_dind, config, tmp_path, command, kind, name
):
    """The frontend Service for render and explain (discovery reads it), a workload for the audit; a list as a key
    is YAML (kubectl's decoder refuses it too) but no Python object."""
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec: {{[a]: 1}}\n")
    argv = [command, str(manifests)] if command == "audit" else [command, "--config", str(config()), str(manifests)]
    result = run([executor_dind, *argv])
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"executor-dind: {manifests}: document 1 ({kind}/{name}): cannot read the value at line 4, column 8: found "
        "unhashable key\n"
    )


def test_the_validator_echoes_a_workload_nobody_can_build_with_the_result(executor_dind):
    given = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- kind: Deployment\n  spec: {[a]: 1}\n"
    result = run([executor_dind, "audit"], input=given)
    message = (
        "stdin: ResourceList.items[0] (Deployment/(no name)): cannot read the value at line 5, column 10: found "
        "unhashable key"
    )
    assert result.returncode == 1
    quoted = message.replace("'", "''")
    assert result.stdout == f"results:\n- message: '{quoted}'\n  severity: error\n{given}"
    assert result.stderr == f"executor-dind: error: {message}\n"


def test_a_reader_that_goes_away_ends_the_command_quietly(executor_dind, tmp_path):
    """`executor-dind audit big.yaml | head`: head closes the pipe; the command stops with SIGPIPE's status and
    nothing on stderr, as cat does (it used to print "internal error: BrokenPipeError")."""
    import subprocess

    config, frontend = tmp_path / "executor-dind.yaml", tmp_path / "frontend.yaml"
    config.write_text(CONFIG.format(profile="recommended"))
    frontend.write_text(FRONTEND)
    rendered = run([executor_dind, "render", "--config", str(config), str(frontend)])
    assert rendered.returncode == 0, rendered.stderr
    stream = tmp_path / "executors.yaml"  # the render in 200 namespaces: a warning or more each
    stream.write_text(
        "---\n".join(rendered.stdout.replace("namespace: sourcegraph\n", f"namespace: ns{i}\n") for i in range(200))
    )
    whole = run([executor_dind, "audit", str(stream)])  # the control: read to the end, the output is large
    assert (len(whole.stdout) > 1 << 17, whole.stderr) == (True, ""), len(whole.stdout)
    process = subprocess.Popen([executor_dind, "audit", str(stream)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.read(10)
    process.stdout.close()
    assert (process.wait(timeout=300), process.stderr.read()) == (141, b"")
