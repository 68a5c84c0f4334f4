"""How each dockerd of a container starts, as the kubelet, the shell and dockerd itself read the pod.

The kubelet expands `$(NAME)` in command and args; a `sh -c` script then expands `$NAME`, `${NAME}` and `"$@"`
from that environment (unquoted: split into words, so one variable can carry `-H tcp://...`); the dind image's
entrypoint adds a TCP listener when run with no command or only flags. dockerd reads `--config-file` (default
/etc/docker/daemon.json) after dropping a UTF-8 byte-order mark, matches its keys without regard to case (Go's
encoding/json), and takes listen addresses from both its flags and the file. Whatever the render cannot settle
(a variable the script sets, the output of a command, a file something running writes) is `why`, never a guess.
"""

from __future__ import annotations

import json
import re
import shlex

from executor_dind.audit.container_env import ContainerEnv
from executor_dind.podspec import DOCKERD_PART, image_name, image_tag, script_commands, shell_invocation
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DAEMON_JSON = "/etc/docker/daemon.json"
# The dind image's entrypoint (dockerd-entrypoint.sh) run with no arguments or only flags adds these.
ENTRYPOINT_HOSTS = {"": "tcp://0.0.0.0:2375", "tls": "tcp://0.0.0.0:2376"}
# Marks an expansion the shell splits into words whose value cannot be determined.
_SPLIT = "\x00"
_NAME = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|([@*]))")
_VALUE_FLAGS = ("-H", "--host", "--config-file")
_ASSIGNMENT = re.compile(r"(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=")
_READ_INTO = re.compile(r"\b(?:read|for|getopts)\b([^\n;]*)")
_WORD = re.compile(r"\w+")
# What the expansion below acts on; the text between is copied as it is.
_SPECIAL = re.compile(r"[\\'\"$`]")


class Launch(Record):
    """One dockerd a container starts: its arguments, whether a shell script starts it (and the script), or
    why its arguments cannot be determined."""

    words: tuple[str, ...]
    script: str | None = None
    why: str = ""


def _assigned(script: str) -> frozenset[str]:
    """The variables a script sets: NAME= after a separator, and each word after read, for or getopts up to the
    end of that command."""
    names = {match[1] for match in _ASSIGNMENT.finditer(script)}
    for match in _READ_INTO.finditer(script):
        names.update(_WORD.findall(match[1]))
    return frozenset(names)


def _escape_in_quotes(text: str) -> str:
    return re.sub(r'(["\\$`])', r"\\\1", text)


def shell_expand(script: str, env: ContainerEnv, positional: list[str]) -> str:
    """The script with the parameters the render settles substituted as the shell would: unquoted values split
    into words, quoted ones kept whole. What it cannot settle stays as written, marked when unquoted."""
    assigned = _assigned(script)
    out: list[str] = []
    index, single, double = 0, False, False
    while index < len(script):
        special = _SPECIAL.search(script, index)
        if special is None:
            out.append(script[index:])
            break
        out.append(script[index : special.start()])
        index = special.start()
        char = script[index]
        if char == "\\" and not single:
            out.append(script[index : index + 2])
            index += 2
            continue
        if char == "'" and not double:
            single = not single
        elif char == '"' and not single:
            double = not double
        elif char in "$`" and not single:
            match = _NAME.match(script, index) if char == "$" else None
            values = _parameter(match, assigned, env, positional)
            if values is None:
                out.append(char if double else _SPLIT + char)
                index += 1
                continue
            assert match is not None
            if double:
                out.append('" "'.join(_escape_in_quotes(value) for value in values))
            else:
                out.append(" ".join(shlex.quote(field) for value in values for field in value.split()))
            index = match.end()
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _parameter(
    match: re.Match[str] | None, assigned: frozenset[str], env: ContainerEnv, positional: list[str]
) -> list[str] | None:
    """The value(s) of a parameter reference, or None when the render cannot settle it."""
    if match is None:
        return None  # a command substitution, `$1`, `$?`, arithmetic: only known when it runs
    if match[3]:
        return list(positional)
    name = match[1] or match[2]
    if name in assigned:
        return None
    var = env.get(name)
    if var is None or var.value is None:
        return None  # the image's own environment, or a value from outside the render
    return [var.value]


