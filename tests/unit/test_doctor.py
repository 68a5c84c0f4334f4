"""doctor: what a render needs of the cluster (read from the built objects), each check over the JSON a cluster
returns, and the kubectl edge's command lines. The runtime tier (tests/runtime/test_doctor.py) runs the same checks
against a real kube-apiserver and kwok nodes."""

from __future__ import annotations

import base64
from types import MappingProxyType

import pytest

from executor_dind.doctor import checks
from executor_dind.doctor.checks import Answer, Line, Query, diagnose, queries
from executor_dind.doctor.kubectl import Kubectl, read
from executor_dind.doctor.needs import Needs, SecretRef, Toleration, needs
from executor_dind.hardening.pod_security import PSA_LABELS

from .built import build

KEY, VALUE = "executor-dind.dev/untrusted", "true"
POOL = Toleration(KEY, VALUE, "NoSchedule")
NS = "executors"
PROMETHEUS = "http://prometheus.sourcegraph.svc.cluster.local:30090"
STRICT = Needs(
    namespace=NS,
    node_selector=MappingProxyType({KEY: VALUE}),
    tolerations=(POOL,),
    runtime_class="gvisor",
    psa_labels=MappingProxyType(PSA_LABELS),
    secrets=(SecretRef("executor-secret", "password"),),
    network_policies=("executor-dind-executors", "executor-dind-registry"),
    crds=("scaledobjects.keda.sh",),
    native_sidecar=True,
)
BASELINE = Needs(namespace=NS, secrets=(SecretRef("executor-secret", "password"),), native_sidecar=True)


