"""`executor-dind doctor` against a real kube-apiserver v1.37.2 (tools/runtime/kube pins k8s.io/kubernetes v1.37.2)
with kwok nodes, through the system's kubectl: a cluster prepared as a user would (pool nodes labelled and tainted,
the gVisor RuntimeClass, the strict render applied with its Namespace and NetworkPolicies, the password Secret,
KEDA's CRDs) passes every check; each prerequisite broken alone fails exactly its own check with exit 1, and the
cluster is put back before the next case. Usage and config errors exit 2.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runtime.controlplane import ControlPlane
from runtime.harness import ROOT, in_netns, render, sh, wait_for
from runtime.test_keda import install_crds
from runtime.test_scheduling import node

NS = "sourcegraph-executors"
KEY, VALUE = "executor-dind.dev/untrusted", "true"
POOL_TAINT = f"{KEY}={VALUE}:NoSchedule"
PASSWORD = "a-real-access-token-0123456789"
DOC = ROOT / "docs" / "doctor.md"


def doc_block(phrase: str) -> str:
    """The text of docs/doctor.md's block whose marker says `phrase`."""
    text = DOC.read_text()
    fence = text.index("```", text.index(phrase))
    start = text.index("\n", fence) + 1
    return text[start : text.index("```", start)]


# The page's config is the one these tests run with: the strict profile, one autoscaled queue, a namespace of its own.
SPEC = yaml.safe_load(doc_block("used by tests: doctor config"))["spec"]
NODES = {"pool-1": (True, True), "pool-2": (True, True), "general-1": (False, False)}  # name: (tainted, labelled)
ENFORCEMENT_NOTE = (
    "note  NetworkPolicies: whether the cluster's network plugin enforces them (egress included) cannot be read "
    "from the API; fix: check that the CNI enforces NetworkPolicy egress (Calico, Cilium, GKE Dataplane V2, ...)"
)
PASSING = [
    "pass  Kubernetes version: v1.37.2 runs native sidecars (on by default from 1.29)",
    f"pass  node pool: 2 nodes labelled {KEY}={VALUE}: pool-1, pool-2",
    f"pass  node pool: every pool node carries the taint {POOL_TAINT}",
    "pass  node pool: 2 pool nodes Ready and schedulable for executors",
    "pass  RuntimeClass: 'gvisor' runs handler 'runsc' (a sandbox)",
    f"pass  namespace: {NS!r} admits privileged pods (audit=baseline, enforce=privileged, warn=baseline)",
    f"pass  password Secret: 'executor-secret' in namespace {NS!r} holds key 'password' (not a placeholder or an "
    "example)",
    "pass  NetworkPolicies: executor-dind-executors, executor-dind-registry present",
    ENFORCEMENT_NOTE,
    "pass  KEDA: CRD scaledobjects.keda.sh is installed",
]
SUMMARY_PASSING = f"doctor: 9 passed, 0 failed, 1 note (namespace {NS})"


def secret(value: str) -> dict:
    encoded = base64.b64encode(value.encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "executor-secret", "namespace": NS},
            "type": "Opaque", "data": {"password": encoded}}  # fmt: skip


