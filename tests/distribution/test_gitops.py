"""GitOps: Argo CD's Config Management Plugin run exactly as Argo CD's cmp-server runs it (the command and args of
plugin.yaml, in the Application's directory, with Argo CD's build environment), the repo-server sidecar patch,
and the Flux render-and-audit recipe as a script; all with the wheel installed alone, on the upstream base."""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, find_tool, run
from distribution.conftest import Installed, source_version

pytestmark = pytest.mark.integration

ARGOCD = ROOT / "deploy" / "argocd"
FLUX_RECIPE = ROOT / "deploy" / "flux" / "render-and-audit.sh"
APP_PATH = "instances/executors"
REVISION = "f913b6cbf58aa5ae5ca1f8a2b149477aebcbd9d8"
# What cmp-server adds to the sidecar's environment (docs: user-guide/build-environment.md, and the
# Application's plugin env prefixed ARGOCD_ENV_).
BUILD_ENV = {
    "ARGOCD_APP_NAME": "executors",
    "ARGOCD_APP_NAMESPACE": "ns-sourcegraph",
    "ARGOCD_APP_PROJECT_NAME": "default",
    "ARGOCD_APP_REVISION": REVISION,
    "ARGOCD_APP_REVISION_SHORT": REVISION[:7],
    "ARGOCD_APP_REVISION_SHORT_8": REVISION[:8],
    "ARGOCD_APP_SOURCE_PATH": APP_PATH,
    "ARGOCD_APP_SOURCE_REPO_URL": "https://git.invalid/deploy-sourcegraph-k8s.git",
    "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
    "KUBE_VERSION": "1.33.0",
    "KUBE_API_VERSIONS": "v1,apps/v1,networking.k8s.io/v1",
    "ARGOCD_ENV_TEAM": "platform",
}


def kustomize_version() -> str:
    line = next(line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("KUSTOMIZE_VERSION"))
    return line.split(":=")[1].strip()


@pytest.fixture
def repo(upstream: Path, installed: Installed, tmp_path: Path) -> Path:
    """The Git repository as the sidecar receives it (preserveFileMode: false): the upstream base plus the
    overlay `executor-dind init` scaffolds, its password file written."""
    repo = tmp_path / "repo"
    shutil.copytree(upstream, repo)
    scaffolded = run([installed.executor_dind, "init"], cwd=repo, env=installed.env)
    assert scaffolded.returncode == 0, scaffolded.stderr
    (repo / APP_PATH / "executor-password.txt").write_text("not-a-real-token")
    for path in repo.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return repo


def sidecar_env(installed: Installed, kustomize: str, tmp_path: Path) -> dict[str, str]:
    """The sidecar's environment: the PATH of repo-server-patch.yaml with each directory mapped to where this
    machine has what the image has there, HOME and TMPDIR of its own, and Argo CD's build environment."""
    patch = yaml.safe_load((ARGOCD / "repo-server-patch.yaml").read_text())
    (sidecar,) = patch["spec"]["template"]["spec"]["containers"]
    (path,) = [e["value"] for e in sidecar["env"] if e["name"] == "PATH"]
    image_dirs = {
        "/executor-dind-tools": str(Path(kustomize).parent),  # the init container's copy of kustomize
        "/usr/local/bin": str(installed.venv / "bin"),  # where the image's pip put executor-dind
        "/usr/bin": "/usr/bin",
        "/bin": "/bin",
    }
    assert path.split(":") == list(image_dirs)
    home = tmp_path / "home"
    home.mkdir()
    tmp = tmp_path / "sidecar-tmp"
    tmp.mkdir()
    return {"PATH": ":".join(image_dirs.values()), "HOME": str(home), "TMPDIR": str(tmp), **BUILD_ENV}


def cmp_generate(app_dir: Path, env: dict[str, str]):
    """What cmp-server does for a manifest request: discover, then init (when set) and generate, each as
    exec(command[0], command[1:] + args) with cmd.Dir = the app's directory and the environment above."""
    spec = yaml.safe_load((ARGOCD / "plugin.yaml").read_text())["spec"]
    assert glob.glob(spec["discover"]["fileName"], root_dir=app_dir), "discover does not match the app"
    if "init" in spec:
        initialised = run(spec["init"]["command"] + spec["init"].get("args", []), cwd=app_dir, env=env)
        assert initialised.returncode == 0, initialised.stderr
    return run(spec["generate"]["command"] + spec["generate"].get("args", []), cwd=app_dir, env=env)