def node(name: str, labelled: bool = True, tainted: bool = True, ready: str = "True", **spec) -> dict:
    taints = [{"key": KEY, "value": VALUE, "effect": "NoSchedule"}] if tainted else []
    return {
        "metadata": {"name": name, "labels": {KEY: VALUE} if labelled else {}},
        "spec": {"taints": taints + spec.pop("taints", []), **spec},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def listed(*items: dict) -> Answer:
    return Answer({"kind": "List", "items": list(items)})


def secret(**data: str) -> dict:
    return {"kind": "Secret", "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}


def crd(established: str = "True") -> dict:
    return {"status": {"conditions": [{"type": "Established", "status": established}]}}


def version(major: str = "1", minor: str = "37", git: str = "v1.37.2") -> Answer:
    return Answer({"serverVersion": {"major": major, "minor": minor, "gitVersion": git}})


def healthy(wanted: Needs = STRICT) -> dict[Query, Answer]:
    return {
        Query("version"): version(),
        Query("nodes"): listed(node("pool-1"), node("general", labelled=False, tainted=False)),
        Query("runtimeclass", "gvisor"): Answer({"handler": "runsc"}),
        Query("namespace", NS): Answer({"metadata": {"name": NS, "labels": dict(wanted.psa_labels)}}),
        Query("secret", "executor-secret", NS): Answer(secret(password="a-real-token")),
        Query("networkpolicies", "", NS): listed(
            *({"metadata": {"name": name}} for name in ("executor-dind-executors", "executor-dind-registry", "other"))
        ),
        Query("customresourcedefinition", "scaledobjects.keda.sh"): Answer(crd()),
    }


def text(lines: list[Line]) -> list[str]:
    return [line.text() for line in lines]


# What the render needs -----------------------------------------------------------------------------------------


def test_a_strict_autoscaled_render_needs_every_prerequisite():
    objects = build(
        namespace=NS,
        hardening={"profile": "strict"},
        queues=[
            {
                "name": "all",
                "queueNames": ["batches", "codeintel"],
                "autoscaling": {"maxReplicas": 3, "prometheus": PROMETHEUS},
            }
        ],
    )
    assert needs(tuple(objects), NS) == STRICT


def test_a_baseline_render_needs_the_namespace_the_secret_and_native_sidecars_only():
    assert needs(tuple(build(namespace=NS)), NS) == BASELINE
    plain = needs(tuple(build(namespace=NS, docker={"nativeSidecar": False})), NS)
    assert plain == BASELINE._replace(native_sidecar=False)


def test_the_password_secret_is_the_one_the_pods_read():
    objects = build(namespace=NS, frontend={"passwordSecret": {"name": "sg-executors", "key": "token"}})
    assert needs(tuple(objects), NS).secrets == (SecretRef("sg-executors", "token"),)


def test_a_healthy_cluster_passes_and_reads_only_what_the_render_needs():
    assert queries(STRICT) == tuple(healthy())
    assert queries(BASELINE) == (Query("version"), Query("namespace", NS), Query("secret", "executor-secret", NS))
    assert text(diagnose(STRICT, healthy())) == [
        "pass  Kubernetes version: v1.37.2 runs native sidecars (on by default from 1.29)",
        f"pass  node pool: 1 node labelled {KEY}={VALUE}: pool-1",
        f"pass  node pool: every pool node carries the taint {KEY}={VALUE}:NoSchedule",
        "pass  node pool: 1 pool node Ready and schedulable for executors",
        "pass  RuntimeClass: 'gvisor' runs handler 'runsc' (a sandbox)",
        "pass  namespace: 'executors' admits privileged pods (audit=baseline, enforce=privileged, warn=baseline)",
        "pass  password Secret: 'executor-secret' in namespace 'executors' holds key 'password' (not a placeholder "
        "or an example)",
        "pass  NetworkPolicies: executor-dind-executors, executor-dind-registry present",
        "note  NetworkPolicies: whether the cluster's network plugin enforces them (egress included) cannot be read "
        "from the API; fix: check that the CNI enforces NetworkPolicy egress (Calico, Cilium, GKE Dataplane V2, ...)",
        "pass  KEDA: CRD scaledobjects.keda.sh is installed",
    ]


def test_controls_that_are_off_are_notes_never_passes():
    answers = {q: a for q, a in healthy().items() if q in queries(BASELINE)}
    answers[Query("namespace", NS)] = Answer({"metadata": {"name": NS}})
    assert text(diagnose(BASELINE, answers)) == [
        "pass  Kubernetes version: v1.37.2 runs native sidecars (on by default from 1.29)",
        "note  node pool: hardening.nodePool is off: executor pods may share nodes with Sourcegraph's services; fix: "
        "set spec.hardening.profile: recommended (or hardening.nodePool.enabled: true) in the config",
        "note  RuntimeClass: hardening.gvisor is off: dind runs privileged on the node's kernel; fix: set "
        "spec.hardening.profile: strict (or hardening.gvisor.enabled: true) in the config",
        "pass  namespace: namespace 'executors' exists",
        "note  namespace: namespace 'executors' has no pod-security.kubernetes.io/enforce label: the API server's "
        "default level applies (privileged unless its admission configuration sets another, which cannot be read "
        "from the API); fix: kubectl label namespace executors pod-security.kubernetes.io/enforce=privileged",
        "pass  password Secret: 'executor-secret' in namespace 'executors' holds key 'password' (not a placeholder "
        "or an example)",
        "note  NetworkPolicies: hardening.networkPolicy is off: executors reach private addresses and the cloud "
        "metadata endpoint; fix: set spec.hardening.profile: recommended (or hardening.networkPolicy.enabled: true) "
        "in the config",
    ]


# Each check's failures, each beside the healthy answer that passes (the positive control above) ----------------


def only(check: str, lines: list[Line]) -> list[str]:
    return [line.text() for line in lines if line.check == check and line.status != "pass"]


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        (
            [node("general", labelled=False, tainted=False)],
            f"fail  node pool: no node is labelled {KEY}={VALUE} (of 1 node); fix: label the pool's nodes and taint "
            f"them: kubectl label nodes NODE {KEY}={VALUE} && kubectl taint nodes NODE {KEY}={VALUE}:NoSchedule",
        ),
        (
            [node("pool-1"), node("pool-2", tainted=False)],
            f"fail  node pool: 1 of 2 pool nodes lack the taint {KEY}={VALUE}:NoSchedule (pool-2): other workloads "
            f"can land beside untrusted jobs; fix: kubectl taint nodes pool-2 {KEY}={VALUE}:NoSchedule",
        ),
        (
            [node("pool-1", ready="False"), node("pool-2", unschedulable=True)],
            "fail  node pool: no pool node can take an executor pod (pool-1: not Ready; pool-2: cordoned); fix: make "
            "the pool's nodes Ready and schedulable (kubectl uncordon NODE; kubectl describe node NODE)",
        ),
        (
            [node("pool-1", taints=[{"key": "gpu", "effect": "NoExecute"}])],
            "fail  node pool: no pool node can take an executor pod (pool-1: tainted gpu:NoExecute, which the "
            "executors do not tolerate); fix: make the pool's nodes Ready and schedulable (kubectl uncordon NODE; "
            "kubectl describe node NODE)",
        ),
    ],
    ids=["unlabelled", "untainted", "unusable", "foreign-taint"],
)
def test_the_node_pool(nodes, expected):
    answers = {**healthy(), Query("nodes"): listed(*nodes)}
    assert only("node pool", diagnose(STRICT, answers)) == [expected]
    # A PreferNoSchedule taint does not keep the executors off.
    soft = node("pool-1", taints=[{"key": "gpu", "effect": "PreferNoSchedule"}])
    assert only("node pool", diagnose(STRICT, {**healthy(), Query("nodes"): listed(soft)})) == []


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (
            None,
            "fail  RuntimeClass: no RuntimeClass 'gvisor': the API server refuses the executor pods; fix: install "
            "gVisor on the pool's nodes and create RuntimeClass 'gvisor' with handler runsc (or set "
            "spec.hardening.gvisor.createRuntimeClass: true in the config and apply the render)",
        ),
        (
            {"handler": "runc"},
            "fail  RuntimeClass: 'gvisor' runs handler 'runc', not a sandbox: dind's capabilities reach the node's "
            "kernel; fix: recreate RuntimeClass 'gvisor' with handler runsc, or name the cluster's gVisor "
            "RuntimeClass in spec.hardening.gvisor.runtimeClassName",
        ),
        ({"handler": "gvisor"}, None),
        ({"handler": "kata-qemu"}, None),
    ],
)
def test_the_runtime_class_handler_is_the_sandbox_table(found, expected):
    answers = {**healthy(), Query("runtimeclass", "gvisor"): Answer(found)}
    assert only("RuntimeClass", diagnose(STRICT, answers)) == ([expected] if expected else [])


