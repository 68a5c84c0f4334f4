"""The audit stays linear at cluster scale, counted in operations (Python function calls), not wall time: a stream
of N namespaces, each with an executor, nine other workloads and a NetworkPolicy confining the executor to
its own namespace, costs per namespace what one namespace costs. Work per executor over every item (a rule that
scans the whole stream for each executor) makes the count grow with N², which this catches from 10 to 40."""

from __future__ import annotations

import cProfile
import json

from executor_dind.audit import audit
from executor_dind.krm.read import read_stream

NAMESPACE = """\
---
apiVersion: v1
kind: Namespace
metadata: {{name: ns-{n}, labels: {{team: t{n}}}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: executors, namespace: ns-{n}}}
spec:
  podSelector: {{matchLabels: {{tier: worker}}}}
  policyTypes: [Egress]
  egress:
    - to: [{{podSelector: {{matchLabels: {{tier: db}}}}}}]
      ports: [{{port: 5432}}]
    - to: [{{ipBlock: {{cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16]}}}}]
      ports: [{{port: 443}}]
"""


def workload(name: str, n: int, tier: str, image: str) -> str:
    """A Deployment as a JSON document (YAML's flow style)."""
    container = {"name": name, "image": image, "ports": [{"name": "http", "containerPort": 8080}]}
    template = {"metadata": {"labels": {"app": name, "tier": tier}}, "spec": {"containers": [container]}}
    spec = {"selector": {"matchLabels": {"app": name}}, "template": template}
    metadata = {"name": name, "namespace": f"ns-{n}"}
    return (
        "---\n" + json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}) + "\n"
    )


TIERS = ("web", "api", "db")


def cluster(namespaces: int) -> str:
    parts = []
    for n in range(namespaces):
        parts.append(NAMESPACE.format(n=n))
        parts.append(workload("executor", n, "worker", "sourcegraph/executor:6.0.0"))
        parts.extend(workload(f"app-{i}", n, TIERS[i % 3], "example.com/app:1") for i in range(9))
    return "".join(parts)


def operations(namespaces: int) -> tuple[int, int]:
    """Function calls of reading the stream and of auditing it, and the number of findings."""
    text = cluster(namespaces)
    profile = cProfile.Profile()
    profile.enable()
    findings = audit(read_stream(text, "cluster.yaml", build=True))
    profile.disable()
    return sum(entry.callcount for entry in profile.getstats()), len(findings)


def test_reading_and_auditing_grow_linearly_with_the_number_of_namespaces():
    operations(2)  # imports made inside functions on their first call are not the audit's work
    small, small_findings = operations(10)
    large, large_findings = operations(40)
    # The positive control: every executor is audited (the same findings in each namespace, four times as many).
    assert small_findings > 0 and large_findings == 4 * small_findings
    # Linear: four times the input, four times the calls (3.998x today; the count does not depend on the hash
    # seed). One call per item per executor adds 11 N² calls (4.07x); Prometheus's Services looked up per executor
    # over every item, as the audit did, made it 4.53x.
    assert large < 4.04 * small, large / small


def reached(text: str) -> list[str]:
    return [f.line() for f in audit(read_stream(text, "cluster.yaml", build=True)) if f.rule == "EXD305"]


# A namespaceSelector on labels: namespaces the input does not define (kube-system, which it names, and any
# other) may carry them, so their unshown tier=db pods are reached too, at worst.
UNSHOWN = "".join(
    f"a pod the input does not show in {where} (podSelector tier=db: no pod the input shows there carries it; "
    "read as matching) (TCP 5432), "
    for where in ("namespace kube-system", "any other namespace")
)
WORST_NAMESPACES = (
    " (namespaceSelector team=t1: a namespace the input does not define may carry it too; read as matching any "
    "namespace whose labels the input does not define)"
)


def internal_reachable(executor_namespace: int, pods_namespace: int, by_labels: bool = False) -> str:
    pods = ", ".join(f"Deployment/ns-{pods_namespace}/app-{i} (TCP 5432)" for i in (2, 5, 8))
    return (
        f"error EXD305 Deployment/ns-{executor_namespace}/executor spec.template.metadata.labels: jobs can reach pods "
        f"beyond the frontend's HTTP port, DNS and the registry: {UNSHOWN if by_labels else ''}{pods}: allowed by "
        f"NetworkPolicy executors (egress[0]){WORST_NAMESPACES if by_labels else ''} (internal-reachable)"
    )


def test_the_pods_a_peer_selects_are_shared_only_where_the_peer_does_not_depend_on_the_namespace():
    """The egress analysis keeps the pods each distinct peer selects: a podSelector alone selects in the policy's
    own namespace (each executor reaches its own namespace's db pods), a namespaceSelector names the namespaces
    (every executor reaches team t1's)."""
    assert reached(cluster(3)) == [internal_reachable(n, n) for n in range(3)]
    text = cluster(3).replace(
        "- to: [{podSelector:", "- to: [{namespaceSelector: {matchLabels: {team: t1}}, podSelector:"
    )
    assert reached(text) == [internal_reachable(n, 1, by_labels=True) for n in range(3)]