def test_plugin_generate_renders_the_executors_and_equals_exec_mode(repo, installed, kustomize, tmp_path):
    env = sidecar_env(installed, kustomize, tmp_path)
    generated = cmp_generate(repo / APP_PATH, env)
    assert generated.returncode == 0, generated.stderr
    objects = [doc for doc in yaml.safe_load_all(generated.stdout) if doc]
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {
        ("Deployment", "executor-all"),
        ("NetworkPolicy", "executor-dind-executors"),
        ("StatefulSet", "executor-dind-registry"),
        ("ServiceAccount", "executor-dind"),
        ("ConfigMap", "executor-dind-docker"),
    } <= names
    assert ("Deployment", "sourcegraph-frontend") in names
    # Exec mode: the same kustomize and function outside the plugin give the same manifests.
    exec_mode = run(
        [kustomize, "build", "--enable-alpha-plugins", "--enable-exec", APP_PATH], cwd=repo, env=installed.env
    )
    assert exec_mode.returncode == 0, exec_mode.stderr
    assert generated.stdout == exec_mode.stdout
    # The audit ran on it and passed: its findings (warnings only) are what the sync shows.
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(exec_mode.stdout)
    audited = run([installed.executor_dind, "audit", str(rendered)], env=installed.env)
    assert audited.returncode == 0, audited.stdout
    assert generated.stderr.endswith(audited.stdout + audited.stderr)
    assert os.listdir(env["TMPDIR"]) == []  # the render's temporary file is gone


def upstream_component_instead(repo: Path) -> tuple[Path, str]:
    """The app renders upstream's dind component instead of the function (which the audit fails); its namespace."""
    app = repo / APP_PATH
    kustomization = yaml.safe_load((app / "kustomization.yaml").read_text())
    kustomization["transformers"] = []
    kustomization.setdefault("components", []).append("../../components/executors/dind")
    (app / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return app, kustomization["namespace"]


def test_plugin_generate_fails_closed_on_an_audit_error(repo, installed, kustomize, tmp_path):
    """An app whose render fails the audit (upstream's own dind component, no function): no manifests."""
    app, namespace = upstream_component_instead(repo)
    generated = cmp_generate(app, sidecar_env(installed, kustomize, tmp_path))
    assert generated.returncode == 1
    assert generated.stdout == ""
    assert f"error EXD001 Deployment/{namespace}/executor " in generated.stderr


def test_repo_server_patch_adds_the_sidecar_as_argo_cd_requires(kustomize, tmp_path):
    """The Component over a stand-in argocd-repo-server (only what the patch relies on: its var-files and plugins
    volumes): the sidecar runs argocd-cmp-server as uid 999 with plugin.yaml mounted, kustomize pinned to the
    tests' version, the image to this version; every object passes kubernetes-validate --strict."""
    install = tmp_path / "argocd"
    install.mkdir()
    repo_server = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "argocd-repo-server"},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "argocd-repo-server"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "argocd-repo-server"}},
                "spec": {
                    "containers": [{"name": "argocd-repo-server", "image": "quay.io/argoproj/argocd:v3.1.0"}],
                    "volumes": [{"name": "var-files", "emptyDir": {}}, {"name": "plugins", "emptyDir": {}}],
                },
            },
        },
    }
    (install / "repo-server.yaml").write_text(yaml.safe_dump(repo_server))
    (install / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "namespace": "argocd",
                "resources": ["repo-server.yaml"],
                "components": [os.path.relpath(ARGOCD, install)],
            }
        )
    )
    built = run([kustomize, "build", str(install)])
    assert built.returncode == 0, built.stderr
    objects = {o["kind"]: o for o in yaml.safe_load_all(built.stdout) if o}
    assert sorted(objects) == ["ConfigMap", "Deployment"]
    config_map = objects["ConfigMap"]
    assert config_map["data"] == {"plugin.yaml": (ARGOCD / "plugin.yaml").read_text()}
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["image"] == f"registry.k8s.io/kustomize/kustomize:{kustomize_version()}"
    # a strategic merge patch puts the new container first
    assert [c["name"] for c in pod["containers"]] == ["executor-dind", "argocd-repo-server"]
    sidecar = pod["containers"][0]
    assert sidecar["image"] == f"localhost/executor-dind:{source_version()}"
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert (sidecar["securityContext"]["runAsUser"], sidecar["securityContext"]["runAsNonRoot"]) == (999, True)
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    assert mounts["/home/argocd/cmp-server/config/plugin.yaml"]["subPath"] == "plugin.yaml"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert (
        volumes[mounts["/home/argocd/cmp-server/config/plugin.yaml"]["name"]]["configMap"]["name"]
        == (config_map["metadata"]["name"])
    )
    assert re.fullmatch(r"executor-dind-cmp-[a-z0-9]{10}", config_map["metadata"]["name"])
    assert {mounts[p]["name"] for p in ("/var/run/argocd", "/home/argocd/cmp-server/plugins", "/tmp")} == {
        "var-files",
        "plugins",
        "executor-dind-tmp",
    }
    (install / "built.yaml").write_text(built.stdout)
    validated = run([find_tool("kubernetes-validate"), "--strict", str(install / "built.yaml")])
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert validated.stdout.count("passed for resource") == 2, validated.stdout