ENFORCE = "pod-security.kubernetes.io/enforce"


@pytest.mark.parametrize(
    ("wanted", "found", "expected"),
    [
        (STRICT, None, "fail  namespace: no namespace 'executors'; fix: apply the render (it creates the Namespace)"),
        (BASELINE, None, "fail  namespace: no namespace 'executors'; fix: kubectl create namespace executors"),
        (
            BASELINE,
            {"metadata": {"name": NS}, "status": {"phase": "Terminating"}},
            "fail  namespace: namespace 'executors' is being deleted; fix: wait for it to go, then re-create it",
        ),
        (
            BASELINE,
            {"metadata": {"name": NS, "labels": {ENFORCE: "baseline"}}},
            f"fail  namespace: 'executors' has {ENFORCE}=baseline: Pod Security Admission must admit the privileged "
            f"dind sidecar; fix: kubectl label namespace executors --overwrite {ENFORCE}=privileged, if the executors "
            "have it to themselves; else give them their own (spec.namespace with hardening.podSecurity.enabled: true)",
        ),
        (
            STRICT,
            {
                "metadata": {
                    "name": NS,
                    "labels": {ENFORCE: "privileged", "pod-security.kubernetes.io/warn": "restricted"},
                }
            },
            f"fail  namespace: 'executors' has {ENFORCE}-version=(unset), pod-security.kubernetes.io/warn=restricted, "
            "pod-security.kubernetes.io/warn-version=(unset), pod-security.kubernetes.io/audit=(unset), "
            "pod-security.kubernetes.io/audit-version=(unset): Pod Security Admission must admit the privileged dind "
            f"sidecar; fix: kubectl label namespace executors --overwrite {ENFORCE}-version=latest "
            "pod-security.kubernetes.io/warn=baseline pod-security.kubernetes.io/warn-version=latest "
            "pod-security.kubernetes.io/audit=baseline pod-security.kubernetes.io/audit-version=latest",
        ),
    ],
    ids=["missing-rendered", "missing", "terminating", "baseline", "not-the-profiles"],
)
def test_the_namespace(wanted, found, expected):
    answers = {**healthy(wanted), Query("namespace", NS): Answer(found)}
    assert only("namespace", diagnose(wanted, answers)) == [expected]