def runtime_class(name: str, handler: str) -> dict:
    return {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": name}, "handler": handler}


class Cluster:
    def __init__(self, plane: ControlPlane, executor_dind: str, directory: Path) -> None:
        self.plane, self.executor_dind, self.directory = plane, executor_dind, directory

    def config(self, name: str, spec: dict) -> Path:
        path = self.directory / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"apiVersion": "executor-dind.dev/v1alpha1", "kind": "ExecutorDind",
                                        "spec": spec}))  # fmt: skip
        return path

    def doctor(self, *args: str, spec: dict | None = None) -> subprocess.CompletedProcess:
        config = self.config("doctor", spec or SPEC)
        command = [self.executor_dind, "doctor", "--config", str(config), "--kubeconfig", self.plane.kubeconfig]
        return sh(in_netns(self.plane.netns, [*command, *args]), timeout=300)

    def ok(self, *args: str, stdin: str | None = None) -> None:
        done = self.plane.kubectl(*args, stdin=stdin)
        assert done.returncode == 0, f"kubectl {args}: {done.stderr}"

    def apply(self, objects: list[dict]) -> None:
        done = self.plane.apply(yaml.safe_dump_all(objects))
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def cluster(janitor, executor_dind, tmp_path_factory) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("doctor")
    (directory / "plane").mkdir()
    plane = ControlPlane(janitor, directory / "plane").start(with_nodes=True)
    try:
        prepared = Cluster(plane, executor_dind, directory)
        prepared.apply([node(name, *flags) for name, flags in NODES.items()])

        def ready() -> bool:
            items = plane.get_json("nodes")["items"]
            conditions = [{c["type"]: c["status"] for c in n["status"].get("conditions", [])} for n in items]
            taints = [{t["key"] for t in n["spec"].get("taints", [])} for n in items]
            return (
                len(items) == 3 and all(c.get("Ready") == "True" for c in conditions) and set().union(*taints) <= {KEY}
            )

        # Ready, and the node lifecycle controller has lifted node.kubernetes.io/not-ready.
        wait_for("kwok nodes Ready and schedulable", ready, timeout=90)
        prepared.apply([runtime_class("gvisor", "runsc"), runtime_class("plain", "runc")])
        objects = render(executor_dind, SPEC, directory, "strict")
        prepared.apply([obj for obj in objects if obj["kind"] != "ScaledObject"])
        prepared.apply([secret(PASSWORD)])
        # Before KEDA: the render's ScaledObjects cannot be applied, and the doctor says why.
        prepared.before_keda = prepared.doctor()  # type: ignore[attr-defined]
        install_crds(plane)
        prepared.apply([obj for obj in objects if obj["kind"] == "ScaledObject"])
        prepared.objects = objects  # type: ignore[attr-defined]
        yield prepared
    finally:
        plane.stop()


def expect(done: subprocess.CompletedProcess, code: int, replaced: dict[str, str], summary: str) -> None:
    """The passing output with some lines replaced (each by the failure's exact line), and the exit code."""
    lines = [replaced.get(line, line) for line in PASSING]
    assert (done.returncode, done.stderr) == (code, "")
    assert done.stdout.splitlines() == [line for line in lines if line] + [summary]


def test_the_pages_config_is_the_strict_autoscaled_one() -> None:
    assert SPEC == {
        "namespace": NS,
        "frontend": {"url": "http://sourcegraph-frontend.sourcegraph.svc.cluster.local:30080"},
        "hardening": {"profile": "strict"},
        "queues": [{"name": "all", "queueNames": ["batches", "codeintel"], "autoscaling": {"maxReplicas": 3}}],
    }


def test_a_prepared_cluster_passes(cluster) -> None:
    done = cluster.doctor()
    print(done.stdout)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [*PASSING, SUMMARY_PASSING]
    assert done.stdout == doc_block("used by tests: doctor passing")


def test_without_kedas_crds(cluster) -> None:
    expect(
        cluster.before_keda,
        1,
        {
            "pass  KEDA: CRD scaledobjects.keda.sh is installed": "fail  KEDA: no CRD scaledobjects.keda.sh: the API "
            "server refuses the render's autoscaling objects; fix: install KEDA (helm install keda kedacore/keda "
            "--namespace keda --create-namespace)"
        },
        f"doctor: 8 passed, 1 failed, 1 note (namespace {NS})",
    )


@contextlib.contextmanager
def changed(cluster: Cluster, change: list[str], restore: list[str]) -> Iterator[None]:
    cluster.ok(*change)
    try:
        yield
    finally:
        cluster.ok(*restore)


def test_a_pool_node_without_the_taint(cluster) -> None:
    with changed(cluster, ["taint", "nodes", "pool-2", f"{KEY}-"], ["taint", "nodes", "pool-2", POOL_TAINT]):
        done = cluster.doctor()
    expect(
        done,
        1,
        {
            f"pass  node pool: every pool node carries the taint {POOL_TAINT}": "fail  node pool: 1 of 2 pool nodes "
            f"lack the taint {POOL_TAINT} (pool-2): other workloads can land beside untrusted jobs; fix: kubectl "
            f"taint nodes pool-2 {POOL_TAINT}"
        },
        f"doctor: 8 passed, 1 failed, 1 note (namespace {NS})",
    )


