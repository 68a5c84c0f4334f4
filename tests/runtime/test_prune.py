"""The rendered image-prune sidecar against the render's own dockerd: its command, env and user taken out of the
rendered Deployment, run unprivileged (the securityContext's uid and gid, no capabilities, no new privileges, a
read-only root) against dind's loopback API. Job images older than the filter go, whether tagged, tagged twice
or dangling; images a container uses (running or stopped) and newer ones stay.

Not reproduced: the dind image's own docker CLI (this machine's runs the rendered script) and the RuntimeDefault
seccomp profile (the prune needs no syscall it would refuse: it only talks HTTP to 127.0.0.1:2375)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runtime.dind import Dind, import_image, start_dind
from runtime.harness import find, in_netns, pod_containers, render, sh, wait_for
from runtime.test_dind import PROFILES

PRUNE = "docker-prune"
INTERVAL = "1s"  # the spec's docker.prune.interval, short so the first prune comes at once; until stays 24h
OLD = {  # created well before the 24h filter: fixed dates, one each (the same config would be the same image)
    "job-old:1": "2026-01-02T03:04:05Z",
    "job-running:old": "2026-01-03T03:04:05Z",
    "job-stopped:old": "2026-01-04T03:04:05Z",
}
OLD_TWICE = ("job-old-twice:1", "job-old-twice:alias"), "2025-12-24T00:00:00Z"  # one image, two tags
DANGLING = "2025-06-01T00:00:00Z"  # an old image without a tag
RECENT = "job-recent:1"  # created an hour ago: inside the filter
IMPORTED = "job-imported:now"  # `docker import`: created now
BEFORE = [
    "<none>:<none>",
    "job-imported:now",
    "job-old-twice:1",
    "job-old-twice:alias",
    "job-old:1",
    "job-recent:1",
    "job-running:old",
    "job-stopped:old",
]
AFTER = ["job-imported:now", "job-recent:1", "job-running:old", "job-stopped:old"]
UNTAGGED = ["job-old-twice:1", "job-old-twice:alias", "job-old:1"]


def image_archive(layer: Path, images: list[tuple[list[str], str]], out: Path) -> dict[str, str]:
    """A `docker save` archive of one-layer images with the given tags and created times (what `docker load`
    keeps: dockerd's `until` filter reads the image config's `created`). Returns each image's ID (the digest of
    its config) by its created time."""
    diff_id = "sha256:" + hashlib.sha256(layer.read_bytes()).hexdigest()
    manifest, ids = [], {}
    with tarfile.open(out, "w") as archive:
        archive.add(layer, "layer.tar")
        for tags, created in images:
            config = {
                "architecture": "amd64",
                "os": "linux",
                "created": created,
                "config": {"Cmd": ["/bin/sh"]},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                "history": [{"created": created, "created_by": "tests/runtime/test_prune.py"}],
            }
            data = json.dumps(config, sort_keys=True).encode()
            ids[created] = "sha256:" + hashlib.sha256(data).hexdigest()
            name = ids[created].removeprefix("sha256:") + ".json"
            add_bytes(archive, name, data)
            manifest.append({"Config": name, "RepoTags": tags or None, "Layers": ["layer.tar"]})
        add_bytes(archive, "manifest.json", json.dumps(manifest).encode())
    return ids


def add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def images(dind: Dind) -> list[str]:
    listed = dind.docker("image", "ls", "--all", "--format", "{{.Repository}}:{{.Tag}}")
    assert listed.returncode == 0, listed.stderr
    return sorted(listed.stdout.split())


def prune_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    return next(c for c in pod_containers(pod) if c["name"] == PRUNE)


def as_the_sidecar(netns: str, container: dict[str, Any], argv: list[str]) -> list[str]:
    """argv run in the pod's network namespace as the sidecar's securityContext says: its uid and gid, no
    capabilities, no new privileges, the root read-only (remounted so in a mount namespace of its own). Its env is
    the rendered env only, with PATH and HOME as a container runtime sets them for an image that has none."""
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] != 0
    assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
    assert context["readOnlyRootFilesystem"] is True
    env = [f"{e['name']}={e['value']}" for e in container["env"]]
    user = [
        "setpriv", f"--reuid={context['runAsUser']}", f"--regid={context['runAsGroup']}", "--clear-groups",
        "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all",
    ]  # fmt: skip
    command = [*user, "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", *env, *argv]
    return in_netns(netns, command, "mount -o remount,bind,ro /")


@pytest.fixture(scope="module", params=list(PROFILES))
def dind(request, janitor, executor_dind, tmp_path_factory) -> tuple[Dind, list[dict[str, Any]]]:
    profile = request.param
    directory = tmp_path_factory.mktemp(f"prune-{profile}")
    spec = {**PROFILES[profile], "docker": {"prune": {"interval": INTERVAL}}}
    objects = render(executor_dind, spec, directory, "config")
    started = start_dind(janitor, objects, directory, f"pr{profile[:4]}")
    yield started, objects
    janitor.stop(started.proc)


def test_renders_the_prune_sidecar(dind) -> None:
    _, objects = dind
    container = prune_container(objects)
    assert container["command"][:2] == ["/bin/sh", "-c"]
    assert container["command"][2].splitlines() == [
        "set -u",
        "# Unused job images only: dockerd removes no image that a container, running or stopped, uses.",
        "while :; do",
        "  sleep 1",
        "  docker image prune --all --force --filter until=24h || echo 'image prune failed' >&2",
        "done",
    ]
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "DOCKER_HOST": "tcp://127.0.0.1:2375",
        "DOCKER_CONFIG": "/nonexistent",
    }


def test_probe_passes_as_the_sidecar_user(dind) -> None:
    started, objects = dind
    container = prune_container(objects)
    server = started.docker("version", "--format", "{{.Server.Version}}")
    assert server.returncode == 0, server.stderr
    for probe in ("livenessProbe", "readinessProbe"):
        result = sh(as_the_sidecar(started.netns, container, container[probe]["exec"]["command"]), timeout=30)
        assert (result.returncode, result.stdout, result.stderr) == (0, server.stdout, "")


def test_the_sidecar_runs_unprivileged(dind) -> None:
    started, objects = dind
    script = (
        "id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; touch /x 2>/dev/null; echo $?"
    )
    ran = sh(as_the_sidecar(started.netns, prune_container(objects), ["/bin/sh", "-c", script]), timeout=30)
    assert (ran.returncode, ran.stderr) == (0, "")
    assert ran.stdout.splitlines() == [
        "65532",
        "65532",
        "65532",
        "CapEff:\t0000000000000000",
        "CapBnd:\t0000000000000000",
        "NoNewPrivs:\t1",
        "1",
    ]


def test_prune_removes_old_unused_images_only(dind, janitor, rootfs_tar: Path, tmp_path: Path) -> None:
    started, objects = dind
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    specs = [([tag], created) for tag, created in OLD.items()]
    specs += [(list(OLD_TWICE[0]), OLD_TWICE[1]), ([], DANGLING), ([RECENT], hour_ago)]
    archive = tmp_path / "images.tar"
    ids = image_archive(rootfs_tar, specs, archive)
    loaded = started.docker("load", "--input", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    import_image(started, rootfs_tar, IMPORTED)
    running = started.docker("run", "-d", "--name", "running", "job-running:old", "sleep", "600")
    assert running.returncode == 0, running.stderr
    stopped = started.docker("run", "--name", "stopped", "job-stopped:old", "true")
    assert stopped.returncode == 0, stopped.stderr
    before = images(started)
    print(f"before: {before}")
    assert before == BEFORE

    container = prune_container(objects)
    log = tmp_path / "prune.log"
    proc = janitor.start("docker-prune", as_the_sidecar(started.netns, container, container["command"]), log)
    try:
        wait_for("the sidecar's first prune", lambda: "Total reclaimed space" in proc.output(), timeout=60)
        assert proc.alive()  # the loop goes on after a prune
    finally:
        janitor.stop(proc)
    output = log.read_text()
    print(f"sidecar output:\n{output}")
    assert "image prune failed" not in output
    first = [line for line in output.split("Total reclaimed space")[0].splitlines() if line]
    assert first[0] == "Deleted Images:"
    assert sorted(line.removeprefix("untagged: ") for line in first if line.startswith("untagged: ")) == UNTAGGED
    # Whole images, each once; the layer stays (the kept images share it).
    deleted = sorted(line.removeprefix("deleted: ") for line in first if line.startswith("deleted: "))
    assert deleted == sorted(ids[created] for created in (OLD["job-old:1"], OLD_TWICE[1], DANGLING))
    assert len(first) == 1 + len(UNTAGGED) + len(deleted)
    after = images(started)
    print(f"after: {after}")
    assert after == AFTER
    # The running container still runs; the stopped one is still there to be inspected.
    states = started.docker("ps", "--all", "--format", "{{.Names}} {{.Image}} {{.State}}")
    assert sorted(states.stdout.splitlines()) == ["running job-running:old running", "stopped job-stopped:old exited"]