CREATE = (
    "kubectl -n executors create secret generic executor-secret --from-file=password=TOKEN_FILE (a file outside git "
    "holding executors.accessToken from the site configuration)"
)


@pytest.mark.parametrize(
    ("found", "problem"),
    [
        (secret(password="REPLACE-ME-with-executors.accessToken"), "still holds the placeholder `executor-dind init` "
         "wrote (in executor-password.txt)"),
        (secret(password="our-shared-secret"), "is the example of deploy-sourcegraph-k8s's template (public)"),
        (secret(password=" \n"), "is empty"),
        (secret(token="a-real-token"), "is missing (the Secret has no such key; the kubelet cannot start the "
         "executor)"),
    ],
    ids=["placeholder", "upstream-example", "empty", "no-key"],
)  # fmt: skip
def test_the_password_is_judged_as_the_function_and_the_audit_judge_it(found, problem):
    answers = {**healthy(), Query("secret", "executor-secret", NS): Answer(found)}
    assert only("password Secret", diagnose(STRICT, answers)) == [
        f"fail  password Secret: key 'password' of 'executor-secret' in namespace 'executors' {problem}; fix: "
        f"kubectl -n executors delete secret executor-secret && {CREATE}"
    ]


def test_no_password_secret():
    answers = {**healthy(), Query("secret", "executor-secret", NS): Answer(None)}
    assert only("password Secret", diagnose(STRICT, answers)) == [
        "fail  password Secret: no 'executor-secret' in namespace 'executors': the kubelet cannot start the "
        f"executors; fix: {CREATE}"
    ]
    string_data = Answer({"kind": "Secret", "stringData": {"password": "a-real-token"}})
    assert (
        only("password Secret", diagnose(STRICT, {**healthy(), Query("secret", "executor-secret", NS): string_data}))
        == []
    )


def test_a_missing_network_policy_fails_and_enforcement_stays_a_note():
    answers = {**healthy(), Query("networkpolicies", "", NS): listed({"metadata": {"name": "executor-dind-executors"}})}
    assert only("NetworkPolicies", diagnose(STRICT, answers)) == [
        "fail  NetworkPolicies: executor-dind-registry missing in namespace 'executors'; fix: apply the render (its "
        "NetworkPolicies)",
        "note  NetworkPolicies: whether the cluster's network plugin enforces them (egress included) cannot be read "
        "from the API; fix: check that the CNI enforces NetworkPolicy egress (Calico, Cilium, GKE Dataplane V2, ...)",
    ]


def test_kedas_crds():
    missing = {**healthy(), Query("customresourcedefinition", "scaledobjects.keda.sh"): Answer(None)}
    assert only("KEDA", diagnose(STRICT, missing)) == [
        "fail  KEDA: no CRD scaledobjects.keda.sh: the API server refuses the render's autoscaling objects; fix: "
        "install KEDA (helm install keda kedacore/keda --namespace keda --create-namespace)"
    ]
    pending = {**healthy(), Query("customresourcedefinition", "scaledobjects.keda.sh"): Answer(crd("False"))}
    assert only("KEDA", diagnose(STRICT, pending)) == [
        "fail  KEDA: CRD scaledobjects.keda.sh is not Established; fix: kubectl describe crd scaledobjects.keda.sh"
    ]
    # A ScaledJob in the render asks for its own CRD.
    job = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob", "metadata": {"name": "executor-jobs"}}
    assert needs((job,), NS).crds == ("scaledjobs.keda.sh",)


