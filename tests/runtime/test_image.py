"""`make image`'s script: the rootfs tarball and the `docker load` archive around it; the KRM function run
inside that root filesystem without dockerd (unshare: own mount, PID and network namespaces; chroot as the
image's user), with the same output as this checkout's install; and the images loaded into a real dockerd
(Debian's, in a network namespace of ours, on a unix socket) and run by the real kpt, `kpt fn eval --image` and
a Kptfile pipeline of images, with the same package as exec mode. Root (the runtime tier's `root` fixture)."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run
from distribution.conftest import dist, source_version  # noqa: F401 (dist: the fixture)
from integration.util import snapshot, upstream_dind_package, write_kptfile
from runtime.harness import in_netns, wait_for

DEMO_BASE = ROOT / "overlays" / "demo" / "base"
CONFIG = ROOT / "overlays" / "krm-exec" / "executor-dind.yaml"
# What the trimmed image weighs (rootfs.tar): the test fails when it grows past this.
MAX_ROOTFS_BYTES = 120 * 1024 * 1024


@pytest.fixture(scope="module")
def image(root, dist, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("image")
    built = run(["sh", str(ROOT / "tools" / "image" / "build.sh"), str(dist.wheel), str(out)], timeout=1800)
    assert built.returncode == 0, built.stdout + built.stderr
    assert built.stdout.splitlines()[-1] == str(out / f"executor-dind-{source_version()}.docker.tar")
    rootfs = out / "extracted"
    with tarfile.open(out / "rootfs.tar") as tar:
        tar.extractall(rootfs, numeric_owner=True, filter="fully_trusted")
    return out, rootfs


def inside(rootfs: Path, *argv: str, stdin: str = "") -> object:
    """The image's entrypoint environment: no network, own PID and mount namespaces, uid 65532, a bare env."""
    return run(
        [
            "unshare",
            "--mount",
            "--pid",
            "--net",
            "--fork",
            "chroot",
            "--userspec=65532:65532",
            str(rootfs),
            "/usr/bin/env",
            "-i",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            *argv,
        ],
        input=stdin,
    )


