"""Issue 23's defects, each on a copy of the real deploy-sourcegraph-k8s checkout with an instance made from
`instances/template` as a user makes one: what a newcomer runs, built by the real kustomize and kubectl, judged
by the audit."""

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run
from executor_dind import naming
from executor_dind.spec import DEFAULT_IMAGES

EXEC = ("--enable-alpha-plugins", "--enable-exec")
TOKEN = "a-real-token"
TEMPLATE_SECRET = """\
#   - name: executor-secret
#     behavior: create
#     literals:
#       - password=our-shared-secret
"""


@pytest.fixture
def mine(checkout: Path) -> Path:
    """instances/mine, copied from the template as upstream's instructions say."""
    instance = checkout / "instances" / "mine"
    instance.mkdir()
    for name in ("kustomization", "buildConfig"):
        shutil.copy(checkout / "instances/template" / f"{name}.template.yaml", instance / f"{name}.yaml")
    return instance


def uncomment(instance: Path, *blocks: str) -> str:
    """Uncomment template lines as a user does: the first `# ` of each line removed."""
    path = instance / "kustomization.yaml"
    text = path.read_text()
    for block in blocks:
        assert block in text, block
        lines = [line.replace("# ", "", 1) for line in block.splitlines(keepends=True)]
        text = text.replace(block, "".join(lines))
    path.write_text(text)
    return text


def with_template_secret(instance: Path, literal: str = "our-shared-secret") -> None:
    """The template's executor-secret generator enabled (its `secretGenerator:` line and the executor entry)."""
    uncomment(instance, "# secretGenerator:\n", TEMPLATE_SECRET)
    path = instance / "kustomization.yaml"
    path.write_text(path.read_text().replace("password=our-shared-secret", f"password={literal}"))


