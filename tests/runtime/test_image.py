"""`make image`'s script: the rootfs tarball and the `docker load` archive around it, and the KRM function run
inside that root filesystem without dockerd (unshare: own mount, PID and network namespaces; chroot as the
image's user), with the same output as this checkout's install. Root (the runtime tier's `root` fixture)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run
from distribution.conftest import dist, source_version  # noqa: F401 (dist: the fixture)

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
        (manifest,) = json.load(archive.extractfile("manifest.json"))
        config = json.load(archive.extractfile(manifest["Config"]))
    assert manifest["RepoTags"] == [f"executor-dind:{source_version()}"]
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
