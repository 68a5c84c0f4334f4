"""The doctor's checks: each a pure function of what the render needs and the JSON the cluster returned.

A check names the reads it needs (Query: a `kubectl get`, or the server version); the edge (doctor/kubectl.py) runs
them and hands back one Answer each. A read the cluster refused fails its check with kubectl's words; nothing is
assumed about what could not be read.

Over 300 lines because it is the table of the doctor's seven checks, each a queries/check pair of the same small
shape (as the audit's rules are), with the readers of kubectl's JSON they share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from executor_dind.doctor.needs import Needs, Toleration
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal

    Status = Literal["pass", "fail", "note"]

NATIVE_SIDECARS_DEFAULT = (1, 29)  # SidecarContainers: beta and on by default from 1.29
NATIVE_SIDECARS_GATED = (1, 28)  # alpha behind the SidecarContainers feature gate
PRIVILEGED = "privileged"
ENFORCE = "pod-security.kubernetes.io/enforce"


class Query(Record):
    """`kubectl get <resource> [<name>] [-n <namespace>]`, or the server's version when resource is "version"."""

    resource: str
    name: str = ""
    namespace: str = ""

    def shown(self) -> str:
        if self.resource == "version":
            return "kubectl version"
        words = ["kubectl", *(("-n", self.namespace) if self.namespace else ()), "get", self.resource]
        return " ".join([*words, self.name] if self.name else words)


class Answer(Record):
    """found: the object or list the API server returned; None when the named object does not exist.
    error: kubectl's message when the read failed (then found says nothing)."""

    found: Any = None
    error: str = ""


class Line(Record):
    status: Status
    check: str
    message: str
    fix: str = ""

    def text(self) -> str:
        fix = f"; fix: {self.fix}" if self.fix else ""
        return f"{self.status}  {self.check}: {self.message}{fix}"


Answers = Mapping[Query, Answer]


class Check(Record):
    name: str
    queries: Callable[[Needs], tuple[Query, ...]]
    judge: Callable[[Needs, Answers], list[Line]]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _labels(obj: Any) -> dict[str, str]:
    return _mapping(_mapping(_mapping(obj).get("metadata")).get("labels"))


def _name(obj: Any) -> str:
    return str(_mapping(_mapping(obj).get("metadata")).get("name", ""))


def _items(answer: Answer) -> list[dict[str, Any]]:
    items = _mapping(answer.found).get("items")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _selector(needs: Needs) -> str:
    return ",".join(f"{key}={value}" for key, value in needs.node_selector.items())


def _off(check: str, control: str, consequence: str, profile: str) -> Line:
    """A control the config leaves off: a note with the setting that turns it on, never a pass."""
    return Line(
        "note",
        check,
        f"hardening.{control} is off: {consequence}",
        f"set spec.hardening.profile: {profile} (or hardening.{control}.enabled: true) in the config",
    )


def _nodes(count: int, what: str = "node") -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def _names(names: list[str]) -> str:
    return ", ".join(names)


# The node pool ------------------------------------------------------------------------------------------------


def _pool_taint(needs: Needs) -> Toleration | None:
    """The toleration the pool's taint answers: the render tolerates exactly the pool's taint."""
    return next((t for t in needs.tolerations if t.key and t.operator == "Equal"), None)


def _taint_text(taint: Toleration) -> str:
    return f"{taint.key}={taint.value}:{taint.effect}"


def _unusable(node: dict[str, Any], tolerations: tuple[Toleration, ...]) -> str:
    """Why the scheduler will not place an executor pod on this node ("" when it will)."""
    conditions = {c.get("type"): c.get("status") for c in _mapping(node.get("status")).get("conditions") or ()}
    if conditions.get("Ready") != "True":
        return "not Ready"
    spec = _mapping(node.get("spec"))
    if spec.get("unschedulable"):
        return "cordoned"
    for taint in spec.get("taints") or ():
        if _mapping(taint).get("effect") in ("NoSchedule", "NoExecute") and not any(
            toleration.tolerates(taint) for toleration in tolerations
        ):
            return f"tainted {taint.get('key')}:{taint.get('effect')}, which the executors do not tolerate"
    return ""


def node_pool_queries(needs: Needs) -> tuple[Query, ...]:
    return (Query("nodes"),) if needs.node_selector else ()