def docs(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def one(objs: list[dict], kind: str, prefix: str) -> dict:
    (found,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"].startswith(prefix)]
    return found


def password_of(objs: list[dict]) -> str:
    return base64.b64decode(one(objs, "Secret", "executor-secret-")["data"]["password"]).decode()


def audit_lines(executor_dind: str, text: str, tmp_path: Path) -> tuple[int, list[str]]:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(text)
    audited = run([executor_dind, "audit", str(rendered)])
    return audited.returncode, audited.stdout.splitlines()


# --- 1: init on an instance whose template generator is enabled -----------------------------------------------


def test_1_init_moves_the_templates_example_literal_to_the_password_file(executor_dind, checkout, mine, kustomize):
    with_template_secret(mine)
    result = run([executor_dind, "init", "--into", "instances/mine"], cwd=checkout)
    assert result.returncode == 0, result.stderr
    assert (
        "executor-dind: instances/mine/kustomization.yaml: secretGenerator executor-secret: its `password=` literal "
        "is no password; it now reads executor-password.txt (git-ignored): put executors.accessToken there\n"
    ) in result.stderr
    kustomization = yaml.safe_load((mine / "kustomization.yaml").read_text())
    assert kustomization["secretGenerator"] == [
        {"name": "executor-secret", "behavior": "create", "files": ["password=executor-password.txt"]}
    ]
    assert (mine / "executor-password.txt").read_text() == naming.PASSWORD_PLACEHOLDER + "\n"
    assert (mine / ".gitignore").read_text() == "executor-password.txt\n"
    refused = run([kustomize, "build", *EXEC, str(mine)])
    assert refused.returncode == 1 and refused.stdout == ""
    assert "still holds the placeholder `executor-dind init` wrote" in refused.stderr
    (mine / "executor-password.txt").write_text(TOKEN)
    built = run([kustomize, "build", *EXEC, str(mine)])
    assert built.returncode == 0, built.stderr
    assert password_of(docs(built.stdout)) == TOKEN
    code, lines = audit_lines(executor_dind, built.stdout, checkout)
    assert code == 0 and not [line for line in lines if "EXD013" in line or "EXD014" in line], lines


def test_1_the_function_refuses_the_templates_example_literal_kept(executor_dind, checkout, mine, kustomize):
    """Positive control of the above: the literal the template ships is refused by the function itself."""
    with_template_secret(mine)
    assert run([executor_dind, "init", "--into", "instances/mine"], cwd=checkout).returncode == 0
    path = mine / "kustomization.yaml"
    path.write_text(
        path.read_text().replace(
            "    files:\n      - password=executor-password.txt", "    literals:\n      - password=our-shared-secret"
        )
    )
    refused = run([kustomize, "build", *EXEC, str(mine)])
    assert refused.returncode == 1
    assert "is the example of deploy-sourcegraph-k8s's template (public)" in refused.stderr


def test_1_init_moves_a_users_own_literal_out_of_the_kustomization(executor_dind, checkout, mine, kustomize):
    with_template_secret(mine, literal="s3cret-token")
    dry = run([executor_dind, "init", "--into", "instances/mine", "--dry-run"], cwd=checkout)
    assert dry.returncode == 0, dry.stderr
    assert "s3cret-token" not in dry.stdout.replace("-      - password=s3cret-token\n", "")
    assert (
        "new file: instances/mine/executor-password.txt (the password moved out of the kustomization's " in dry.stdout
    )
    result = run([executor_dind, "init", "--into", "instances/mine"], cwd=checkout)
    assert result.returncode == 0, result.stderr
    assert "s3cret-token" not in (mine / "kustomization.yaml").read_text()
    assert (mine / "executor-password.txt").read_text() == "s3cret-token"
    built = run([kustomize, "build", *EXEC, str(mine)])
    assert built.returncode == 0, built.stderr
    assert password_of(docs(built.stdout)) == "s3cret-token"


# --- 2: the placeholder with plain components ------------------------------------------------------------------


def test_2_components_audit_refuses_the_placeholder_and_warns_without_a_secret(executor_dind, checkout, mine, kubectl):
    result = run([executor_dind, "init", "--into", "instances/mine", "--way", "components"], cwd=checkout)
    assert result.returncode == 0, result.stderr
    built = run([kubectl, "kustomize", str(mine)])
    assert built.returncode == 0, built.stderr  # plain components cannot refuse anything
    code, lines = audit_lines(executor_dind, built.stdout, checkout)
    assert code == 1
    name = one(docs(built.stdout), "Secret", "executor-secret-")["metadata"]["name"]
    assert [line for line in lines if "EXD013" in line] == [
        f"error EXD013 Secret/ns-sourcegraph/{name} data.password: the password of "
        f"Deployment/ns-sourcegraph/executor-all (Secret {name!r}, key 'password') still holds the placeholder "
        "`executor-dind init` wrote (in executor-password.txt): put the value of executors.accessToken from the site "
        "configuration there (bad-password)"
    ]

    (mine / "executor-password.txt").write_text(TOKEN)
    built = run([kubectl, "kustomize", str(mine)])
    code, lines = audit_lines(executor_dind, built.stdout, checkout)
    assert code == 0 and not [line for line in lines if "EXD013" in line or "EXD014" in line], lines

    # docs/ways-of-use.md's components example has no generator: the Secret is made elsewhere, which the audit
    # says it cannot see.
    text = (mine / "kustomization.yaml").read_text()
    generator = "secretGenerator:\n  - name: executor-secret\n    files:\n      - password=executor-password.txt\n"
    assert generator in text
    (mine / "kustomization.yaml").write_text(text.replace(generator, ""))
    built = run([kubectl, "kustomize", str(mine)])
    code, lines = audit_lines(executor_dind, built.stdout, checkout)
    assert [line for line in lines if "EXD014" in line] == [
        "warning EXD014 Deployment/ns-sourcegraph/executor-all "
        "spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef: the password Secret 'executor-secret' of "
        "Deployment/ns-sourcegraph/executor-all is not in the render, so its value is not checked: make sure it "
        "exists beside the executors with the value of executors.accessToken (kubectl -n ns-sourcegraph get secret "
        "executor-secret), or generate it in the overlay (password-not-rendered)"
    ]


# --- 3: the autoscaling component's Prometheus on the template's namespace -------------------------------------

REPLACEMENT = (
    (ROOT / "docs/autoscaling.md").read_text().split("<!-- used by tests: prometheus replacement -->\n```yaml\n")[1]
)
REPLACEMENT = REPLACEMENT.split("```")[0]


def test_3_autoscaling_component_elsewhere_fails_the_audit_until_the_documented_replacement(
    executor_dind, checkout, mine, kubectl
):
    assert run([executor_dind, "init", "--into", "instances/mine", "--way", "components"], cwd=checkout).returncode == 0
    written = run(
        [executor_dind, "components", "--write", "components", "--only", "executor-dind/autoscaling"], cwd=checkout
    )
    assert written.returncode == 0, written.stderr
    path = mine / "kustomization.yaml"
    text = path.read_text().replace(
        "  - ../../components/utils/endpoints #",
        "  - ../../components/executor-dind/autoscaling\n  - ../../components/utils/endpoints #",
    )
    path.write_text(text)
    (mine / "executor-password.txt").write_text(TOKEN)
    built = run([kubectl, "kustomize", str(mine)])
    assert built.returncode == 0, built.stderr
    scaled = one(docs(built.stdout), "ScaledObject", "executor-all")
    assert (
        scaled["spec"]["triggers"][0]["metadata"]["serverAddress"]
        == "http://prometheus.sourcegraph.svc.cluster.local:30090"
    )
    code, lines = audit_lines(executor_dind, built.stdout, checkout)
    assert code == 1
    assert [line.split(":")[0] for line in lines if "EXD015" in line] == [
        "error EXD015 ScaledObject/ns-sourcegraph/executor-all spec.triggers[0].metadata.serverAddress"
    ]

    path.write_text(text + REPLACEMENT)
    built = run([kubectl, "kustomize", str(mine)])
    assert built.returncode == 0, built.stderr
    scaled = one(docs(built.stdout), "ScaledObject", "executor-all")
    assert scaled["spec"]["triggers"][0]["metadata"]["serverAddress"] == (
        "http://prometheus.ns-sourcegraph.svc.cluster.local:30090"
    )
    code, lines = audit_lines(executor_dind, built.stdout, checkout)
    assert code == 0 and not [line for line in lines if "EXD015" in line], lines


# --- 4: migrate leaves upstream's commented patches list usable ------------------------------------------------

CONFIG_PATCH = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: executor-config
data:
  EXECUTOR_QUEUE_NAMES: "batches,codeintel"
"""
RESOURCES_PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sourcegraph-frontend
  annotations:
    patched-by: resources.yaml
"""


def test_4_after_migrate_a_template_patch_line_uncommented_is_a_patch(executor_dind, checkout, mine, kustomize):
    uncomment(
        mine,
        "  # - ../../components/executors/dind # ",
        "# patches:\n",
        "#   - path: patches/executor.ConfigMap.yaml\n",
    )
    (mine / "patches").mkdir()
    (mine / "patches/executor.ConfigMap.yaml").write_text(CONFIG_PATCH)
    (mine / "patches/resources.yaml").write_text(RESOURCES_PATCH)
    result = run([executor_dind, "migrate", "instances/mine"], cwd=checkout)
    assert result.returncode == 0, result.stderr
    (mine / "executor-password.txt").write_text(TOKEN)
    text = uncomment(mine, "#   - path: patches/resources.yaml\n")
    kustomization = yaml.safe_load(text)
    assert kustomization["transformers"] == ["executor-dind.yaml", "executor-dind-must-run.yaml"]
    assert kustomization["patches"] == [{"path": "patches/resources.yaml"}]
    built = run([kustomize, "build", *EXEC, str(mine)])
    assert built.returncode == 0, built.stderr
    frontend = one(docs(built.stdout), "Deployment", "sourcegraph-frontend")
    assert frontend["metadata"]["annotations"]["patched-by"] == "resources.yaml"
    assert one(docs(built.stdout), "Deployment", "executor-all")["metadata"]["namespace"] == "ns-sourcegraph"


# --- 5: strict with the executors' own namespace --------------------------------------------------------------


def test_5_strict_namespace_puts_the_generated_secret_beside_the_executors(executor_dind, checkout, mine, kustomize):
    result = run(
        [executor_dind, "init", "--into", "instances/mine", "--profile", "strict", "--namespace", "executors"],
        cwd=checkout,
    )
    assert result.returncode == 0, result.stderr
    assert "create secret" not in result.stderr
    (mine / "executor-password.txt").write_text(TOKEN)
    built = run([kustomize, "build", *EXEC, str(mine)])
    assert built.returncode == 0, built.stderr
    assert "is in namespace" not in built.stderr
    objs = docs(built.stdout)
    secret = one(objs, "Secret", "executor-secret-")
    deployment = one(objs, "Deployment", "executor-all")
    assert secret["metadata"]["namespace"] == deployment["metadata"]["namespace"] == "executors"
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["EXECUTOR_FRONTEND_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    assert password_of(objs) == TOKEN
    code, lines = audit_lines(executor_dind, built.stdout, checkout)
    assert code == 0 and not [line for line in lines if "EXD013" in line or "EXD014" in line], lines


# --- 6: audit on a kustomization directory --------------------------------------------------------------------


def test_6_audit_of_an_instance_directory_suggests_a_command_that_works(executor_dind, checkout, mine, kustomize):
    assert run([executor_dind, "init", "--into", "instances/mine"], cwd=checkout).returncode == 0
    (mine / "executor-password.txt").write_text(TOKEN)
    refused = run([executor_dind, "audit", "instances/mine"], cwd=checkout)
    assert (refused.returncode, refused.stdout) == (1, "")
    suggested = "kustomize build --enable-alpha-plugins --enable-exec instances/mine | executor-dind audit"
    assert refused.stderr == (
        "executor-dind: instances/mine is a kustomization (kustomization.yaml): audit reads manifests, not "
        f"kustomizations; build it first: {suggested}\n"
    )
    env = {"PATH": f"{Path(kustomize).parent}:{Path(executor_dind).parent}:/usr/bin:/bin"}
    ran = run(["bash", "-o", "pipefail", "-c", suggested], cwd=checkout, env=env)
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert not [line for line in ran.stdout.splitlines() if line.startswith("error")]


# --- 7: a build that does not run the function ---------------------------------------------------------------


def test_7_a_build_that_drops_the_function_fails_loudly(executor_dind, checkout, mine, kustomize, kubectl):
    assert run([executor_dind, "init", "--into", "instances/mine"], cwd=checkout).returncode == 0
    (mine / "executor-password.txt").write_text(TOKEN)
    dropped = "nothing selected by ServiceAccount.[noVer].[noGrp]/executor-dind.[noNs]:metadata.name"
    for command in (
        [kustomize, "build", "--enable-alpha-plugins", str(mine)],
        [kubectl, "kustomize", "--enable-alpha-plugins", str(mine)],
    ):
        failed = run(command)
        assert (failed.returncode, failed.stdout) == (1, ""), command
        assert dropped in failed.stderr, failed.stderr
    plain = run([kubectl, "kustomize", str(mine)])
    assert plain.returncode == 1 and "external plugins disabled" in plain.stderr
    built = run([kustomize, "build", *EXEC, str(mine)])
    assert built.returncode == 0, built.stderr
    assert one(docs(built.stdout), "ServiceAccount", "executor-dind")["metadata"]["namespace"] == "ns-sourcegraph"


# --- 8: migrate's --way -----------------------------------------------------------------------------------------


def test_8_migrate_help_names_only_the_ways_it_takes(executor_dind):
    helped = run([executor_dind, "migrate", "--help"], env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert helped.returncode == 0
    way = next(line for line in helped.stdout.splitlines() if line.strip().startswith("--way"))
    assert way.split(None, 2)[1:] == [
        "{krm,legacy}",
        "krm: the KRM function (kustomize build --enable-alpha-plugins --enable-exec); legacy: the exec plugin "
        "(kubectl kustomize --enable-alpha-plugins) (default: krm)",
    ]
    refused = run([executor_dind, "migrate", "instances/mine", "--way", "components"])
    assert refused.returncode == 2
    assert "argument --way: invalid choice: 'components' (choose from" in refused.stderr
    init_help = run([executor_dind, "init", "--help"], env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert "components: plain Kustomize Components" in " ".join(init_help.stdout.split())


# --- the first minutes ---------------------------------------------------------------------------------------


def test_every_option_says_what_it_does_and_its_default():
    import argparse

    from executor_dind.cli import parser

    top = parser()
    (commands,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    undocumented = []
    for name, command in commands.choices.items():
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            required = action.required or (not action.option_strings and action.nargs is None)
            said = action.help or ""
            if not said or not (required or "default" in said):
                undocumented.append(f"{name} {'/'.join(action.option_strings) or action.dest}: {said!r}")
    assert undocumented == []
    assert len(commands.choices) == 11  # the ten commands and help


def test_help_and_the_bare_command_print_usage(executor_dind):
    helped = run([executor_dind, "help"])
    assert (helped.returncode, helped.stderr) == (0, "")
    assert helped.stdout.startswith("usage: executor-dind [-h] [--version] COMMAND ...\n")
    for command in ("render", "audit", "init", "migrate", "help"):
        assert f"    {command} " in helped.stdout
    audit_help = run([executor_dind, "help", "audit"])
    assert audit_help.returncode == 0 and audit_help.stdout.startswith("usage: executor-dind audit ")
    unknown = run([executor_dind, "help", "nope"])
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert unknown.stderr.startswith("executor-dind: help: no command 'nope': choose among render, audit,")

    if shutil.which("script") is None:
        pytest.skip("script(1) not installed: no terminal to type the bare command in")
    # script(1) gives the command a terminal, as a person typing `executor-dind` has.
    bare = run(["script", "-qec", executor_dind, "/dev/null"], stdin=subprocess.DEVNULL)
    assert bare.returncode == 2
    text = bare.stdout.replace("\r\n", "\n")
    assert text.startswith("usage: executor-dind [-h] [--version] COMMAND ...\n")
    assert text.endswith(
        "executor-dind: no ResourceList on stdin: with no command it is a KRM function that kustomize or kpt runs; "
        "pick a command above (`executor-dind COMMAND --help`), or `executor-dind init --into instances/NAME`\n"
    )
    # Positive control: a ResourceList on stdin is still the KRM function.
    function = run([executor_dind], input="apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n")
    assert "kind: ResourceList" in function.stdout and "no ResourceList on stdin" not in function.stderr


def test_config_file_errors_name_the_file_the_object_and_the_field(executor_dind, tmp_path):
    config = tmp_path / "executor-dind.yaml"
    config.write_text(
        "apiVersion: executor-dind.dev/v1alpha1\nkind: ExecutorDind\nmetadata: {name: executors}\n"
        "spec:\n  hardening: {profile: paranoid}\n"
    )
    line = (
        f"error ExecutorDind/-/executors: invalid functionConfig in {config}: spec.hardening.profile: must be one of "
        "baseline, recommended, strict, got 'paranoid'"
    )
    # render and the legacy plugin close with their one-line summary, which repeats the only error
    for command, said in (
        (["render", "--config", str(config), "-"], [line, f"executor-dind: {line}"]),
        (["explain", "--config", str(config)], [line]),
        ([str(config)], [line, f"executor-dind: {line}"]),
    ):
        refused = run([executor_dind, *command], input="")
        assert (refused.returncode, refused.stdout, refused.stderr.splitlines()) == (1, "", said), command
    # Positive control: the same file with a valid profile renders.
    config.write_text(config.read_text().replace("paranoid", "baseline"))
    assert run([executor_dind, "explain", "--config", str(config)]).returncode == 0


# --- versions: the executors follow the instance's Sourcegraph ------------------------------------------------

UPGRADE = "images:\n  - name: index.docker.io/sourcegraph/frontend\n    newTag: 6.3.4\n"


def executor_images(text: str) -> dict[str, str]:
    pod = one(docs(text), "Deployment", "executor-all")["spec"]["template"]["spec"]
    return {c["name"]: c["image"] for c in pod["containers"] + pod.get("initContainers", [])}


def test_executor_images_follow_the_instances_frontend_and_warn_on_skew(executor_dind, checkout, mine, kustomize):
    assert run([executor_dind, "init", "--into", "instances/mine"], cwd=checkout).returncode == 0
    (mine / "executor-password.txt").write_text(TOKEN)
    same = run([kustomize, "build", *EXEC, str(mine)])
    assert same.returncode == 0, same.stderr
    # Positive control: the template's frontend is the tool's own version, so the pinned digests stay.
    assert executor_images(same.stdout) == {
        "executor": DEFAULT_IMAGES["executor"],
        "dind": DEFAULT_IMAGES["dind"],
        "docker-prune": DEFAULT_IMAGES["dind"],
    }
    kustomization = mine / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + UPGRADE)
    upgraded = run([kustomize, "build", *EXEC, str(mine)])
    assert upgraded.returncode == 0, upgraded.stderr
    assert one(docs(upgraded.stdout), "Deployment", "sourcegraph-frontend")["spec"]["template"]["spec"]["containers"][
        0
    ]["image"].startswith("index.docker.io/sourcegraph/frontend:6.3.4")
    assert executor_images(upgraded.stdout) == {
        "executor": "index.docker.io/sourcegraph/executor:6.3.4",
        "dind": "index.docker.io/sourcegraph/dind:6.3.4",
        "docker-prune": "index.docker.io/sourcegraph/dind:6.3.4",
    }
    # The warning, as `render` shows it (kustomize shows a function's warnings only when it fails).
    config = mine / "executor-dind.yaml"
    base = upgraded.stdout
    rendered = run([executor_dind, "render", "--config", str(config), "-"], input=base)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stderr.splitlines()[0] == (
        "executor-dind: warning: the executor and dind images follow the instance's Sourcegraph 6.3.4 (its frontend "
        "image), not executor-dind's pinned 6.2.1106: index.docker.io/sourcegraph/executor:6.3.4, "
        "index.docker.io/sourcegraph/dind:6.3.4; pin by digest in spec.images (`docker buildx imagetools inspect "
        "IMAGE` prints it)"
    )

    pinned = config.read_text() + "  images:\n    executor: index.docker.io/sourcegraph/executor:6.2.1106\n"
    config.write_text(pinned)
    skewed = run([executor_dind, "render", "--config", str(config), "-"], input=base)
    assert skewed.returncode == 0, skewed.stderr
    assert executor_images(skewed.stdout)["executor"] == "index.docker.io/sourcegraph/executor:6.2.1106"
    assert (
        "executor-dind: warning: version skew: spec.images.executor is 6.2.1106 "
        "(index.docker.io/sourcegraph/executor:6.2.1106) while the instance's Sourcegraph is 6.3.4 (its frontend "
        "image): executors must match the frontend; set spec.images.executor to the 6.3.4 image, or remove it to "
        "follow the instance"
    ) in skewed.stderr.splitlines()


def test_vendored_components_carry_their_version_and_init_says_when_stale(executor_dind, checkout, mine):
    from executor_dind import __version__

    assert run([executor_dind, "init", "--into", "instances/mine", "--way", "components"], cwd=checkout).returncode == 0
    vendored = checkout / "components/executor-dind/kustomization.yaml"
    header = f"# Generated by executor-dind {__version__} (`executor-dind components --write`)"
    assert vendored.read_text().startswith(header)
    again = run([executor_dind, "init", "--into", "instances/mine", "--way", "components"], cwd=checkout)
    assert again.returncode == 0, again.stderr  # positive control: current components need nothing
    vendored.write_text(vendored.read_text().replace(f"executor-dind {__version__} ", "executor-dind 0.0.1 ", 1))
    stale = run([executor_dind, "init", "--into", "instances/mine", "--way", "components"], cwd=checkout)
    assert (stale.returncode, stale.stdout) == (1, "")
    assert stale.stderr == (
        f"executor-dind: {vendored} already exist and differ from what init writes (components vendored by "
        f"executor-dind 0.0.1, stale: this is {__version__}): pass --force to replace them (the kustomization keeps "
        "everything else it holds)\n"
    )
    forced = run([executor_dind, "init", "--into", "instances/mine", "--way", "components", "--force"], cwd=checkout)
    assert forced.returncode == 0, forced.stderr
    assert vendored.read_text().startswith(header)
