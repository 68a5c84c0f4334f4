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
import os
import signal
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from executor_dind import values
from runtime.dind import Dind, import_image, start_dind
from runtime.harness import Proc, find, in_netns, pod_containers, render, sh, wait_for
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
PASS_HEADINGS = ("Deleted Containers:", "Deleted Networks:", "Deleted Volumes:", "Deleted Images:")


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


def first_pass(janitor, started: Dind, container: dict[str, Any], log: Path) -> dict[str, list[str]]:
    """Runs the sidecar until its first pass has ended (the image prune's total, the pass's second, is out) and
    returns what that pass said it deleted, by heading (the CLI prints a heading only when it deletes something)."""
    proc = janitor.start("docker-prune", as_the_sidecar(started.netns, container, container["command"]), log)
    try:
        wait_for("the sidecar's first pass", lambda: proc.output().count("Total reclaimed space") >= 2, timeout=60)
        assert proc.alive()  # the loop goes on after a pass
    finally:
        janitor.stop(proc)
    output = log.read_text()
    print(f"sidecar output:\n{output}")
    assert "failed" not in output and "not UTC" not in output
    deleted: dict[str, list[str]] = {heading: [] for heading in PASS_HEADINGS}
    heading = ""
    totals = 0
    for line in output.splitlines():
        if line.startswith("Total reclaimed space"):
            totals += 1
            if totals == 2:
                break
        elif line in deleted:
            heading = line
        elif line:
            assert heading, f"the sidecar printed {line!r} outside a list of deleted objects"
            deleted[heading].append(line)
    return deleted


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
    # The whole text is the goldens' (tests/golden); here, the lines the spec sets, then the script's behaviour.
    lines = container["command"][2].splitlines()
    assert [line for line in lines if "until=" in line or "86400" in line or "  sleep " in line] == [
        '  cutoff=$(date -u -d "@$(($(date +%s) - 86400))" +%Y-%m-%dT%H:%M:%SZ) || return 1',
        "  sleep 1 & wait $!",
        "  docker container prune --force --filter until=24h || echo 'container prune failed' >&2",
        "  docker network prune --force --filter until=24h || echo 'network prune failed' >&2",
        "  docker image prune --all --force --filter until=24h || echo 'image prune failed' >&2",
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

    output = first_pass(janitor, started, prune_container(objects), tmp_path / "prune.log")
    # The containers are new (this test's): the pass's container, network and volume prunes remove nothing.
    assert output["Deleted Containers:"] == output["Deleted Networks:"] == output["Deleted Volumes:"] == []
    first = output["Deleted Images:"]
    assert sorted(line.removeprefix("untagged: ") for line in first if line.startswith("untagged: ")) == UNTAGGED
    # Whole images, each once; the layer stays (the kept images share it).
    deleted = sorted(line.removeprefix("deleted: ") for line in first if line.startswith("deleted: "))
    assert deleted == sorted(ids[created] for created in (OLD["job-old:1"], OLD_TWICE[1], DANGLING))
    assert len(first) == len(UNTAGGED) + len(deleted)
    after = images(started)
    print(f"after: {after}")
    assert after == AFTER
    # The running container still runs; the stopped one is still there to be inspected.
    states = started.docker("ps", "--all", "--format", "{{.Names}} {{.Image}} {{.State}}")
    assert sorted(states.stdout.splitlines()) == ["running job-running:old running", "stopped job-stopped:old exited"]


HYGIENE_UNTIL = "30s"  # short, so that objects this test creates can be older than it: the old ones, then the new
# The render before the prune covered containers, networks and volumes (images only): the control.
IMAGES_ONLY_SCRIPT = f"""set -u
# Unused job images only: dockerd removes no image that a container, running or stopped, uses.
while :; do
  sleep 1
  docker image prune --all --force --filter until={HYGIENE_UNTIL} || echo 'image prune failed' >&2
done
"""
HYGIENE_BEFORE = {
    "containers": [
        "running job-running:old running",
        "stopped-new job:now exited",
        "stopped-old job-stopped:old exited",
    ],
    "networks": ["bridge", "host", "net-new", "net-old", "net-running", "none"],
    "volumes": ["vol-new", "vol-old", "vol-running", "vol-stopped"],
    "images": ["job-new:1", "job-old:1", "job-running:old", "job-stopped:old", "job:now"],
}
# The images-only render removes the old unused image and nothing else.
HYGIENE_CONTROL = {**HYGIENE_BEFORE, "images": ["job-new:1", "job-running:old", "job-stopped:old", "job:now"]}
# Old and unused: the stopped container, then in the same pass its volume and image, the unused network and
# volume. Kept: what the running container uses (old as it is), and everything newer than the filter.
HYGIENE_AFTER = {
    "containers": ["running job-running:old running", "stopped-new job:now exited"],
    "networks": ["bridge", "host", "net-new", "net-running", "none"],
    "volumes": ["vol-new", "vol-running"],
    "images": ["job-new:1", "job-running:old", "job:now"],
}


def docker_state(dind: Dind) -> dict[str, list[str]]:
    listings = {
        "containers": ("ps", "--all", "--format", "{{.Names}} {{.Image}} {{.State}}"),
        "networks": ("network", "ls", "--format", "{{.Name}}"),
        "volumes": ("volume", "ls", "--format", "{{.Name}}"),
        "images": ("image", "ls", "--all", "--format", "{{.Repository}}:{{.Tag}}"),
    }
    state = {}
    for kind, args in listings.items():
        listed = dind.docker(*args)
        assert listed.returncode == 0, listed.stderr
        state[kind] = sorted(listed.stdout.splitlines())
    return state


def test_prune_removes_what_old_jobs_left_and_keeps_what_is_in_use_or_new(
    janitor, executor_dind, rootfs_tar: Path, tmp_path: Path
) -> None:
    """Shared pods: a stopped job container, the network and volumes no container uses, all older than `until`,
    go in one pass (the container first, so its volume and image are unused when those are pruned); a running
    container's network and volume stay, and so does everything newer than `until`."""
    spec = {**PROFILES["recommended"], "docker": {"prune": {"interval": INTERVAL, "until": HYGIENE_UNTIL}}}
    objects = render(executor_dind, spec, tmp_path, "config")
    started = start_dind(janitor, objects, tmp_path, "hygiene")
    try:
        old_images = [(["job-old:1"], OLD["job-old:1"]), (["job-running:old"], OLD["job-running:old"])]
        old_images.append((["job-stopped:old"], OLD["job-stopped:old"]))
        image_archive(rootfs_tar, old_images, tmp_path / "old.tar")
        steps = [
            ("load", "--input", str(tmp_path / "old.tar")),
            ("network", "create", "net-old"),
            ("network", "create", "net-running"),
            ("volume", "create", "vol-old"),
            ("run", "-d", "--name", "running", "--network", "net-running", "-v", "vol-running:/data", "job-running:old",
             "sleep", "600"),
            ("run", "--name", "stopped-old", "-v", "vol-stopped:/data", "job-stopped:old", "true"),
        ]  # fmt: skip
        run_steps(started, steps)
        import_image(started, rootfs_tar, "job:now")
        old_done = time.monotonic()
        # Every old object is now older than the filter (with margin); the new ones are made after that.
        time.sleep(max(0.0, old_done + values.duration_seconds(HYGIENE_UNTIL) + 3 - time.monotonic()))
        new_made = time.monotonic()
        run_steps(
            started,
            [
                ("network", "create", "net-new"),
                ("volume", "create", "vol-new"),
                ("run", "--name", "stopped-new", "job:now", "true"),
            ],
        )
        import_image(started, rootfs_tar, "job-new:1")
        before = docker_state(started)
        print(f"before: {before}")
        assert before == HYGIENE_BEFORE

        control = {**prune_container(objects), "command": ["/bin/sh", "-c", IMAGES_ONLY_SCRIPT]}
        # grace=0: the images-only script, its PID namespace's init, ignores SIGTERM (the test below).
        proc = janitor.start("docker-prune-control", as_the_sidecar(started.netns, control, control["command"]),
                             tmp_path / "control.log", grace=0)  # fmt: skip
        try:
            wait_for("the images-only prune", lambda: "Total reclaimed space" in proc.output(), timeout=60)
        finally:
            janitor.stop(proc)
        assert "failed" not in (tmp_path / "control.log").read_text()
        after_control = docker_state(started)
        print(f"after the images-only render's prune (the control): {after_control}")
        assert after_control == HYGIENE_CONTROL

        stopped_old = started.docker("inspect", "--format", "{{.Id}}", "stopped-old").stdout.strip()
        deleted = first_pass(janitor, started, prune_container(objects), tmp_path / "prune.log")
        # The new objects were still inside the filter when the pass ran: their being kept is no accident of timing.
        assert time.monotonic() - new_made < values.duration_seconds(HYGIENE_UNTIL)
        assert deleted["Deleted Containers:"] == [stopped_old]
        assert deleted["Deleted Networks:"] == ["net-old"]
        assert sorted(deleted["Deleted Volumes:"]) == ["vol-old", "vol-stopped"]
        assert [line for line in deleted["Deleted Images:"] if line.startswith("untagged: ")] == [
            "untagged: job-stopped:old"
        ]
        after = docker_state(started)
        print(f"after: {after}")
        assert after == HYGIENE_AFTER
    finally:
        janitor.stop(started.proc)


def run_steps(dind: Dind, steps: list[tuple[str, ...]]) -> None:
    for step in steps:
        done = dind.docker(*step)
        assert done.returncode == 0, f"docker {' '.join(step)}: {done.stderr}"


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def sigterm_to_init(janitor, argv: list[str], log: Path) -> Proc:
    """Starts argv in a PID namespace of its own and, once the script's shell runs and has a child (so a trap set
    before the loop is in place), sends SIGTERM to its PID 1 alone, as the kubelet does."""
    proc = janitor.start(log.stem, argv, log, grace=0)
    wait_for(f"{log.stem}'s PID 1", lambda: len(children(proc.pid)) == 1, timeout=10, interval=0.05)
    [init] = children(proc.pid)
    # PID 1 execs its way (nsenter, unshare, the mount prelude's sh, setpriv, env) to the script's shell, whose
    # child, once it has one, is the first sleep or docker command.
    script = "\0".join(argv[-3:]) + "\0"
    assert argv[-3:-1] == ["/bin/sh", "-c"]

    def script_running() -> bool:
        return Path(f"/proc/{init}/cmdline").read_text() == script and bool(children(init))

    wait_for(f"{log.stem}'s script and its first child", script_running, timeout=10, interval=0.05)
    os.kill(init, signal.SIGTERM)
    return proc


def test_the_sidecar_ends_at_the_kubelets_sigterm(dind, janitor, tmp_path: Path) -> None:
    """The kubelet stops a container with SIGTERM to its PID 1 alone, then SIGKILL when the pod's grace period
    (maximumRuntimePerJob + 60 s by default) is over. The sidecar's shell, PID 1, exits at once; the images-only
    script of before, without a trap, ignores it (an init ignores the signals it has no handler for)."""
    started, objects = dind
    rendered = prune_container(objects)
    proc = sigterm_to_init(janitor, as_the_sidecar(started.netns, rendered, rendered["command"]), tmp_path / "r.log")
    try:
        assert proc.wait(timeout=5) == 0
    finally:
        janitor.stop(proc)
    control = as_the_sidecar(started.netns, rendered, ["/bin/sh", "-c", IMAGES_ONLY_SCRIPT])
    proc = sigterm_to_init(janitor, control, tmp_path / "images-only.log")
    try:
        time.sleep(3)  # a few passes of its 1 s loop
        assert proc.alive(), proc.output()
    finally:
        janitor.stop(proc)
