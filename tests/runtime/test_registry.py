"""The private registry, started from the rendered StatefulSet (env, user, fsGroup, cache mount), as the mirror of
a dockerd started from the same render; the fake upstream is a plain registry on the pod's 127.0.0.1:5001.

The registry binary is distribution built from its Go module at the version of the rendered image's tag; its
config file is the image's default one (the render sets none, so the image's applies).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import missing
from runtime.dind import Dind, import_image, listening, start_dind
from runtime.harness import Janitor, Proc, built, find, in_netns, render, sh, wait_for

UPSTREAM = "127.0.0.1:5001"
# The default config of the registry:3 image (/etc/distribution/config.yml), minus nothing.
IMAGE_CONFIG = """version: 0.1
log:
  fields:
    service: registry
storage:
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
"""
IMAGE_CONFIG_PATH = "/etc/distribution/config.yml"
DEBIAN_REGISTRY = "/usr/bin/docker-registry"  # distribution 2.8.2, what registry:2.8.x images ran


@pytest.fixture(scope="module")
def registry_binary() -> str:
    return built("registry")


@pytest.fixture(scope="module")
def rendered(executor_dind, tmp_path_factory) -> list[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("registry-render")
    spec = {"hardening": {"profile": "recommended"}, "privateRegistry": {"remoteUrl": f"http://{UPSTREAM}"}}
    return render(executor_dind, spec, directory, "config")


@pytest.fixture(scope="module")
def pod(rendered) -> dict[str, Any]:
    return find(rendered, "StatefulSet", "executor-dind-registry")["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def dind(janitor: Janitor, rendered, tmp_path_factory, rootfs_tar) -> Dind:
    started = start_dind(janitor, rendered, tmp_path_factory.mktemp("registry-dind"), "reg")
    import_image(started, rootfs_tar, "rtbox:1")
    yield started
    janitor.stop(started.proc)


def cache_dir(parent: Path, gid: int | None) -> Path:
    """The cache volume as the kubelet hands it over: with fsGroup, group-owned and setgid group-writable."""
    cache = parent / "cache"
    cache.mkdir()
    if gid is None:
        os.chmod(cache, 0o755)
    else:
        os.chown(cache, 0, gid)
        os.chmod(cache, 0o2775)
    return cache


def start_registry(
    janitor: Janitor, dind: Dind, pod: dict[str, Any], binary: str, directory: Path, cache: Path, name: str
) -> Proc:
    container = pod["containers"][0]
    context = pod["securityContext"]
    mount = container["volumeMounts"][0]["mountPath"]
    config = directory / "config.yml"
    config.write_text(IMAGE_CONFIG)
    env = {"PATH": "/usr/bin:/bin"} | {e["name"]: e["value"] for e in container["env"]}
    user = [
        "setpriv",
        f"--reuid={context['runAsUser']}",
        f"--regid={context['runAsGroup']}",
        f"--groups={context['fsGroup']}",
    ]
    prelude = " && ".join(
        [
            f"mkdir -p {mount} {Path(IMAGE_CONFIG_PATH).parent}",
            f"mount --bind {cache} {mount}",
            f"mount -t tmpfs tmpfs {Path(IMAGE_CONFIG_PATH).parent}",
            f"cp {config} {IMAGE_CONFIG_PATH}",
        ]
    )
    args = [*user, binary, "serve", IMAGE_CONFIG_PATH]
    return janitor.start(name, in_netns(dind.netns, args, prelude), directory / f"{name}.log", env=env)


def http_status(dind: Dind, url: str) -> str:
    out = sh(in_netns(dind.netns, ["busybox", "wget", "-S", "-q", "-O", "/dev/null", url]), timeout=15)
    lines = [line.split()[1] for line in out.stderr.splitlines() if line.strip().startswith("HTTP/")]
    return lines[-1] if lines else "none"


def wait_serving(dind: Dind, proc: Proc, port: int) -> None:
    def up() -> bool:
        assert proc.alive(), f"{proc.name} exited {proc.popen.returncode}:\n{proc.output()[-2000:]}"
        return http_status(dind, f"http://127.0.0.1:{port}/v2/") == "200"

    wait_for(f"{proc.name} on :{port}", up, timeout=30)


def start_upstream(janitor: Janitor, dind: Dind, binary: str, directory: Path) -> Proc:
    data = directory / "upstream-data"
    data.mkdir()
    config = directory / "upstream.yml"
    config.write_text(IMAGE_CONFIG.replace("/var/lib/registry", str(data)).replace(":5000", UPSTREAM))
    proc = janitor.start("upstream", in_netns(dind.netns, [binary, "serve", str(config)]), directory / "up.log")
    wait_serving(dind, proc, 5001)
    return proc


def pull_fresh(dind: Dind, ref: str) -> Any:
    dind.docker("rmi", "-f", ref, f"docker.io/library/{ref}")
    return dind.docker("pull", ref, timeout=90)


def test_mirror_serves_pulls_and_survives_the_upstream(janitor, dind, pod, registry_binary, tmp_path) -> None:
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["REGISTRY_PROXY_REMOTEURL"] == f"http://{UPSTREAM}"
    assert pod["securityContext"]["fsGroup"] == 65532
    info = json.loads(dind.docker("info", "--format", "{{json .RegistryConfig.Mirrors}}").stdout)
    assert info == ["http://executor-dind-registry:5000/"]

    upstream = start_upstream(janitor, dind, registry_binary, tmp_path)
    assert dind.docker("tag", "rtbox:1", f"{UPSTREAM}/library/rtbox:1").returncode == 0
    pushed = dind.docker("push", f"{UPSTREAM}/library/rtbox:1")
    assert pushed.returncode == 0, pushed.stderr
    dind.docker("rmi", f"{UPSTREAM}/library/rtbox:1")

    cache = cache_dir(tmp_path, pod["securityContext"]["fsGroup"])
    mirror = start_registry(janitor, dind, pod, registry_binary, tmp_path, cache, "mirror")
    wait_serving(dind, mirror, 5000)
    assert listening(dind.netns, "t") == {"127.0.0.1:2375", "*:5000", UPSTREAM}

    pulled = pull_fresh(dind, "rtbox:1")
    assert pulled.returncode == 0, pulled.stderr
    # dockerd resolves the tag (HEAD) then fetches the manifest by digest and the layers, all from the mirror.
    assert '"HEAD /v2/library/rtbox/manifests/1 ' in mirror.output()
    assert '"GET /v2/library/rtbox/manifests/sha256:' in mirror.output()
    assert '"GET /v2/library/rtbox/blobs/sha256:' in mirror.output()
    catalog = sh(in_netns(dind.netns, ["busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:5000/v2/_catalog"]))
    assert json.loads(catalog.stdout) == {"repositories": ["library/rtbox"]}
    assert (cache / "docker" / "registry" / "v2" / "repositories" / "library" / "rtbox").is_dir()

    # The upstream goes away: the running mirror serves from its cache ...
    janitor.stop(upstream)
    again = pull_fresh(dind, "rtbox:1")
    assert again.returncode == 0, again.stderr

    # ... and a mirror (re)started while the upstream is down starts and serves it too.
    janitor.stop(mirror)
    restarted = start_registry(janitor, dind, pod, registry_binary, tmp_path, cache, "mirror-restarted")
    wait_serving(dind, restarted, 5000)
    third = pull_fresh(dind, "rtbox:1")
    assert third.returncode == 0, third.stderr
    assert "panic" not in restarted.output()
    janitor.stop(restarted)


def test_distribution_2_8_panics_with_the_upstream_down(janitor, dind, pod, tmp_path) -> None:
    """Why the image moved to 3.0.0 with an exec credential helper: 2.8 pings the remote at start and panics."""
    if not Path(DEBIAN_REGISTRY).exists():
        missing(f"{DEBIAN_REGISTRY} (Debian docker-registry) is not installed")
    cache = cache_dir(tmp_path, pod["securityContext"]["fsGroup"])
    old = start_registry(janitor, dind, pod, DEBIAN_REGISTRY, tmp_path, cache, "registry-2.8")
    assert old.wait(timeout=30) == 2
    assert f'panic: Get "http://{UPSTREAM}/v2/": dial tcp {UPSTREAM}: connect: connection refused' in old.output()


def test_cache_needs_the_fsgroup(janitor, dind, pod, registry_binary, tmp_path) -> None:
    """Without fsGroup the volume stays root's 0755 and uid 65532 cannot write the cache: every pull is a 500."""
    upstream = start_upstream(janitor, dind, registry_binary, tmp_path)
    assert dind.docker("tag", "rtbox:1", f"{UPSTREAM}/library/rtbox:1").returncode == 0
    assert dind.docker("push", f"{UPSTREAM}/library/rtbox:1").returncode == 0
    cache = cache_dir(tmp_path, None)
    mirror = start_registry(janitor, dind, pod, registry_binary, tmp_path, cache, "mirror-nofsgroup")
    wait_serving(dind, mirror, 5000)
    status = http_status(dind, "http://127.0.0.1:5000/v2/library/rtbox/manifests/1")
    assert status == "500"
    assert "mkdir /var/lib/registry/docker: permission denied" in mirror.output()
    janitor.stop(mirror)
    janitor.stop(upstream)
