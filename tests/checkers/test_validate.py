"""kubernetes-validate --strict (unknown fields are errors) on every profile's render of the upstream base."""

from __future__ import annotations

import pytest

from checkers.conftest import PROFILES
from checkers.tools import dump, find
from conftest import run

# The default schema version of kubernetes-validate 1.37, and the oldest with native sidecars (DESIGN §3).
VERSIONS = (None, "1.29.0")


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v or "default")
@pytest.mark.parametrize("profile", PROFILES)
def test_render_is_valid(kubernetes_validate, renders, profile, version):
    render = renders[profile]
    args = [kubernetes_validate, "--strict"] + (["-k", version] if version else [])
    result = run([*args, str(render.path)])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Every object was checked, ours included.
    assert output.count("passed for resource") == len(render.objects), output


def test_strict_catches_a_misspelt_field(kubernetes_validate, renders, tmp_path):
    """The control: the same render with one misspelt field in our Deployment fails."""
    render = renders["strict"]
    objects = [dict(obj) for obj in render.objects]
    executor = find(objects, "Deployment", "executor-all")
    executor["spec"] = {**executor["spec"], "replica": 2}
    broken = tmp_path / "broken.yaml"
    broken.write_text(dump(objects))
    result = run([kubernetes_validate, "--strict", "--quiet", str(broken)])
    assert result.returncode != 0
    assert "replica" in result.stdout + result.stderr
