"""The kubelet's `$(VAR)` expansion, the shell's `$VAR` expansion and dockerd's reading of daemon.json, each on
exact inputs and outputs."""

from __future__ import annotations

import re

import hypothesis
import pytest

from executor_dind.audit.container_env import ContainerEnv, expand
from executor_dind.audit.dockerd_launch import _assigned, config_hosts, launches
from executor_dind.audit.scope import Scope
from executor_dind.krm.item import Item
from executor_dind.podspec import script_commands

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


# Shell text near what the readings below look for: assignments, read/for/getopts, quoting, separators.
SHELL_TEXT = hypothesis.strategies.lists(
    hypothesis.strategies.sampled_from(
        [*"ab_1=;&|( \n\t'\"\\$é", "read ", "for ", "getopts ", "FLAGS", "dockerd", 'd"ockerd', "dock\\erd", "#"]
    ),
    max_size=24,
).map("".join)


def assigned_as_searched(script: str, name: str) -> bool:
    """The reading _assigned replaces, one regular expression per name."""
    name = re.escape(name)
    return re.search(rf"(^|[\s;&|(]){name}=|\b(read|for|getopts)\b[^\n;]*\b{name}\b", script) is not None


@hypothesis.settings(max_examples=2000, deadline=None)
@hypothesis.given(SHELL_TEXT)
def test_the_variables_a_script_sets_are_those_each_name_is_searched_for(script):
    names = {*re.findall(r"[A-Za-z_][A-Za-z0-9_]*", script), "a", "b", "ab", "FLAGS"}
    assert {name for name in names if assigned_as_searched(script, name)} == _assigned(script) & names


def test_the_variables_a_script_sets():
    script = "a=1; read -r b c; for d in x; do e=$d; done\nf =2 g.h=3 getopts i j;k"
    assert _assigned(script) == {"a", "r", "b", "c", "d", "in", "x", "e", "i", "j"}


def dockerd_commands(commands):
    return [command for command in commands if any("dockerd" in word for word in command)]


@hypothesis.settings(max_examples=2000, deadline=None)
@hypothesis.given(SHELL_TEXT)
def test_only_lines_that_cannot_name_dockerd_go_unlexed(script):
    lexed = script_commands(script, "dockerd")
    assert dockerd_commands(lexed) == dockerd_commands(script_commands(script, ""))
    assert len(lexed) <= len(script_commands(script, ""))


def test_a_dockerd_spelt_with_quotes_or_backslashes_is_lexed():
    script = 'echo start\nexec d"ocke"rd --host=tcp://0.0.0.0:2375\nexec dock\\erd -H x\necho "dockerd"'
    assert script_commands(script, "dockerd") == [
        ["exec", "dockerd", "--host=tcp://0.0.0.0:2375"],
        ["exec", "dockerd", "-H", "x"],
        ["echo", "dockerd"],
    ]
    assert script_commands(script, "")[0] == ["echo", "start"]  # control: every line is lexed without a name
