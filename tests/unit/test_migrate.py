"""migrate: what it reads from an instance using upstream components/executors/dind, and what it comments out."""

from __future__ import annotations

import pytest

from executor_dind.migrate import comment_out, migrate
from executor_dind.scaffold import Options, ScaffoldError

KUSTOMIZATION = """\
resources:
  - ../../base/sourcegraph
namespace: sg
components:
  - ../../components/executors/dind # -- Enable dind executors
patches:
  - patch: |-
      - op: add
        path: /spec/replicas
        value: 3
    target:
      kind: Deployment
      name: executor
"""


@pytest.fixture
def instance(tmp_path):
    root = tmp_path / "deploy-sourcegraph-k8s"
    component = root / "components/executors/dind"
    (component / "patches").mkdir(parents=True)
    (root / "base/sourcegraph").mkdir(parents=True)
    (component / "kustomization.yaml").write_text("resources: [executor.ConfigMap.yaml]\n")
    (component / "executor.ConfigMap.yaml").write_text(
        "kind: ConfigMap\nmetadata: {name: executor-config}\ndata: {TMPDIR: /scratch, SRC_LOG_LEVEL: info}\n"
    )
    (component / "patches/executor.ConfigMap.yaml").write_text(
        "kind: ConfigMap\nmetadata: {name: executor-config}\ndata:\n  EXECUTOR_QUEUE_NAME: codeintel\n"
        "  EXECUTOR_MAXIMUM_NUM_JOBS: many\n"
    )
    mine = root / "instances/mine"
    mine.mkdir(parents=True)
    (mine / "kustomization.yaml").write_text(KUSTOMIZATION)
    return mine


def test_a_single_queue_the_log_level_and_what_cannot_be_mapped(instance):
    _, changes, migration, prune = migrate(instance, Options())
    assert migration.spec["queues"] == [{"name": "codeintel", "queueNames": ["codeintel"]}]
    assert migration.spec["log"] == {"level": "info"}
    assert migration.unmapped == [
        "a patch with target Deployment/executor: left in place; move its settings into executor-dind.yaml and "
        "remove it",
        "EXECUTOR_MAXIMUM_NUM_JOBS='many' is not a int: set maximumNumJobs by hand",
    ]
    assert prune == ["kubectl -n sg delete configmap/executor-config"]
    assert changes[0].after.startswith(
        KUSTOMIZATION.replace("  - ../../components/executors/dind", "  # - ../../components/executors/dind")
    )


def test_comment_out_keeps_the_line_and_its_comment():
    text, done = comment_out("x:\n  - 'a/b' # why\n  - path: p.yaml\n", ["a/b", "p.yaml", "absent"])
    assert text == "x:\n  # - 'a/b' # why\n  # - path: p.yaml\n"
    assert done == ["a/b", "p.yaml"]


def test_an_instance_without_upstream_executors_is_refused(instance):
    (instance / "kustomization.yaml").write_text("resources: [../../base/sourcegraph]\n")
    with pytest.raises(ScaffoldError, match=r"no components/executors/dind in its components: nothing to migrate"):
        migrate(instance, Options())