# ---- Flux: render and audit in CI, Flux applies the file -----------------------------------------------------


def flux_env(installed: Installed, kustomize: str) -> dict[str, str]:
    return {**installed.env, "KUSTOMIZE": kustomize}


def without_secret_generator(repo: Path) -> None:
    """The app as the Flux route wants it: the password Secret made in the cluster, not generated into git."""
    app = repo / APP_PATH
    kustomization = yaml.safe_load((app / "kustomization.yaml").read_text())
    assert [g["name"] for g in kustomization.pop("secretGenerator")] == ["executor-secret"]
    (app / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))


def test_flux_recipe_never_commits_a_secret(repo, installed, kustomize, tmp_path):
    output = tmp_path / "executors.yaml"
    output.write_text("# the last good render\n")
    refused = run(["sh", str(FLUX_RECIPE), APP_PATH, str(output)], cwd=repo, env=flux_env(installed, kustomize))
    assert (refused.returncode, refused.stdout) == (1, "")
    built = run([kustomize, "build", "--enable-alpha-plugins", "--enable-exec", APP_PATH], cwd=repo, env=installed.env)
    (secret,) = [d["metadata"]["name"] for d in yaml.safe_load_all(built.stdout) if d["kind"] == "Secret"]
    assert refused.stderr == (
        f"{FLUX_RECIPE}: the render of {APP_PATH} holds Secret(s) {secret} and would put them in git in plain text: "
        "remove the overlay's secretGenerator and create the Secret in the cluster (kubectl -n NAMESPACE create "
        "secret generic executor-secret --from-file=password=FILE), or commit it encrypted (SOPS, which Flux "
        f"decrypts with spec.decryption); {output} is left as it was\n"
    )
    assert output.read_text() == "# the last good render\n"
    # Positive control: without the generator the same recipe writes the render, and the audit says to check it.
    without_secret_generator(repo)
    done = run(["sh", str(FLUX_RECIPE), APP_PATH, str(output)], cwd=repo, env=flux_env(installed, kustomize))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kind: Secret" not in output.read_text() and "warning EXD014 " in done.stdout


def test_flux_recipe_writes_the_audited_render(repo, installed, kustomize, tmp_path):
    without_secret_generator(repo)
    output = tmp_path / "clusters" / "executors.yaml"
    output.parent.mkdir()
    done = run(["sh", str(FLUX_RECIPE), APP_PATH, str(output)], cwd=repo, env=flux_env(installed, kustomize))
    assert done.returncode == 0, done.stdout + done.stderr
    exec_mode = run(
        [kustomize, "build", "--enable-alpha-plugins", "--enable-exec", APP_PATH], cwd=repo, env=installed.env
    )
    assert output.read_text() == exec_mode.stdout
    assert sorted(p.name for p in output.parent.iterdir()) == ["executors.yaml"]
    assert all(line.startswith(("warning ", "info ")) for line in done.stdout.splitlines()), done.stdout


def test_flux_recipe_keeps_the_last_good_render_on_an_audit_error(repo, installed, kustomize, tmp_path):
    without_secret_generator(repo)
    _, namespace = upstream_component_instead(repo)
    output = tmp_path / "executors.yaml"
    output.write_text("# the last good render\n")
    failed = run(["sh", str(FLUX_RECIPE), APP_PATH, str(output)], cwd=repo, env=flux_env(installed, kustomize))
    assert failed.returncode == 1
    assert f"error EXD001 Deployment/{namespace}/executor " in failed.stdout
    assert output.read_text() == "# the last good render\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("executors")) == ["executors.yaml"]


def test_flux_recipe_refuses_kubectl_kustomize(repo, installed, tmp_path):
    """kubectl's kustomize would drop the function silently: the recipe wants a standalone v5."""
    output = tmp_path / "executors.yaml"
    env = {**installed.env, "KUSTOMIZE": "kubectl"}
    refused = run(["sh", str(FLUX_RECIPE), APP_PATH, str(output)], cwd=repo, env=env)
    assert refused.returncode == 2
    assert (
        refused.stderr == f"{FLUX_RECIPE}: kubectl is not a standalone kustomize v5 (kubectl's has no --enable-exec)\n"
    )
    assert not output.exists()
