"""EXD001: dockerd listens beyond loopback, as the kubelet, the shell and dockerd read the pod."""

from __future__ import annotations

import re
from collections.abc import Iterator

from executor_dind.audit.container_env import ContainerEnv
from executor_dind.audit.dockerd_launch import config_hosts, host_flags, launches
from executor_dind.audit.pod_files import read_file
from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod
from executor_dind.krm.item import Item
from executor_dind.podspec import containers, is_dind_container

_LOOPBACK_HOST = r"^(tcp://)?(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/?$|^(unix|fd)://"


def _listens_beyond_loopback(item: Item, host: str, source: Item, path: str) -> Iterator[Finding]:
    if not re.match(_LOOPBACK_HOST, host):
        yield Finding(
            source,
            path,
            f"dockerd of {item.describe()} listens on {host}: any pod that reaches this pod gets an "
            "unauthenticated, privileged Docker API; bind it to tcp://127.0.0.1:2375 only",
        )


def _cannot_determine(item: Item, path: str, why: str) -> Finding:
    return Finding(
        item,
        path,
        f"cannot determine the addresses dockerd of {item.describe()} listens on: {why}; give dockerd its flags "
        "and daemon.json in the render (command, args, a ConfigMap)",
    )


def dockerd_exposed(item: Item, scope: Scope) -> Iterator[Finding]:
    """Each address dockerd listens on as the kubelet, the shell and dockerd read the pod: its flags (argv, a
    shell script, the dind entrypoint's defaults), DOCKER_HOST, and the daemon.json it reads, merged."""
    spec, base = executor_pod(item)
    # Every container: the kubelet or the shell may name dockerd through a variable, whatever the image.
    for entry, path in containers(spec, base):
        env = ContainerEnv(item, scope, entry, path)
        started = launches(entry, env)
        docker_host = env.get("DOCKER_HOST") if started or is_dind_container(entry) else None
        if docker_host is not None and docker_host.value is None:
            yield _cannot_determine(item, docker_host.field_path, f"DOCKER_HOST: {docker_host.why}")
        elif docker_host is not None:
            yield from _listens_beyond_loopback(
                item, str(docker_host.value), docker_host.source, docker_host.field_path
            )
        for launch in started:
            if launch.why:
                yield _cannot_determine(item, f"{path}.command", launch.why)
                continue
            hosts, config_file, explicit = host_flags(launch.words)
            for host in hosts:
                yield from _listens_beyond_loopback(item, host, item, f"{path}.command")
            read = read_file(item, scope, spec, entry, env, config_file)
            written = explicit or (
                launch.script is not None and ("daemon.json" in launch.script or config_file in launch.script)
            )
            if read.why or (read.text is None and written):
                why = read.why or "no ConfigMap or Secret in the render provides it: something running writes it"
                yield _cannot_determine(item, f"{path}.volumeMounts", f"dockerd reads {config_file}, but {why}")
            elif read.text is not None and read.source is not None:
                for host in config_hosts(read.text) or []:
                    yield from _listens_beyond_loopback(item, host, read.source, read.field_path)
    for entry, path in containers(spec, base):
        for index, port in enumerate(entry.get("ports") if isinstance(entry.get("ports"), list) else []):
            if isinstance(port, dict) and port.get("containerPort") in (2375, 2376):
                number = port["containerPort"]
                yield Finding(item, f"{path}.ports[{index}]", f"declares the Docker API port {number}; remove it")


RULES = (
    Rule(
        "EXD001",
        "dockerd-exposed",
        "error",
        "dockerd listens beyond loopback (`-H`, `-Hx`, `--host[=]x`, after `$(VAR)` and `sh -c` expansion, "
        "`DOCKER_HOST`, daemon.json `hosts` from a ConfigMap, Secret or projected volume, the dind image's "
        "entrypoint), port 2375/2376 is declared, or what dockerd reads cannot be determined",
        dockerd_exposed,
    ),
)
