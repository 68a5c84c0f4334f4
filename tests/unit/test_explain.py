"""explain: the text report (objects, queues, images, posture) and the Mermaid diagram, from the plan."""

from __future__ import annotations

from executor_dind import hardening
from executor_dind.explain import explain, mermaid, posture
from executor_dind.plan import plan

from .helpers import frontend_service, items, spec


def planned(**raw):
    return plan(spec(**raw), items(frontend_service("sourcegraph")))


def test_posture_has_a_row_per_control_baseline_first_with_its_state():
    rows = posture(spec(hardening={"profile": "recommended"}))
    assert [(row[0], row[1]) for row in rows] == [
        ("baseline", "on"),
        ("nodePool", "on"),
        ("gvisor", "off"),
        ("networkPolicy", "on"),
        ("podSecurity", "off"),
    ]
    assert [row[2] for row in rows] == [c.guarantees for c in hardening.CONTROLS]
    assert [row[3] for row in rows][2:] == [c.requires for c in hardening.CONTROLS][2:]
    # The node pool's requirement names this spec's taint and label, not the docs' `<taint.key>` placeholders.
    assert rows[1][3] == (
        "a node pool tainted `executor-dind.dev/untrusted=true:NoSchedule` and labelled "
        "`executor-dind.dev/untrusted=true`, ideally recycled often"
    )


def test_text_lists_every_object_the_plan_holds_and_the_queues():
    raw = {"queues": [{"name": "batches", "replicas": 2, "maximumNumJobs": 3}]}
    report = explain(spec(**raw), planned(**raw), "text")
    lines = report.splitlines()
    assert lines[0] == "executor-dind would inject 6 objects into namespace sourcegraph:"
    assert lines[1:7] == [
        "  ServiceAccount/sourcegraph/executor-dind",
        "  ConfigMap/sourcegraph/executor-dind-docker",
        "  Service/sourcegraph/executor-dind-metrics",
        "  Deployment/sourcegraph/executor-batches",
        "  StatefulSet/sourcegraph/executor-dind-registry",
        "  Service/sourcegraph/executor-dind-registry",
    ]
    assert "frontend: http://sourcegraph-frontend:30080" in lines
    assert "  executor-batches: batches; isolation shared; 2 replica(s) x 3 job(s)" in lines
    assert "security posture (profile baseline):" in lines


def test_mermaid_blocks_only_with_the_network_policy_and_names_the_sandbox():
    open_diagram = mermaid(spec(), planned().context)
    assert "  pod -. not restricted .-> metadata" in open_diagram
    assert 'subgraph pod["executor pod (host kernel)"]' in open_diagram
    raw = {"namespace": "executors", "hardening": {"profile": "strict"}}
    strict = explain(spec(**raw), planned(**raw), "mermaid")
    assert "  pod -- blocked --x metadata" in strict
    assert 'subgraph pod["executor pod (gVisor sandbox)"]' in strict
    assert "  pod --> registry" in strict
    assert "  pod --> registry" not in mermaid(spec(privateRegistry={"enabled": False}), planned().context)


def test_text_shows_the_scaling_rule_and_the_recycling_of_each_queue():
    raw = {
        "queues": [
            {
                "name": "batches",
                "maximumNumJobs": 4,
                "autoscaling": {"maxReplicas": 10, "prometheus": "http://prometheus.monitoring.svc:9090"},
                "recycle": {"afterJobs": 50, "afterTime": "6h"},
            },
            {"name": "codeintel", "replicas": 2, "recycle": {"afterTime": "1h"}},
        ]
    }
    lines = explain(spec(**raw), planned(**raw), "text").splitlines()
    assert "  ScaledObject/sourcegraph/executor-batches" in lines
    queues = lines[lines.index("queues:") + 1 : lines.index("images:")]
    assert queues == [
        "  executor-batches: batches; isolation shared; KEDA: ceil((queued + running jobs) / 4) pods in 0..10 "
        "x 4 job(s) (Prometheus http://prometheus.monitoring.svc:9090); an executor exits after 50 jobs or 6h",
        "  executor-codeintel: codeintel; isolation shared; 2 replica(s) x 4 job(s); an executor exits after 1h",
    ]
