"""scaffold: what `init` writes into an instance, pre-filled from what the checkout says."""

from __future__ import annotations

import pytest
import yaml

from executor_dind import scaffold
from executor_dind.function_config import parse_function_config
from executor_dind.scaffold import PASSWORD_FILE, Options, ScaffoldError

KUSTOMIZATION = """\
# my instance
resources:
- ../../base/sourcegraph   # the base
namespace: sg
components:
- ../../components/sizes/xs
- ../../components/utils/endpoints # REQUIRED - DO NOT REMOVE
"""


@pytest.fixture
def checkout(tmp_path):
    root = tmp_path / "deploy-sourcegraph-k8s"
    (root / "base" / "sourcegraph" / "frontend").mkdir(parents=True)
    (root / "components").mkdir()
    (root / "instances" / "mine").mkdir(parents=True)
    (root / "base/sourcegraph/frontend/sourcegraph-frontend.Service.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: sourcegraph-frontend}\n"
        "spec:\n  ports:\n  - {name: http, port: 30081}\n"
    )
    (root / "instances/mine/kustomization.yaml").write_text(KUSTOMIZATION)
    return root


def test_the_checkout_is_found_walking_up(checkout):
    assert scaffold.find_checkout(checkout / "base" / "sourcegraph") == checkout
    with pytest.raises(ScaffoldError, match="is not inside a deploy-sourcegraph-k8s checkout"):
        scaffold.find_checkout(checkout.parent)


def test_into_keeps_the_sequence_style_and_prefills_the_config(checkout):
    _, changes = scaffold.into(checkout / "instances/mine", Options())
    by_name = {change.path.name: change.after for change in changes}
    assert by_name["kustomization.yaml"] == KUSTOMIZATION + (
        "transformers:\n- executor-dind.yaml\n- executor-dind-must-run.yaml\n"
        "secretGenerator:\n- name: executor-secret\n  files:\n  - password=executor-password.txt\n"
    )
    assert by_name["executor-dind-must-run.yaml"] == scaffold.MUST_RUN_TEXT
    spec = parse_function_config(yaml.safe_load(by_name["executor-dind.yaml"]))
    assert spec.frontend.url == "http://sourcegraph-frontend:30081"
    assert spec.hardening.profile == "recommended"
    assert by_name[".gitignore"] == f"{PASSWORD_FILE}\n"


def test_components_go_before_endpoints(checkout):
    _, changes = scaffold.into(checkout / "instances/mine", Options(way="components", profile="baseline"))
    kustomization = yaml.safe_load(changes[0].after)
    assert kustomization["components"] == [
        "../../components/sizes/xs",
        "../../components/executor-dind",
        "../../components/executor-dind/private-registry",
        "../../components/utils/endpoints",
    ]
    vendored = sorted(str(c.path.relative_to(checkout)) for c in changes if "components" in c.path.parts)
    assert vendored[0] == "components/executor-dind/configmap-executor-dind-docker.yaml"
    assert not any("hardening" in name for name in vendored)


def test_a_gitignore_keeps_its_lines(checkout):
    (checkout / "instances/mine/.gitignore").write_text("secrets.env")
    _, changes = scaffold.into(checkout / "instances/mine", Options())
    assert next(c.after for c in changes if c.path.name == ".gitignore") == f"secrets.env\n{PASSWORD_FILE}\n"


def test_from_needs_a_sibling_and_the_only_instance_is_the_default(checkout):
    assert scaffold.default_source(checkout) == checkout / "instances/mine"
    with pytest.raises(ScaffoldError, match="must be beside"):
        scaffold.from_changes(checkout / "instances/mine", checkout / "other", Options())
    _, changes = scaffold.from_changes(checkout / "instances/mine", checkout / "instances/executors", Options())
    scaffold.write(changes)
    assert (checkout / "instances/executors/kustomization.yaml").read_text().startswith(KUSTOMIZATION)
    assert oct((checkout / "instances/executors" / PASSWORD_FILE).stat().st_mode & 0o777) == "0o600"
