"""The wheel and sdist: built from a clean copy, `twine check --strict` clean, with exactly the package's files,
one version, and the wheel alone in a fresh venv runs every way of use with the same output as this checkout."""

from __future__ import annotations

import email.parser
import json
import os
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import ROOT, run
from distribution.conftest import Dist, Installed, source_version

OVERLAYS = ROOT / "overlays"
DEMO_BASE = OVERLAYS / "demo" / "base"
CONFIG = OVERLAYS / "krm-exec" / "executor-dind.yaml"
DIST_INFO = ("METADATA", "WHEEL", "entry_points.txt", "top_level.txt", "RECORD", "licenses/LICENSE")


def package_files(sources: Path) -> set[str]:
    """Every file of the package in the sources (modules and any package data), relative to plugin/."""
    package = sources / "plugin" / "executor_dind"
    return {
        path.relative_to(sources / "plugin").as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def metadata(dist: Dist) -> email.message.Message:
    with zipfile.ZipFile(dist.wheel) as wheel:
        text = wheel.read(f"executor_dind-{source_version()}.dist-info/METADATA").decode()
    return email.parser.Parser().parsestr(text)


def test_twine_check_strict_passes_both(dist):
    # twine prints through rich, which wraps at 80 columns when not on a terminal
    env = {**os.environ, "COLUMNS": "1000"}
    checked = run(
        [sys.executable, "-m", "twine", "--no-color", "check", "--strict", str(dist.wheel), str(dist.sdist)], env=env
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines() == [f"Checking {dist.wheel}: PASSED", f"Checking {dist.sdist}: PASSED"]
    assert checked.stderr == ""


def test_the_wheel_holds_the_package_and_nothing_else(dist):
    """Every module and package data file of plugin/executor_dind, no test, no stray top-level module."""
    info = f"executor_dind-{source_version()}.dist-info"
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
    assert names == package_files(dist.sources) | {f"{info}/{name}" for name in DIST_INFO}


def test_the_sdist_holds_the_package_its_metadata_and_the_changelog(dist):
    top = f"executor_dind-{source_version()}"
    with tarfile.open(dist.sdist) as sdist:
        names = {member.name for member in sdist.getmembers() if member.isfile()}
    egg_info = {f"{top}/plugin/executor_dind.egg-info/{name}" for name in ("PKG-INFO", "SOURCES.txt")}
    egg_info |= {
        f"{top}/plugin/executor_dind.egg-info/{name}"
        for name in ("dependency_links.txt", "entry_points.txt", "requires.txt", "top_level.txt")
    }
    own = {f"{top}/{name}" for name in ("PKG-INFO", "README.md", "CHANGELOG.md", "LICENSE", "MANIFEST.in", "setup.cfg")}
    own |= {f"{top}/pyproject.toml"}
    package = {f"{top}/plugin/{name}" for name in package_files(dist.sources)}
    assert names == own | egg_info | package


def test_metadata_names_the_version_the_entry_point_and_the_dependencies(dist):
    meta = metadata(dist)
    assert (meta["Name"], meta["Version"], meta["Requires-Python"]) == ("executor-dind", source_version(), ">=3.10")
    assert meta["License"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    runtime = [req for req in meta.get_all("Requires-Dist") if "extra ==" not in req]
    assert runtime == ["PyYAML>=6.0", "jsonpatch>=1.33", "ruamel.yaml>=0.18"]
    assert meta.get_payload() == (ROOT / "README.md").read_text()
    with zipfile.ZipFile(dist.wheel) as wheel:
        entry_points = wheel.read(f"executor_dind-{source_version()}.dist-info/entry_points.txt").decode()
    assert entry_points.split() == ["[console_scripts]", "executor-dind", "=", "executor_dind.cli:main"]


def test_one_version_source(installed):
    """setup.cfg reads __version__; the installed command, the metadata and the changelog say the same."""
    assert "version = attr: executor_dind.__version__" in (ROOT / "setup.cfg").read_text().splitlines()
    version = source_version()
    said = run([installed.executor_dind, "--version"], env=installed.env)
    assert (said.returncode, said.stdout) == (0, f"executor-dind {version}\n"), said.stderr
    pip_show = run([str(installed.venv / "bin" / "pip"), "show", "executor-dind"], env=installed.env)
    assert f"Version: {version}" in pip_show.stdout.splitlines()
    releases = [line for line in (ROOT / "CHANGELOG.md").read_text().splitlines() if line.startswith("## [")]
    assert releases[0].startswith(f"## [{version}] - ")


def test_the_wheel_runs_from_its_venv_not_from_these_sources(installed, tmp_path):
    where = run(
        [str(installed.venv / "bin" / "python"), "-c", "import executor_dind; print(executor_dind.__file__)"],
        cwd=tmp_path,
        env=installed.env,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.venv)
    assert shutil.which("executor-dind", path=installed.env["PATH"]) == installed.executor_dind


# ---- every way of use, the wheel beside this checkout's install ------------------------------------------------


@pytest.fixture(scope="module")
def demo_stream(kustomize, tmp_path_factory) -> Path:
    """The demo base as one stream, built by kustomize."""
    built = run([kustomize, "build", str(DEMO_BASE)])
    assert built.returncode == 0, built.stderr
    path = tmp_path_factory.mktemp("demo") / "base.yaml"
    path.write_text(built.stdout)
    return path


def both(installed: Installed, executor_dind: str, args: list[str], **kwargs):
    """The same command through the wheel's script and through this checkout's; both results."""
    ours = run([installed.executor_dind, *args], env=installed.env, **kwargs)
    dev = run([executor_dind, *args], **kwargs)
    return ours, dev


def test_schema(installed, executor_dind):
    ours, dev = both(installed, executor_dind, ["schema"])
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == dev.stdout
    schema = json.loads(ours.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(CONFIG.read_text()), schema)


def test_render_audit_explain(installed, executor_dind, demo_stream, tmp_path):
    ours, dev = both(installed, executor_dind, ["render", "--config", str(CONFIG), str(demo_stream)])
    assert ours.returncode == 0, ours.stderr
    assert (ours.stdout, ours.stderr) == (dev.stdout, dev.stderr)
    names = {(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(ours.stdout) if o}
    assert {("Deployment", "executor-all"), ("NetworkPolicy", "executor-dind-executors")} <= names
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(ours.stdout)
    ours, dev = both(installed, executor_dind, ["audit", str(rendered)])
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert (ours.stdout, ours.stderr) == (dev.stdout, dev.stderr)
    ours, dev = both(installed, executor_dind, ["explain", "--config", str(CONFIG), str(rendered)])
    assert ours.returncode == 0, ours.stderr
    assert "security posture (profile recommended)" in ours.stdout
    assert (ours.stdout, ours.stderr) == (dev.stdout, dev.stderr)


def test_krm_function_on_a_resource_list(installed, executor_dind, demo_stream):
    items = [doc for doc in yaml.safe_load_all(demo_stream.read_text()) if doc]
    function_config = yaml.safe_load(CONFIG.read_text())
    given = yaml.safe_dump(
        {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": items,
            "functionConfig": function_config,
        }
    )
    ours, dev = both(installed, executor_dind, [], input=given)
    assert ours.returncode == 0, ours.stderr
    assert (ours.stdout, ours.stderr) == (dev.stdout, dev.stderr)
    output = yaml.safe_load(ours.stdout)
    assert output["kind"] == "ResourceList"
    assert "executor-all" in {item["metadata"]["name"] for item in output["items"]}


@pytest.mark.integration
def test_kustomize_krm_exec_and_legacy_plugin(installed, kustomize, tmp_path):
    """kustomize finds the wheel's script on PATH (KRM exec) and the plugin it installs (legacy): one output."""
    home = tmp_path / "plugin-home"
    out = run([installed.executor_dind, "install-plugin", "--plugin-home", str(home)], env=installed.env)
    assert out.returncode == 0, out.stderr
    entry = home / "executor-dind.dev" / "v1alpha1" / "executordind" / "ExecutorDind"
    interpreter = entry.read_text().split('"')[1]
    assert Path(interpreter).is_relative_to(installed.venv / "bin"), entry.read_text()
    krm = run(
        [kustomize, "build", "--enable-alpha-plugins", "--enable-exec", str(OVERLAYS / "krm-exec")], env=installed.env
    )
    assert krm.returncode == 0, krm.stderr
    legacy = run(
        [kustomize, "build", "--enable-alpha-plugins", str(OVERLAYS / "legacy-plugin")],
        env={**installed.env, "KUSTOMIZE_PLUGIN_HOME": str(home)},
    )
    assert legacy.returncode == 0, legacy.stderr
    assert legacy.stdout == krm.stdout
    assert "name: executor-all\n" in krm.stdout


@pytest.mark.integration
def test_kpt_fn_eval_exec(installed, executor_dind, kpt, tmp_path):
    """`kpt fn eval --exec executor-dind` with the wheel's script first on PATH, beside this checkout's."""
    results = {}
    for name, env in (("wheel", installed.env), ("checkout", None)):
        package = tmp_path / name
        shutil.copytree(OVERLAYS / "kpt", package)
        if env is None:
            env = {**installed.env, "PATH": f"{Path(executor_dind).parent}:{installed.env['PATH']}"}
        evaluated = run(
            [kpt, "fn", "eval", str(package), "--exec=executor-dind", "--", "hardening.profile=recommended"], env=env
        )
        assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
        results[name] = {
            p.relative_to(package).as_posix(): p.read_bytes() for p in sorted(package.rglob("*")) if p.is_file()
        }
    assert results["wheel"] == results["checkout"]
    added = sorted(name for name in results["wheel"] if name.startswith("executor-dind/"))
    assert added == [
        f"executor-dind/{name}.yaml"
        for name in (
            "configmap-executor-dind-docker",
            "deployment-executor-all",
            "networkpolicy-executor-dind-executors",
            "networkpolicy-executor-dind-registry",
            "service-executor-dind-metrics",
            "service-executor-dind-registry",
            "serviceaccount-executor-dind",
            "statefulset-executor-dind-registry",
        )
    ]