def node_pool(needs: Needs, answers: Answers) -> list[Line]:
    name = "node pool"
    if not needs.node_selector:
        return [_off(name, "nodePool", "executor pods may share nodes with Sourcegraph's services", "recommended")]
    selector = _selector(needs)
    nodes = _items(answers[Query("nodes")])
    pool = sorted(
        (node for node in nodes if all(_labels(node).get(k) == v for k, v in needs.node_selector.items())), key=_name
    )
    if not pool:
        return [
            Line(
                "fail",
                name,
                f"no node is labelled {selector} (of {_nodes(len(nodes))})",
                f"label the pool's nodes and taint them: kubectl label nodes NODE {selector.replace(',', ' ')}"
                + (f" && kubectl taint nodes NODE {_taint_text(taint)}" if (taint := _pool_taint(needs)) else ""),
            )
        ]
    lines = [Line("pass", name, f"{_nodes(len(pool))} labelled {selector}: {_names([_name(n) for n in pool])}")]
    taint = _pool_taint(needs)
    if taint is not None:
        bare = [
            _name(node)
            for node in pool
            if not any(taint.tolerates(t) for t in _mapping(node.get("spec")).get("taints") or ())
        ]
        if bare:
            lines.append(
                Line(
                    "fail",
                    name,
                    f"{len(bare)} of {len(pool)} pool nodes lack the taint {_taint_text(taint)} ({_names(bare)}): "
                    "other workloads can land beside untrusted jobs",
                    f"kubectl taint nodes {' '.join(bare)} {_taint_text(taint)}",
                )
            )
        else:
            lines.append(Line("pass", name, f"every pool node carries the taint {_taint_text(taint)}"))
    why = {_name(node): _unusable(node, needs.tolerations) for node in pool}
    usable = [node for node, reason in why.items() if not reason]
    if usable:
        lines.append(Line("pass", name, f"{_nodes(len(usable), 'pool node')} Ready and schedulable for executors"))
    else:
        lines.append(
            Line(
                "fail",
                name,
                "no pool node can take an executor pod (" + "; ".join(f"{n}: {r}" for n, r in why.items()) + ")",
                "make the pool's nodes Ready and schedulable (kubectl uncordon NODE; kubectl describe node NODE)",
            )
        )
    return lines


# The gVisor RuntimeClass --------------------------------------------------------------------------------------


def runtime_class_queries(needs: Needs) -> tuple[Query, ...]:
    return (Query("runtimeclass", needs.runtime_class),) if needs.runtime_class else ()


def runtime_class(needs: Needs, answers: Answers) -> list[Line]:
    from executor_dind.runtimes import is_sandbox_handler

    name, wanted = "RuntimeClass", needs.runtime_class
    if not wanted:
        return [_off(name, "gvisor", "dind runs privileged on the node's kernel", "strict")]
    found = answers[Query("runtimeclass", wanted)].found
    if found is None:
        return [
            Line(
                "fail",
                name,
                f"no RuntimeClass {wanted!r}: the API server refuses the executor pods",
                f"install gVisor on the pool's nodes and create RuntimeClass {wanted!r} with handler runsc (or set "
                "spec.hardening.gvisor.createRuntimeClass: true in the config and apply the render)",
            )
        ]
    handler = str(_mapping(found).get("handler", ""))
    if not is_sandbox_handler(handler):
        return [
            Line(
                "fail",
                name,
                f"{wanted!r} runs handler {handler!r}, not a sandbox: dind's capabilities reach the node's kernel",
                f"recreate RuntimeClass {wanted!r} with handler runsc, or name the cluster's gVisor RuntimeClass in "
                "spec.hardening.gvisor.runtimeClassName",
            )
        ]
    return [Line("pass", name, f"{wanted!r} runs handler {handler!r} (a sandbox)")]


# The executors' namespace and its Pod Security labels -------------------------------------------------------


def namespace_queries(needs: Needs) -> tuple[Query, ...]:
    return (Query("namespace", needs.namespace),)


