"""daemon.json against real dockerd: the negative controls, and the key list the function validates with.

`dockerd-moby` is moby v2.0.0-beta.24 built from its Go module (tools/runtime/moby); `/usr/bin/dockerd` is
Debian's Docker 20.10. `--validate` needs no daemon: it only parses the config against the flags.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from executor_dind.daemon_keys import DAEMON_KEYS
from runtime.dind import start_dind
from runtime.harness import built, dind_of, find, render, sh
from runtime.test_dind import PROFILES

CONFLICT = "specified both as a flag and in the configuration file"


@pytest.fixture(scope="module")
def moby() -> str:
    return built("dockerd-moby")


def dockerd_flags(dind: dict) -> list[str]:
    """The flags the rendered container passes to dockerd: its args, or the start script's `exec dockerd` line."""
    if dind["command"] == ["dockerd"]:
        return list(dind.get("args", []))
    line = next(line for line in dind["command"][2].splitlines() if line.startswith("exec dockerd"))
    return line.split()[2:]


def validate(moby: str, config: dict, directory: Path, *flags: str):
    path = directory / "daemon.json"
    path.write_text(json.dumps(config))
    return sh([moby, "--validate", "--config-file", str(path), *flags], timeout=30)


def test_key_list_is_what_moby_reads() -> None:
    listed = sh([built("daemonkeys")]).stdout.split()
    assert frozenset(listed) == DAEMON_KEYS


@pytest.mark.parametrize("profile", PROFILES)
def test_rendered_config_is_valid_and_known(profile, executor_dind, moby, tmp_path) -> None:
    objects = render(executor_dind, PROFILES[profile], tmp_path, profile)
    dind, _pod, daemon_json, _ = dind_of(objects)
    config = json.loads(daemon_json)
    assert set(config) <= DAEMON_KEYS
    flags = dockerd_flags(dind)
    result = validate(moby, config, tmp_path, *flags)
    assert (result.returncode, result.stderr.strip()) == (0, "configuration OK"), result.stderr


def test_unknown_key_is_refused(moby, tmp_path) -> None:
    result = validate(moby, {"no-such-key": True, "mtu": 1200}, tmp_path)
    assert result.returncode == 1
    assert "the following directives don't match any configuration option: no-such-key" in result.stderr


TYPED = {
    # key: (a value of the wrong type or out of range, what dockerd says of it, a value it reads)
    "debug": ("true", "debug", True),
    "max-concurrent-downloads": ("6", "max-concurrent-downloads", 6),
    "registry-mirrors": ("https://mirror.example", "registry-mirrors", ["https://mirror.example"]),
    "log-level": ("verbose", "invalid logging level: verbose", "warn"),
    # map[string]map[string]string: an option's value must be a string (the render writes the bridge MTU as one)
    "default-network-opts": (
        {"bridge": {"com.docker.network.driver.mtu": 1400}},
        "cannot unmarshal number into Go struct field Config.CommonConfig.NetworkConfig.default-network-opts of type "
        "string",
        {"bridge": {"com.docker.network.driver.mtu": "1400"}},
    ),
}


@pytest.mark.parametrize("key", sorted(TYPED))
def test_typed_values_dockerd_refuses_the_function_refuses_and_the_ones_it_reads_pass_both(key, moby, tmp_path) -> None:
    """`dockerd --validate` decodes daemon.json into moby's typed config: a string for a bool or a number, a string
    for a list, an unknown log level stop it; daemon_keys.value_problem refuses exactly these, at the field."""
    from executor_dind.daemon_keys import value_problem

    wrong, said, right = TYPED[key]
    refused = validate(moby, {key: wrong}, tmp_path)
    assert refused.returncode == 1 and said in refused.stderr, refused.stderr
    assert value_problem(key, wrong) is not None
    accepted = validate(moby, {key: right}, tmp_path)  # the positive control: the same key, a value it reads
    assert (accepted.returncode, accepted.stderr.strip()) == (0, "configuration OK"), accepted.stderr
    assert value_problem(key, right) is None


