"""scaffold: the overlay `init` writes, pre-filled from what the checkout says."""

from __future__ import annotations

import pytest
import yaml

from executor_dind.function_config import parse_function_config
from executor_dind.scaffold import PASSWORD_FILE, ScaffoldError, files, find_checkout, scaffold


@pytest.fixture
def checkout(tmp_path):
    root = tmp_path / "deploy-sourcegraph-k8s"
    (root / "base" / "sourcegraph" / "frontend").mkdir(parents=True)
    (root / "components").mkdir()
    (root / "instances" / "template").mkdir(parents=True)
    (root / "base/sourcegraph/frontend/sourcegraph-frontend.Service.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: sourcegraph-frontend}\n"
        "spec:\n  ports:\n  - {name: http, port: 30081}\n"
    )
    (root / "instances/template/kustomization.template.yaml").write_text("namespace: sg\n")
    return root


def test_the_checkout_is_found_walking_up(checkout):
    assert find_checkout(checkout / "base" / "sourcegraph") == checkout
    with pytest.raises(ScaffoldError, match="is not inside a deploy-sourcegraph-k8s checkout"):
        find_checkout(checkout.parent)


def test_files_are_prefilled_from_the_checkout(checkout):
    written = files(checkout, checkout / "instances" / "executors", "sg")
    kustomization = yaml.safe_load(written["kustomization.yaml"])
    assert kustomization["namespace"] == "sg"
    assert kustomization["resources"] == ["../../base/sourcegraph", "../../base/monitoring"]
    assert kustomization["transformers"] == ["executor-dind.yaml"]
    spec = parse_function_config(yaml.safe_load(written["executor-dind.yaml"]))
    assert spec.frontend.url == "http://sourcegraph-frontend:30081"
    assert spec.hardening.profile == "recommended"
    assert written[".gitignore"] == f"{PASSWORD_FILE}\n"


def test_scaffold_refuses_to_overwrite_and_force_keeps_the_password(checkout):
    target = checkout / "instances" / "executors"
    scaffold(None, checkout, force=False)
    (target / PASSWORD_FILE).write_text("real\n")
    with pytest.raises(ScaffoldError, match=r"already has kustomization\.yaml, executor-dind\.yaml"):
        scaffold(None, checkout, force=False)
    written = scaffold(None, checkout, force=True)
    assert target / PASSWORD_FILE not in written
    assert (target / PASSWORD_FILE).read_text() == "real\n"