def namespace(needs: Needs, answers: Answers) -> list[Line]:
    name, wanted = "namespace", needs.namespace
    found = answers[Query("namespace", wanted)].found
    if found is None:
        how = (
            "apply the render (it creates the Namespace)" if needs.psa_labels else f"kubectl create namespace {wanted}"
        )
        return [Line("fail", name, f"no namespace {wanted!r}", how)]
    if _mapping(_mapping(found).get("status")).get("phase") == "Terminating":
        return [Line("fail", name, f"namespace {wanted!r} is being deleted", "wait for it to go, then re-create it")]
    labels = _labels(found)
    wrong = {key: value for key, value in needs.psa_labels.items() if labels.get(key) != value}
    enforce = labels.get(ENFORCE)
    if not wrong and enforce not in (None, PRIVILEGED):
        wrong = {ENFORCE: PRIVILEGED}
    if wrong:
        held = ", ".join(f"{key}={labels.get(key, '(unset)')}" for key in wrong)
        # Without podSecurity the namespace may be Sourcegraph's own: privileged would admit that for all its pods.
        own = (
            ""
            if needs.psa_labels
            else ", if the executors have it to themselves; else give them their own (spec.namespace with "
            "hardening.podSecurity.enabled: true)"
        )
        return [
            Line(
                "fail",
                name,
                f"{wanted!r} has {held}: Pod Security Admission must admit the privileged dind sidecar",
                f"kubectl label namespace {wanted} --overwrite "
                + " ".join(f"{key}={value}" for key, value in wrong.items())
                + own,
            )
        ]
    if enforce is None:
        return [
            Line("pass", name, f"namespace {wanted!r} exists"),
            Line(
                "note",
                name,
                f"namespace {wanted!r} has no {ENFORCE} label: the API server's default level applies (privileged "
                "unless its admission configuration sets another, which cannot be read from the API)",
                f"kubectl label namespace {wanted} {ENFORCE}={PRIVILEGED}",
            ),
        ]
    said = ", ".join(
        f"{key.removeprefix('pod-security.kubernetes.io/')}={value}"
        for key, value in sorted(labels.items())
        if key.startswith("pod-security.kubernetes.io/") and not key.endswith("-version")
    )
    return [Line("pass", name, f"{wanted!r} admits privileged pods ({said})")]


# The password Secret -----------------------------------------------------------------------------------------


def password_queries(needs: Needs) -> tuple[Query, ...]:
    return tuple(Query("secret", ref.name, needs.namespace) for ref in needs.secrets)


def password(needs: Needs, answers: Answers) -> list[Line]:
    from executor_dind.krm.item import Item
    from executor_dind.password import password_problem

    name, lines = "password Secret", []
    for ref in needs.secrets:
        found = answers[Query("secret", ref.name, needs.namespace)].found
        where = f"{ref.name!r} in namespace {needs.namespace!r}"
        create = (
            f"kubectl -n {needs.namespace} create secret generic {ref.name} --from-file={ref.key}=TOKEN_FILE (a file "
            "outside git holding executors.accessToken from the site configuration)"
        )
        if found is None:
            lines.append(Line("fail", name, f"no {where}: the kubelet cannot start the executors", create))
            continue
        problem = password_problem(Item.new(found), ref.key)
        if problem:
            lines.append(
                Line(
                    "fail",
                    name,
                    f"key {ref.key!r} of {where} {problem}",
                    f"kubectl -n {needs.namespace} delete secret {ref.name} && {create}",
                )
            )
        else:
            lines.append(Line("pass", name, f"{where} holds key {ref.key!r} (not a placeholder or an example)"))
    return lines


# The NetworkPolicies -----------------------------------------------------------------------------------------


def network_policy_queries(needs: Needs) -> tuple[Query, ...]:
    return (Query("networkpolicies", "", needs.namespace),) if needs.network_policies else ()


def network_policies(needs: Needs, answers: Answers) -> list[Line]:
    name = "NetworkPolicies"
    if not needs.network_policies:
        return [
            _off(
                name,
                "networkPolicy",
                "executors reach private addresses and the cloud metadata endpoint",
                "recommended",
            )
        ]
    present = {_name(item) for item in _items(answers[Query("networkpolicies", "", needs.namespace)])}
    missing = [policy for policy in needs.network_policies if policy not in present]
    enforcement = Line(
        "note",
        name,
        "whether the cluster's network plugin enforces them (egress included) cannot be read from the API",
        "check that the CNI enforces NetworkPolicy egress (Calico, Cilium, GKE Dataplane V2, ...)",
    )
    if missing:
        return [
            Line(
                "fail",
                name,
                f"{_names(missing)} missing in namespace {needs.namespace!r}",
                "apply the render (its NetworkPolicies)",
            ),
            enforcement,
        ]
    return [Line("pass", name, f"{_names(list(needs.network_policies))} present"), enforcement]


