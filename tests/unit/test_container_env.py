"""The kubelet's `$(VAR)` expansion, the shell's `$VAR` expansion and dockerd's reading of daemon.json, each on
exact inputs and outputs."""

from __future__ import annotations

import pytest

from executor_dind.audit.container_env import ContainerEnv, expand
from executor_dind.audit.dockerd_launch import config_hosts, launches
from executor_dind.audit.scope import Scope
from executor_dind.krm.item import Item

DEFINED = {"ADDR": "0.0.0.0", "EMPTY": ""}


def lookup(name: str) -> str | bool | None:
    return DEFINED.get(name, None if name == "OUTSIDE" else False)


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("tcp://$(ADDR):2375", "tcp://0.0.0.0:2375"),
        ("$$(ADDR)", "$(ADDR)"),  # escaped: the text, not the variable
        ("$$$(ADDR)", "$0.0.0.0"),
        ("$(UNSET)", "$(UNSET)"),  # a reference to nothing stays as written
        ("$(EMPTY)x", "x"),
        ("$(ADDR", "$(ADDR"),  # unterminated
        ("$ADDR", "$ADDR"),  # the shell's syntax, not the kubelet's
        ("trailing$", "trailing$"),
        ("$()", "$()"),
        ("a$(OUTSIDE)b", None),  # defined, but not determinable from the render
    ],
)
def test_kubelet_expansion(text, expanded):
    assert expand(text, lookup) == expanded


def dind(command: list[str], env: list[dict[str, str]]) -> list[tuple[tuple[str, ...], str]]:
    entry = {"name": "dind", "image": "docker:dind", "command": command, "env": env}
    pod = Item.new({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [entry]}})
    env_of = ContainerEnv(pod, Scope.of([pod]), entry, "spec.containers[0]")
    return [(launch.words, launch.why) for launch in launches(entry, env_of)]


@pytest.mark.parametrize(
    ("script", "words", "why"),
    [
        ("exec dockerd $FLAGS", ("-H", "tcp://0.0.0.0:2375"), ""),  # unquoted: split into words
        ('exec dockerd "$FLAGS"', ("-H tcp://0.0.0.0:2375",), ""),  # quoted: one word
        ("exec dockerd '$FLAGS'", ("$FLAGS",), "the shell computes '$FLAGS' when it runs"),  # single-quoted: as is
        ("exec dockerd ${FLAGS}", ("-H", "tcp://0.0.0.0:2375"), ""),
        ('exec dockerd "$@"', ("--tls=false",), ""),
        (
            "FLAGS=-H; exec dockerd $FLAGS",
            ("$FLAGS",),
            "the shell splits '$FLAGS' into arguments the render does not settle",
        ),
        ('m=$(cat x); exec dockerd --mtu="$m"', ("--mtu=$m",), ""),
        (
            "for FLAGS in -D; do exec dockerd $FLAGS; done",
            ("$FLAGS",),
            "the shell splits '$FLAGS' into arguments the render does not settle",
        ),
        ('h=$(cat x); exec dockerd --host="$h"', ("--host=$h",), "the shell computes '--host=$h' when it runs"),
        (
            "exec dockerd $IMAGE_ENV",
            ("$IMAGE_ENV",),
            "the shell splits '$IMAGE_ENV' into arguments the render does not settle",
        ),
    ],
)
def test_shell_expansion_of_dockerd_flags(script, words, why):
    launched = dind(
        ["/bin/sh", "-c", script, "sh", "--tls=false"], [{"name": "FLAGS", "value": "-H tcp://0.0.0.0:2375"}]
    )
    assert launched == [(words, why)]


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ('{"hosts": ["tcp://0.0.0.0:2375"]}', ["tcp://0.0.0.0:2375"]),
        ('\ufeff{"hosts": ["tcp://0.0.0.0:2375"]}', ["tcp://0.0.0.0:2375"]),  # dockerd drops the byte-order mark
        ('{"HOSTS": "tcp://0.0.0.0:2375"}', ["tcp://0.0.0.0:2375"]),  # Go matches keys without regard to case
        ('{"hosts": ["unix:///a"], "Hosts": ["tcp://0.0.0.0:2375"]}', ["unix:///a", "tcp://0.0.0.0:2375"]),
        ('{"tls": false}', []),
        ("{not json", None),  # dockerd refuses to start
        ("[]", None),
    ],
)
def test_daemon_json_as_dockerd_reads_it(text, hosts):
    assert config_hosts(text) == hosts