def test_singular_registry_mirror_passes_validation_and_is_ignored(
    janitor, executor_dind, moby, tmp_path, tmp_path_factory
) -> None:
    mirror = "http://executor-dind-registry:5000"
    result = validate(moby, {"registry-mirror": [mirror]}, tmp_path)
    assert (result.returncode, result.stderr.strip()) == (0, "configuration OK"), result.stderr
    assert "registry-mirror" not in DAEMON_KEYS
    # Started with it, Docker 20.10 runs without any mirror: the setting is silently dropped.
    objects = render(executor_dind, PROFILES["recommended"], tmp_path, "recommended")
    config_map = find(objects, "ConfigMap", "executor-dind-docker")
    config = json.loads(config_map["data"]["daemon.json"])
    config["registry-mirror"] = config.pop("registry-mirrors")
    config_map["data"]["daemon.json"] = json.dumps(config)
    dind = start_dind(janitor, objects, tmp_path_factory.mktemp("singular"), "sing")
    mirrors = json.loads(dind.docker("info", "--format", "{{json .RegistryConfig.Mirrors}}").stdout)
    assert mirrors == []
    janitor.stop(dind.proc)


def test_flag_and_file_conflict_refuses_to_start(executor_dind, tmp_path, tmp_path_factory, janitor) -> None:
    objects = render(executor_dind, PROFILES["baseline"], tmp_path, "baseline")
    conflicting = copy.deepcopy(objects)
    dind = dind_of(conflicting)[0]
    dind["command"] = [*dind["command"], "--host=tcp://127.0.0.1:2376"]
    directory = tmp_path_factory.mktemp("conflict")
    with pytest.raises(AssertionError, match="dockerd exited 1"):
        start_dind(janitor, conflicting, directory, "conf")
    log = (directory / "dockerd.log").read_text()
    assert f"{CONFLICT}: hosts: (from flag: [tcp://127.0.0.1:2376], from file: [tcp://127.0.0.1:2375])" in log


def test_strict_flags_conflict_with_storage_driver_in_the_file(executor_dind, moby, tmp_path) -> None:
    """Why the gVisor control refuses storage-driver in daemonConfig: its start script passes it as a flag."""
    objects = render(executor_dind, PROFILES["strict"], tmp_path, "strict")
    dind, _pod, daemon_json, _ = dind_of(objects)
    flags = dockerd_flags(dind)
    assert flags == ["--storage-driver=vfs", "--iptables=false", "--ip6tables=false"]
    config = {**json.loads(daemon_json), "storage-driver": "overlay2"}
    result = validate(moby, config, tmp_path, *flags)
    assert result.returncode == 1
    assert f"{CONFLICT}: storage-driver: (from flag: vfs, from file: overlay2)" in result.stderr


REFUSED = {
    "registry-mirror": " (did you mean 'registry-mirrors'?)",
    "no-such-key": "",
}


@pytest.mark.parametrize("key", sorted(REFUSED))
def test_function_refuses_keys_dockerd_would_not_read(key, executor_dind, tmp_path) -> None:
    """The two keys dockerd would ignore (`registry-mirror`) or refuse at start (`no-such-key`) never reach it."""
    config = tmp_path / "config.yaml"
    spec = {"docker": {"daemonConfig": {key: ["http://executor-dind-registry:5000"]}}}
    config.write_text(json.dumps({"apiVersion": "executor-dind.dev/v1alpha1", "kind": "ExecutorDind", "spec": spec}))
    result = sh([executor_dind, "render", "--config", str(config)])
    problem = (
        f"error ExecutorDind/-/: invalid functionConfig in {config}: spec.docker.daemonConfig.{key}: is not a "
        "daemon.json key "
        f"dockerd reads (it would be ignored, or refused at start){REFUSED[key]}"
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [problem, f"executor-dind: {problem}"]  # the result, then the summary