def test_archive_holds_the_config_and_one_layer(image):
    out, _ = image
    with tarfile.open(out / f"executor-dind-{source_version()}.docker.tar") as archive:
        manifest, audit = json.load(archive.extractfile("manifest.json"))
        config = json.load(archive.extractfile(manifest["Config"]))
        audit_config = json.load(archive.extractfile(audit["Config"]))
    assert audit["RepoTags"] == [f"localhost/executor-dind-audit:{source_version()}"]
    assert audit["Layers"] == manifest["Layers"]  # one layer, two entrypoints
    assert audit_config["config"]["Entrypoint"] == ["/usr/local/bin/executor-dind", "audit"]
    assert manifest["RepoTags"] == [f"localhost/executor-dind:{source_version()}"]
    assert len(manifest["Layers"]) == 1
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/executor-dind"]
    labels = config["config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == source_version()
    assert labels["org.opencontainers.image.base.name"].startswith("debian:bookworm (debootstrap --variant=minbase")
    size = (out / "rootfs.tar").stat().st_size
    assert size <= MAX_ROOTFS_BYTES, f"rootfs.tar is {size / 2**20:.1f} MiB"


def test_pyyaml_has_the_c_loader_and_the_user_is_not_root(image):
    _, rootfs = image
    probe = inside(rootfs, "python3", "-c", "import os, yaml; print(yaml.__with_libyaml__, os.getuid())")
    assert (probe.returncode, probe.stdout) == (0, "True 65532\n"), probe.stderr


def test_the_krm_function_inside_the_image_equals_this_checkouts(image, executor_dind, kustomize):
    _, rootfs = image
    base = run([kustomize, "build", str(DEMO_BASE)])
    assert base.returncode == 0, base.stderr
    items = [doc for doc in yaml.safe_load_all(base.stdout) if doc]
    given = yaml.safe_dump(
        {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": items,
            "functionConfig": yaml.safe_load(CONFIG.read_text()),
        }
    )
    ours = inside(rootfs, "/usr/local/bin/executor-dind", stdin=given)
    dev = run([executor_dind], input=given)
    assert ours.returncode == 0, ours.stderr
    assert (ours.stdout, ours.stderr) == (dev.stdout, dev.stderr)
    assert "name: executor-all\n" in ours.stdout
    schema = inside(rootfs, "/usr/local/bin/executor-dind", "schema")
    assert schema.stdout == run([executor_dind, "schema"]).stdout


# --- the images under dockerd, run by kpt ---------------------------------------------------------------------

IMAGE = f"localhost/executor-dind:{source_version()}"
AUDIT_IMAGE = f"localhost/executor-dind-audit:{source_version()}"
# The upstream base's objects have no namespace: strict's own namespace, and the frontend's FQDN, are given.
FRONTEND = "http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080"
EVAL_ARGS = ["--", "hardening.profile=strict", "namespace=executors", f"frontend.url={FRONTEND}"]


@pytest.fixture(scope="module")
def docker_env(image, janitor, tmp_path_factory):
    """Debian's dockerd with both images loaded (`docker load` of make image's archive), for the docker CLI kpt
    runs: DOCKER_HOST is its unix socket. Jobs run with `--network none` (kpt's own flag): no bridge, no iptables."""
    out, _ = image
    directory = tmp_path_factory.mktemp("image-dockerd")
    socket = directory / "docker.sock"
    netns = janitor.netns("img")
    argv = [
        "/usr/sbin/dockerd",
        f"--host=unix://{socket}",
        f"--data-root={directory / 'data'}",
        f"--exec-root={directory / 'exec'}",
        f"--pidfile={directory / 'dockerd.pid'}",
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
    ]
    proc = janitor.start("image-dockerd", in_netns(netns, argv), directory / "dockerd.log")
    # Debian's docker CLI, the daemon's own version, first on the PATH kpt looks `docker` up in.
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket}", "PATH": f"/usr/bin:{os.environ['PATH']}"}

    def answers() -> bool:
        assert proc.alive(), f"dockerd exited:\n{proc.output()[-3000:]}"
        return run(["docker", "version", "--format", "{{.Server.Version}}"], env=env).returncode == 0

    wait_for("the image dockerd", answers, timeout=60)
    loaded = run(["docker", "load", "-i", str(out / f"executor-dind-{source_version()}.docker.tar")], env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines() == [f"Loaded image: {IMAGE}", f"Loaded image: {AUDIT_IMAGE}"]
    yield env
    janitor.stop(proc)


@pytest.fixture
def upstream_package(upstream, tmp_path) -> Path:
    package = tmp_path / "upstream"
    shutil.copytree(upstream / "base" / "sourcegraph", package)
    return package


def copies(package: Path, *names: str) -> list[Path]:
    targets = [package.parent / name for name in names]
    for target in targets:
        shutil.copytree(package, target)
    return targets


def test_kpt_fn_eval_with_the_image_equals_exec_mode(docker_env, kpt, executor_dind, upstream_package):
    """`kpt fn eval --image ... --image-pull-policy never` on the upstream base: the same package as `--exec`."""
    by_image, by_exec = copies(upstream_package, "by-image", "by-exec")
    image = run(
        [kpt, "fn", "eval", str(by_image), "--image", IMAGE, "--image-pull-policy", "never", *EVAL_ARGS],
        env=docker_env,
    )
    assert image.returncode == 0, image.stderr
    exec_mode = run([kpt, "fn", "eval", str(by_exec), "--exec", executor_dind, *EVAL_ARGS], env=docker_env)
    assert exec_mode.returncode == 0, exec_mode.stderr
    rendered = snapshot(by_image)
    assert rendered == snapshot(by_exec)
    assert rendered != snapshot(upstream_package)
    owned = sorted(path for path in rendered if path.startswith("executor-dind/"))
    assert "executor-dind/deployment-executor-all.yaml" in owned
    assert "executor-dind/namespace-executors.yaml" in owned
    assert "runtimeClassName: gvisor" in rendered["executor-dind/deployment-executor-all.yaml"].decode()


def kptfile(package: Path, step: str, mutator: str, validator: str) -> None:
    config = {
        "apiVersion": "executor-dind.dev/v1alpha1",
        "kind": "ExecutorDind",
        "metadata": {"name": "executors", "annotations": {"config.kubernetes.io/local-config": "true"}},
        "spec": {"hardening": {"profile": "recommended"}},
    }
    (package / "executor-dind.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    pipeline = {"mutators": [{step: mutator, "configPath": "executor-dind.yaml"}], "validators": [{step: validator}]}
    write_kptfile(package, "executors", pipeline)


def test_kptfile_pipeline_of_images_equals_exec_mode(docker_env, kpt, executor_dind, upstream_package):
    """A Kptfile whose mutator and validator are the images: `kpt fn render` gives the exec pipeline's package."""
    by_image, by_exec = copies(upstream_package, "pipeline-image", "pipeline-exec")
    kptfile(by_image, "image", IMAGE, AUDIT_IMAGE)
    kptfile(by_exec, "exec", executor_dind, f"{executor_dind} audit")
    image = run([kpt, "fn", "render", str(by_image), "--image-pull-policy", "never"], env=docker_env)
    assert image.returncode == 0, image.stderr
    assert f'[PASS] "{AUDIT_IMAGE}"' in image.stderr
    exec_mode = run([kpt, "fn", "render", str(by_exec), "--allow-exec"], env=docker_env)
    assert exec_mode.returncode == 0, exec_mode.stderr
    rendered, expected = snapshot(by_image), snapshot(by_exec)
    assert {path: data for path, data in rendered.items() if path != "Kptfile"} == {
        path: data for path, data in expected.items() if path != "Kptfile"
    }
    assert "executor-dind/networkpolicy-executor-dind-executors.yaml" in rendered


def test_the_audit_image_fails_the_pipeline_on_the_upstream_executors(docker_env, kpt, upstream, tmp_path):
    """The validator image is the audit: the upstream dind component (dockerd on 0.0.0.0) fails `kpt fn render`."""
    package = upstream_dind_package(upstream, tmp_path / "upstream-executors", {"validators": [{"image": AUDIT_IMAGE}]})
    before = snapshot(package)
    failed = run([kpt, "fn", "render", str(package), "--image-pull-policy", "never"], env=docker_env)
    assert failed.returncode == 1, failed.stderr
    assert "EXD001" in failed.stderr
    assert snapshot(package) == before