@pytest.mark.parametrize(
    ("answer", "native", "expected"),
    [
        (version(minor="29+", git="v1.29.4-gke.1"), True, "pass  Kubernetes version: v1.29.4-gke.1 runs native "
         "sidecars (on by default from 1.29)"),
        (version(minor="28", git="v1.28.9"), True, "fail  Kubernetes version: v1.28.9: native sidecars (dind as an "
         "init container with restartPolicy: Always) need the SidecarContainers feature gate, off by default in "
         "1.28; fix: enable --feature-gates=SidecarContainers=true on the API server and every kubelet, or set "
         "spec.docker.nativeSidecar: false in the config (dind as a plain container)"),
        (version(minor="27", git="v1.27.1"), True, "fail  Kubernetes version: v1.27.1 has no native sidecars (from "
         "1.29); fix: upgrade to Kubernetes 1.29 or later, or set spec.docker.nativeSidecar: false in the config "
         "(dind as a plain container)"),
        (version(minor="27", git="v1.27.1"), False, "pass  Kubernetes version: v1.27.1; dind runs as a plain "
         "container (no native sidecar needed)"),
        (version(minor="", git="v?"), True, "fail  Kubernetes version: the server's version 'v?' cannot be read; "
         "fix: kubectl version"),
    ],
    ids=["1.29-gke", "1.28", "1.27", "1.27-plain", "unreadable"],
)  # fmt: skip
def test_the_kubernetes_version(answer, native, expected):
    wanted = STRICT._replace(native_sidecar=native)
    lines = diagnose(wanted, {**healthy(), Query("version"): answer})
    assert [line.text() for line in lines if line.check == "Kubernetes version"] == [expected]


def test_a_refused_read_fails_its_check_with_kubectls_words_and_no_other():
    error = 'secrets "executor-secret" is forbidden: User "dev" cannot get resource "secrets" (exit 1)'
    answers = {**healthy(), Query("secret", "executor-secret", NS): Answer(error=error)}
    lines = diagnose(STRICT, answers)
    assert [line.text() for line in lines if line.status == "fail"] == [
        f"fail  password Secret: `kubectl -n executors get secret executor-secret` failed: {error}; fix: run doctor "
        "as a user who may get and list these objects (kubectl auth can-i --list)"
    ]
    assert [line for line in lines if line.check != "password Secret"] == [
        line for line in diagnose(STRICT, healthy()) if line.check != "password Secret"
    ]


def test_every_check_is_in_the_table():
    assert [check.name for check in checks.CHECKS] == [
        "Kubernetes version",
        "node pool",
        "RuntimeClass",
        "namespace",
        "password Secret",
        "NetworkPolicies",
        "KEDA",
    ]


# The kubectl edge -----------------------------------------------------------------------------------------------


def test_kubectl_reads_only_with_get_and_version():
    kubectl = Kubectl("/usr/bin/kubectl", "/home/me/.kube/prod", "prod")
    flags = ["/usr/bin/kubectl", "--request-timeout=30s", "--kubeconfig=/home/me/.kube/prod", "--context=prod"]
    assert kubectl.command(Query("version")) == [*flags, "version", "-o", "json"]
    assert kubectl.command(Query("secret", "executor-secret", NS)) == [
        *flags, "get", "secret", "executor-secret", "--namespace", NS, "-o", "json", "--ignore-not-found",
    ]  # fmt: skip
    assert Kubectl("kubectl").command(Query("nodes")) == [
        "kubectl", "--request-timeout=30s", "get", "nodes", "-o", "json", "--ignore-not-found",
    ]  # fmt: skip
    assert {q.resource for q in queries(STRICT)} == {
        "version", "nodes", "runtimeclass", "namespace", "secret", "networkpolicies", "customresourcedefinition",
    }  # fmt: skip


def test_kubectl_errors_become_answers(kubectl, tmp_path):
    absent = read(Kubectl(str(tmp_path / "kubectl")), Query("version"))
    assert absent == Answer(error=f"{tmp_path / 'kubectl'} cannot be run (No such file or directory)")
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    unknown = read(Kubectl(kubectl, str(config), "prod"), Query("nodes"))
    assert unknown == Answer(error="Error in configuration: context was not found for specified context: prod (exit 1)")