def test_every_pool_node_cordoned(cluster) -> None:
    with changed(cluster, ["cordon", "pool-1", "pool-2"], ["uncordon", "pool-1", "pool-2"]):
        done = cluster.doctor()
    expect(
        done,
        1,
        {
            "pass  node pool: 2 pool nodes Ready and schedulable for executors": "fail  node pool: no pool node can "
            "take an executor pod (pool-1: cordoned; pool-2: cordoned); fix: make the pool's nodes Ready and "
            "schedulable (kubectl uncordon NODE; kubectl describe node NODE)"
        },
        f"doctor: 8 passed, 1 failed, 1 note (namespace {NS})",
    )


def test_no_node_with_the_pool_label(cluster) -> None:
    spec = {**SPEC, "hardening": {"profile": "strict", "nodePool": {"nodeSelector": {"pool": "executors"}}}}
    done = cluster.doctor(spec=spec)
    expect(
        done,
        1,
        {
            f"pass  node pool: 2 nodes labelled {KEY}={VALUE}: pool-1, pool-2": "fail  node pool: no node is labelled "
            f"pool=executors (of 3 nodes); fix: label the pool's nodes and taint them: kubectl label nodes NODE "
            f"pool=executors && kubectl taint nodes NODE {POOL_TAINT}",
            f"pass  node pool: every pool node carries the taint {POOL_TAINT}": "",
            "pass  node pool: 2 pool nodes Ready and schedulable for executors": "",
        },
        f"doctor: 6 passed, 1 failed, 1 note (namespace {NS})",
    )


@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            "absent",
            "fail  RuntimeClass: no RuntimeClass 'absent': the API server refuses the executor pods; fix: install "
            "gVisor on the pool's nodes and create RuntimeClass 'absent' with handler runsc (or set "
            "spec.hardening.gvisor.createRuntimeClass: true in the config and apply the render)",
        ),
        (
            "plain",
            "fail  RuntimeClass: 'plain' runs handler 'runc', not a sandbox: dind's capabilities reach the node's "
            "kernel; fix: recreate RuntimeClass 'plain' with handler runsc, or name the cluster's gVisor "
            "RuntimeClass in spec.hardening.gvisor.runtimeClassName",
        ),
    ],
)
def test_the_runtime_class(cluster, name: str, line: str) -> None:
    spec = {**SPEC, "hardening": {"profile": "strict", "gvisor": {"runtimeClassName": name}}}
    done = cluster.doctor(spec=spec)
    expect(
        done,
        1,
        {"pass  RuntimeClass: 'gvisor' runs handler 'runsc' (a sandbox)": line},
        f"doctor: 8 passed, 1 failed, 1 note (namespace {NS})",
    )


def test_a_namespace_enforcing_baseline(cluster) -> None:
    enforce = "pod-security.kubernetes.io/enforce"
    with changed(
        cluster,
        ["label", "namespace", NS, f"{enforce}=baseline", "--overwrite"],
        ["label", "namespace", NS, f"{enforce}=privileged", "--overwrite"],
    ):
        done = cluster.doctor()
    expect(
        done,
        1,
        {
            f"pass  namespace: {NS!r} admits privileged pods (audit=baseline, enforce=privileged, warn=baseline)": (
                f"fail  namespace: {NS!r} has {enforce}=baseline: Pod Security Admission must admit the privileged "
                f"dind sidecar; fix: kubectl label namespace {NS} --overwrite {enforce}=privileged"
            )
        },
        f"doctor: 8 passed, 1 failed, 1 note (namespace {NS})",
    )


SECRET_LINE = (
    f"pass  password Secret: 'executor-secret' in namespace {NS!r} holds key 'password' (not a placeholder or an "
    "example)"
)
CREATE = (
    f"kubectl -n {NS} create secret generic executor-secret --from-file=password=TOKEN_FILE (a file outside git "
    "holding executors.accessToken from the site configuration)"
)