def _undetermined(words: list[str]) -> str:
    """Why these dockerd arguments cannot be determined, or ''."""
    for index, word in enumerate(words):
        if _SPLIT in word:
            return f"the shell splits {word.replace(_SPLIT, '')!r} into arguments the render does not settle"
        if "$" not in word and "`" not in word:
            continue
        flag, equals, _ = word.partition("=")
        named = bool(equals) and flag.startswith("-") and "$" not in flag and "`" not in flag
        after_value_flag = index > 0 and words[index - 1] in _VALUE_FLAGS
        if not named or flag in _VALUE_FLAGS or flag.startswith("-H") or after_value_flag:
            return f"the shell computes {word!r} when it runs"
    return ""


def launches(entry: dict[str, Any], env: ContainerEnv) -> list[Launch]:
    """Each dockerd the container starts (the dind entrypoint's added flags included)."""
    expanded = env.expand_words([*_list(entry.get("command")), *_list(entry.get("args"))])
    if any(word is None for word in expanded):
        return [Launch((), None, "its command or args refer to a variable whose value cannot be determined")]
    words = [str(word) for word in expanded]
    invocation = shell_invocation(words)
    script = None
    if invocation is None:
        commands = [words]
    else:
        script, positional = invocation
        commands = script_commands(shell_expand(script, env, positional), DOCKERD_PART)
    found = []
    for command in commands:
        names = [word.rsplit("/", 1)[-1] for word in command]
        if "dockerd" in names:
            args = command[names.index("dockerd") + 1 :]
        elif "dockerd-entrypoint.sh" in names:
            args = entrypoint(env, command[names.index("dockerd-entrypoint.sh") + 1 :])
        else:
            continue
        found.append(Launch(tuple(word.replace(_SPLIT, "") for word in args), script, _undetermined(args)))
    dind_image = "dind" in image_name(entry).rsplit("/", 1)[-1] or "dind" in image_tag(entry)
    if not _list(entry.get("command")) and not found and invocation is None and dind_image:
        found.append(Launch(tuple(entrypoint(env, words)), None, _undetermined(words)))
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def entrypoint(env: ContainerEnv, args: list[str]) -> list[str]:
    """dockerd's arguments when the dind image's dockerd-entrypoint.sh starts it with these."""
    if args and args[0].rsplit("/", 1)[-1] == "dockerd":
        return args[1:]
    if args and not args[0].startswith("-"):
        return []  # the entrypoint runs some other command
    certs = env.get("DOCKER_TLS_CERTDIR")
    tls_dir = "/certs" if certs is None else certs.value
    # An undetermined certificate directory may be either: both listeners are judged.
    hosts = list(ENTRYPOINT_HOSTS.values()) if tls_dir is None else [ENTRYPOINT_HOSTS["tls" if tls_dir else ""]]
    return [*(f"--host={host}" for host in hosts), *args]


def host_flags(words: tuple[str, ...] | list[str]) -> tuple[list[str], str, bool]:
    """dockerd's listen addresses in its arguments (`-H x`, `-Hx`, `-H=x`, `--host x`, `--host=x`), the
    daemon.json it reads (`--config-file`), and whether that was given explicitly."""
    hosts, config_file, explicit = [], DAEMON_JSON, False
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        if word in ("-H", "--host"):
            hosts.append(following)
        elif word.startswith("--host="):
            hosts.append(word.split("=", 1)[1])
        elif word.startswith("-H") and not word.startswith("--"):
            hosts.append(word[2:].removeprefix("="))
        elif word == "--config-file":
            config_file, explicit = following, True
        elif word.startswith("--config-file="):
            config_file, explicit = word.split("=", 1)[1], True
    return hosts, config_file, explicit


class _Pairs(list):
    """A JSON object's members in order, duplicates kept (dockerd's decoder applies each)."""


def config_hosts(text: str) -> list[str] | None:
    """The listen addresses of a daemon.json as dockerd reads it (a leading byte-order mark dropped, keys matched
    without regard to case, every `hosts` key counted); None when dockerd would refuse the file."""
    try:
        config = json.loads(text.removeprefix("\ufeff"), object_pairs_hook=_Pairs)
    except ValueError:
        return None
    if not isinstance(config, _Pairs):
        return None
    hosts: list[str] = []
    for key, value in config:
        if key.lower() != "hosts":
            continue
        hosts += [value] if isinstance(value, str) else [str(v) for v in value] if isinstance(value, list) else []
    return hosts