# KEDA's CRDs -------------------------------------------------------------------------------------------------


def keda_queries(needs: Needs) -> tuple[Query, ...]:
    return tuple(Query("customresourcedefinition", crd) for crd in needs.crds)


def keda(needs: Needs, answers: Answers) -> list[Line]:
    lines = []
    for crd in needs.crds:
        found = answers[Query("customresourcedefinition", crd)].found
        conditions = {
            c.get("type"): c.get("status") for c in _mapping(_mapping(found).get("status")).get("conditions") or ()
        }
        if found is None:
            lines.append(
                Line(
                    "fail",
                    "KEDA",
                    f"no CRD {crd}: the API server refuses the render's autoscaling objects",
                    "install KEDA (helm install keda kedacore/keda --namespace keda --create-namespace)",
                )
            )
        elif conditions.get("Established") != "True":
            lines.append(Line("fail", "KEDA", f"CRD {crd} is not Established", f"kubectl describe crd {crd}"))
        else:
            lines.append(Line("pass", "KEDA", f"CRD {crd} is installed"))
    return lines


# The Kubernetes version --------------------------------------------------------------------------------------


def _version(found: Any) -> tuple[int, int] | None:
    server = _mapping(_mapping(found).get("serverVersion"))
    try:
        major = int(str(server.get("major", "")).rstrip("+"))
        minor = int(str(server.get("minor", "")).rstrip("+"))
    except ValueError:
        return None
    return major, minor


def version_queries(needs: Needs) -> tuple[Query, ...]:
    return (Query("version"),)


def version(needs: Needs, answers: Answers) -> list[Line]:
    name = "Kubernetes version"
    found = answers[Query("version")].found
    shown = str(_mapping(_mapping(found).get("serverVersion")).get("gitVersion", "unknown"))
    parsed = _version(found)
    plain = "or set spec.docker.nativeSidecar: false in the config (dind as a plain container)"
    if parsed is None:
        return [Line("fail", name, f"the server's version {shown!r} cannot be read", "kubectl version")]
    if not needs.native_sidecar:
        return [Line("pass", name, f"{shown}; dind runs as a plain container (no native sidecar needed)")]
    if parsed >= NATIVE_SIDECARS_DEFAULT:
        return [Line("pass", name, f"{shown} runs native sidecars (on by default from 1.29)")]
    if parsed == NATIVE_SIDECARS_GATED:
        return [
            Line(
                "fail",
                name,
                f"{shown}: native sidecars (dind as an init container with restartPolicy: Always) need the "
                "SidecarContainers feature gate, off by default in 1.28",
                f"enable --feature-gates=SidecarContainers=true on the API server and every kubelet, {plain}",
            )
        ]
    return [
        Line(
            "fail", name, f"{shown} has no native sidecars (from 1.29)", f"upgrade to Kubernetes 1.29 or later, {plain}"
        )
    ]


CHECKS: tuple[Check, ...] = (
    Check("Kubernetes version", version_queries, version),
    Check("node pool", node_pool_queries, node_pool),
    Check("RuntimeClass", runtime_class_queries, runtime_class),
    Check("namespace", namespace_queries, namespace),
    Check("password Secret", password_queries, password),
    Check("NetworkPolicies", network_policy_queries, network_policies),
    Check("KEDA", keda_queries, keda),
)


def queries(needs: Needs) -> tuple[Query, ...]:
    return tuple(dict.fromkeys(query for check in CHECKS for query in check.queries(needs)))


def diagnose(needs: Needs, answers: Answers) -> list[Line]:
    """Every check's lines, in the table's order; a check whose read failed says so instead of judging."""
    lines = []
    for check in CHECKS:
        refused = [(query, answers[query].error) for query in check.queries(needs) if answers[query].error]
        if refused:
            lines.extend(
                Line(
                    "fail",
                    check.name,
                    f"`{query.shown()}` failed: {error}",
                    "run doctor as a user who may get and list these objects (kubectl auth can-i --list)",
                )
                for query, error in refused
            )
            continue
        lines.extend(check.judge(needs, answers))
    return lines