@pytest.mark.parametrize(
    ("broken", "line"),
    [
        (
            "placeholder",
            f"fail  password Secret: key 'password' of 'executor-secret' in namespace {NS!r} still holds the "
            f"placeholder `executor-dind init` wrote (in executor-password.txt); fix: kubectl -n {NS} delete secret "
            f"executor-secret && {CREATE}",
        ),
        (
            "deleted",
            f"fail  password Secret: no 'executor-secret' in namespace {NS!r}: the kubelet cannot start the executors; "
            f"fix: {CREATE}",
        ),
    ],
)
def test_the_password_secret(cluster, broken: str, line: str) -> None:
    try:
        if broken == "placeholder":
            cluster.apply([secret("REPLACE-ME-with-executors.accessToken")])
        else:
            cluster.ok("-n", NS, "delete", "secret", "executor-secret")
        done = cluster.doctor()
    finally:
        cluster.apply([secret(PASSWORD)])
    expect(done, 1, {SECRET_LINE: line}, f"doctor: 8 passed, 1 failed, 1 note (namespace {NS})")


def test_a_network_policy_missing(cluster) -> None:
    registry_policy = [o for o in cluster.objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] ==
                       "executor-dind-registry"]  # fmt: skip
    assert len(registry_policy) == 1
    try:
        cluster.ok("-n", NS, "delete", "networkpolicy", "executor-dind-registry")
        done = cluster.doctor()
    finally:
        cluster.apply(registry_policy)
    expect(
        done,
        1,
        {
            "pass  NetworkPolicies: executor-dind-executors, executor-dind-registry present": "fail  NetworkPolicies: "
            f"executor-dind-registry missing in namespace {NS!r}; fix: apply the render (its NetworkPolicies)"
        },
        f"doctor: 8 passed, 1 failed, 1 note (namespace {NS})",
    )


def test_usage_and_config_errors_exit_2(cluster) -> None:
    bad = cluster.doctor(spec={**SPEC, "hardening": {"profile": "paranoid"}})
    config = cluster.directory / "doctor.yaml"
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.splitlines() == [
        f"error ExecutorDind/-/: invalid functionConfig in {config}: spec.hardening.profile: must be one of baseline, "
        "recommended, strict, got 'paranoid'"
    ]
    nowhere = cluster.doctor(spec={"hardening": {"profile": "recommended"}})
    assert (nowhere.returncode, nowhere.stdout) == (2, "")
    assert nowhere.stderr == (
        f"executor-dind: doctor: {config}: spec.namespace is not set and no manifests name Sourcegraph's namespace: "
        f"set spec.namespace, or pass the instance's manifests (executor-dind doctor --config {config} "
        "rendered.yaml)\n"
    )
    no_context = cluster.doctor("--context", "elsewhere")
    assert (no_context.returncode, no_context.stdout) == (2, "")
    assert no_context.stderr == (
        'executor-dind: doctor: cannot reach the cluster of context elsewhere: error: context "elsewhere" does not '
        "exist (exit 1): check --kubeconfig and --context (kubectl cluster-info)\n"
    )
    # The positive control: the same command with the kubeconfig's own context passes.
    assert cluster.doctor("--context", "edr").returncode == 0


def test_the_pages_failing_run(cluster) -> None:
    """docs/doctor.md's failing example: a pool node untainted and the placeholder password, both at once."""
    try:
        cluster.ok("taint", "nodes", "pool-2", f"{KEY}-")
        cluster.apply([secret("REPLACE-ME-with-executors.accessToken")])
        done = cluster.doctor()
    finally:
        cluster.ok("taint", "nodes", "pool-2", POOL_TAINT)
        cluster.apply([secret(PASSWORD)])
    assert (done.returncode, done.stderr) == (1, "")
    assert [line for line in done.stdout.splitlines() if line.startswith("fail")] == [
        f"fail  node pool: 1 of 2 pool nodes lack the taint {POOL_TAINT} (pool-2): other workloads can land beside "
        f"untrusted jobs; fix: kubectl taint nodes pool-2 {POOL_TAINT}",
        f"fail  password Secret: key 'password' of 'executor-secret' in namespace {NS!r} still holds the placeholder "
        f"`executor-dind init` wrote (in executor-password.txt); fix: kubectl -n {NS} delete secret executor-secret "
        f"&& {CREATE}",
    ]
    assert done.stdout == doc_block("used by tests: doctor failing")
