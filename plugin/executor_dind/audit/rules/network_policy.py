"""The network policy control's audit: what the union of the policies selecting a pod lets it reach.

Reach is computed as address sets and pods with ports (audit/reach/), never by probing addresses. What a
render may reach beyond the defaults (extra CIDRs, other DNS pods, a NodeLocal DNSCache address) comes from the
auditor's allowances (audit/allowances.py), never from the audited objects. NetworkPolicy counts only as
networking.k8s.io/v1; AdminNetworkPolicy and BaselineAdminNetworkPolicy are weighed with their precedence
(audit/reach/admin_policy.py: exact where the API defines it, at worst where it does not); every other policy API
is refused by name unless the auditor puts it out of scope.

Longer than most modules on purpose: eight rules over one shared analysis of the pod (memoized per audit).
"""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod, selector_matches
from executor_dind.krm.item import Item
from executor_dind.naming import METRICS_PORT, PROMETHEUS_POD_LABELS, REGISTRY_POD_SELECTOR, REGISTRY_PORT
from executor_dind.podspec import is_executor_workload, is_registry_workload, pod_labels, pod_labels_path
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Cloud metadata and credential endpoints, each an error to reach whatever allowedCIDRs say.
METADATA_ADDRESSES = {
    "169.254.169.254": "AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack instance metadata",
    "169.254.169.252": "GKE metadata server (some setups)",
    "fd00:ec2::254": "AWS instance metadata over IPv6",
    "169.254.170.2": "AWS ECS task metadata and credentials",
    "169.254.170.23": "EKS Pod Identity credentials",
    "fd00:ec2::23": "EKS Pod Identity credentials over IPv6",
    "100.100.100.200": "Alibaba Cloud instance metadata",
    "169.254.0.23": "Tencent Cloud instance metadata",
    "168.63.129.16": "Azure WireServer",
}
# Errors to reach outside the auditor's allowedCIDRs (DNS on the allowed NodeLocal DNSCache address aside).
PRIVATE_RANGES = {
    "10.0.0.0/8": "private",
    "172.16.0.0/12": "private",
    "192.168.0.0/16": "private",
    "100.64.0.0/10": "CGNAT",
    "169.254.0.0/16": "link-local",
    "127.0.0.0/8": "loopback",
    "0.0.0.0/8": "this-network",
    "fc00::/7": "IPv6 unique-local",
    "fe80::/10": "IPv6 link-local",
    "::1/128": "IPv6 loopback",
}
METRICS_PORT_NAME = "debug"
DNS_POD_PORTS = (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP"))


class Analysis(Record):
    """One workload's pods as the policies see them: restricted or not per direction, and every grant."""

    pod: Any  # reach.Pod
    isolated: dict[str, list[Item]]  # direction -> the NetworkPolicies that select the pod for it
    grants: dict[str, list[Any]]  # direction -> reach.Grant of every policy that decides, with credited Denies
    world: Any  # reach.World
    names: Any  # (protocol, port name) -> the numbers the output's pods give it
    # direction -> whether anything restricts it: a NetworkPolicy, or where none does a BaselineAdminNetworkPolicy
    restricted: dict[str, bool]


def _pod(item: Item) -> Any:
    from executor_dind.audit import reach

    spec, _ = executor_pod(item)
    return reach.Pod(item.namespace, pod_labels(item.obj), item.describe(), reach.container_ports(spec))


def analysis(item: Item, scope: Scope) -> Analysis:
    """Computed once per workload per audit (every network rule reads it)."""
    memo_key = ("network", id(item))
    if memo_key in scope.memo:
        return scope.memo[memo_key]
    from executor_dind.audit import reach

    pod = _pod(item)
    isolated = {
        direction: [p for p in _policies_for(scope, item) if reach.selects(p.obj, item.namespace, pod, direction)]
        for direction in ("Egress", "Ingress")
    }
    world = _world(scope)
    # The admin policies whose subject selects the pod at worst, each with whether it surely does (a Deny counts
    # only then): AdminNetworkPolicy and BaselineAdminNetworkPolicy apart.
    selecting = {
        kind: [
            (policy.obj, reach.admin_selects(policy.obj, world, pod, surely=True))
            for policy in scope.admin_policies
            if policy.kind == kind and reach.admin_selects(policy.obj, world, pod)
        ]
        for kind in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy")
    }
    grants, restricted = {}, {}
    for direction, policies in isolated.items():
        network = [g for p in policies for g in _grants_of(p, direction, pod)]
        grants[direction], restricted[direction] = reach.weigh(
            selecting["AdminNetworkPolicy"], selecting["BaselineAdminNetworkPolicy"], network, bool(policies), direction
        )
    result = Analysis(pod, isolated, grants, world, _names(scope), restricted)
    scope.memo[memo_key] = result
    return result


def _grants_of(policy: Item, direction: str, pod: Any) -> list[Any]:
    """A policy's grants; where it selects the pods only through labels the controllers add, its name in the
    findings says so (at worst it matches them)."""
    from executor_dind.audit import reach

    found = reach.grants([policy.obj], direction)
    spec = policy.obj.get("spec") if isinstance(policy.obj.get("spec"), dict) else {}
    selector = spec.get("podSelector", {})
    if reach.selector_matches(selector, pod.labels):
        return found
    keys = ", ".join(reach.controller_labels_in(selector))
    note = f"{policy.name or '(no name)'}, whose podSelector reads {keys}, a label the controllers add"
    return [grant._replace(policy=note) for grant in found]


def _policies_for(scope: Scope, item: Item) -> list[Item]:
    """The NetworkPolicies that can select this workload's pods: those of its namespace, and those without one
    (which land wherever they are applied), in the output's order."""
    memo_key = ("network-policies-by-namespace", 0)
    if memo_key not in scope.memo:
        grouped: dict[str, list[Item]] = {}
        for policy in scope.network_policies:
            grouped.setdefault(policy.namespace, []).append(policy)
        scope.memo[memo_key] = grouped
    grouped = scope.memo[memo_key]
    if not item.namespace or not grouped.get(""):
        return grouped.get(item.namespace, [])
    return [p for p in scope.network_policies if p.namespace in ("", item.namespace)]


def _world(scope: Scope) -> Any:
    """The pods and namespaces every workload's analysis resolves against (once per audit)."""
    memo_key = ("network-world", 0)
    if memo_key not in scope.memo:
        from executor_dind.audit import reach

        allowances = scope.allowances
        namespace = allowances.dns_namespace
        dns = reach.Pod(namespace, dict(allowances.dns_pod_labels), f"the DNS pods in {namespace}", DNS_POD_PORTS)
        pods = [_pod(other) for other in scope.workloads()]
        scope.memo[memo_key] = reach.world(_namespaces(scope), pods, [dns], _named_namespaces(scope))
    return scope.memo[memo_key]


def _named_namespaces(scope: Scope) -> set[str]:
    """The namespaces the output names without defining them: its objects' namespaces and the names its policies'
    peers select by `kubernetes.io/metadata.name` (the namespaces a policy targets outside the render)."""
    from executor_dind.audit import reach

    named = {item.namespace for item in scope.items if item.namespace}
    for policy in (*scope.network_policies, *scope.admin_policies):
        for selector in reach.namespace_selectors(policy.obj):
            named.update(reach.names_in(selector))
    return named


def _names(scope: Scope) -> Any:
    memo_key = ("network-names", 0)
    if memo_key not in scope.memo:
        from executor_dind.audit import reach

        scope.memo[memo_key] = reach.named_ports(_world(scope).pods)
    return scope.memo[memo_key]


def _namespaces(scope: Scope) -> dict[str, dict[str, str]]:
    namespaces = {}
    for name, namespace in scope.namespaces.items():
        meta = namespace.obj.get("metadata") if isinstance(namespace.obj.get("metadata"), dict) else {}
        labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
        namespaces[name] = {str(key): str(value) for key, value in labels.items()}
    return namespaces


def _frontend(scope: Scope) -> tuple[str | None, dict[str, str], Any]:
    """The frontend pods (namespace or None for any, labels) and the HTTP target port of its Service."""
    memo_key = ("frontend", 0)
    if memo_key not in scope.memo:
        scope.memo[memo_key] = _frontend_service(scope)
    return scope.memo[memo_key]


def _frontend_service(scope: Scope) -> tuple[str | None, dict[str, str], Any]:
    service = next((i for i in scope.items if i.kind == "Service" and i.name == "sourcegraph-frontend"), None)
    if service is None:
        return None, {"app": "sourcegraph-frontend"}, "http"
    spec = service.obj.get("spec") if isinstance(service.obj.get("spec"), dict) else {}
    selector = spec.get("selector") if isinstance(spec.get("selector"), dict) else {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)] if isinstance(spec.get("ports"), list) else []
    chosen = next((p for p in ports if p.get("name") == "http"), ports[0] if ports else {})
    target = chosen.get("targetPort", chosen.get("port", "http"))
    # A Service without a namespace lands wherever it is applied: its pods may be in any namespace.
    return service.namespace or None, {str(k): str(v) for k, v in selector.items()}, target


def _pod_port(pod: Any, port: Any) -> Any:
    from executor_dind.audit import reach

    if isinstance(port, int):
        return reach.ports_of(("TCP", port))
    numbers = [number for name, number, protocol in pod.ports if name == port and protocol == "TCP"]
    return reach.ports_of(*(("TCP", n) for n in numbers))


def _allowed_egress(scope: Scope) -> Any:
    """pod -> the ports executors may reach on it: the frontend's HTTP port, DNS, the registry."""
    from executor_dind.audit import reach

    registries = {(i.namespace, i.describe()) for i in scope.registries()}
    frontend_namespace, frontend_labels, frontend_port = _frontend(scope)
    dns_namespace, dns_labels = scope.allowances.dns_namespace, dict(scope.allowances.dns_pod_labels)
    dns_ports = reach.ports_of(("UDP", 53), ("TCP", 53))

    def allowed(pod: Any) -> Any:
        if pod.witness and not pod.labels:  # any other pod: nothing; one a selector assumes: by its labels
            return reach.NO_PORT
        dns = pod.namespace == dns_namespace and selector_matches({"matchLabels": dns_labels}, pod.labels)
        if dns and dns_labels:
            return dns_ports
        # A pod the input does not show, which a selector on our registry's labels assumes (the executors' policy
        # keeps that rule while the registry is not rendered): judged as the registry, by its labels.
        assumed_registry = pod.witness and selector_matches({"matchLabels": dict(REGISTRY_POD_SELECTOR)}, pod.labels)
        if assumed_registry:
            return reach.ports_of(("TCP", REGISTRY_PORT))
        if (pod.namespace, pod.name) in registries:
            return reach.ports_of(*((protocol, number) for _, number, protocol in pod.ports)) or reach.ports_of(
                ("TCP", REGISTRY_PORT)
            )
        frontend = frontend_labels and selector_matches({"matchLabels": frontend_labels}, pod.labels)
        if frontend and frontend_namespace in (None, pod.namespace):
            return _pod_port(pod, frontend_port)
        return reach.NO_PORT

    return allowed


def _by(where: str) -> str:
    """A grant's origin as people name it: `NetworkPolicy x (egress[0])` or `AdminNetworkPolicy y (egress[1])`."""
    admin = where.startswith(("AdminNetworkPolicy ", "BaselineAdminNetworkPolicy "))
    return where if admin else f"NetworkPolicy {where}"


def _notes(pods: Any) -> str:
    """How the selectors the output cannot resolve were read, once each: " (namespaceSelector team=x: ...)"."""
    notes = list(dict.fromkeys(pod.note for pod in pods if pod.note))
    return f" ({'; '.join(notes)})" if notes else ""


def _where(grants: list[Any]) -> str:
    return ", ".join(_by(where) for where in dict.fromkeys(grant.where for grant in grants))


def _isolated(item: Item, scope: Scope, direction: str) -> bool:
    """Whether any policy restricts this direction for the pods (without a policy in the output, no analysis:
    the unrestricted pod is its own finding, EXD301 or EXD304, and the rules that weigh holes have none)."""
    policies = scope.network_policies or scope.admin_policies
    return bool(policies) and analysis(item, scope).restricted[direction]


def egress_unrestricted(item: Item, scope: Scope) -> Iterator[Finding]:
    if not _isolated(item, scope, "Egress"):
        yield Finding(
            item,
            pod_labels_path(item.obj),
            "no NetworkPolicy restricts egress of these executor pods: jobs can reach the cloud metadata "
            "service and private networks; enable hardening.networkPolicy",
        )


def _metadata_holes(item: Item, scope: Scope) -> Iterator[str]:
    """What the pods reach of the metadata and credential addresses, each as "<what>: allowed by <where>"."""
    from executor_dind.audit import reach

    seen = analysis(item, scope)
    for address, clouds in METADATA_ADDRESSES.items():
        holes = reach.address_holes(seen.grants["Egress"], reach.ipset(address), names=seen.names)
        if holes:
            yield (
                f"the cloud metadata service {address} ({clouds}) on {holes[0].ports.describe()}: allowed by "
                f"{_where([h.grant for h in holes])} (policies add up: one broad allow rule defeats every "
                "deny-by-omission)"
            )


def _private_holes(item: Item, scope: Scope) -> Iterator[str]:
    from executor_dind.audit import reach

    seen = analysis(item, scope)
    metadata = reach.ipset(*METADATA_ADDRESSES)
    allowances = scope.allowances
    allowed = [(reach.ipset(*(reach.parse_network(c) for c in allowances.allowed_cidrs)), reach.EVERY_PORT)]
    if allowances.node_local_ip:
        allowed.append((reach.ipset(allowances.node_local_ip), reach.ports_of(("UDP", 53), ("TCP", 53))))
    for cidr, what in PRIVATE_RANGES.items():
        forbidden = reach.ipset(cidr) - metadata
        holes = reach.address_holes(seen.grants["Egress"], forbidden, allowed, seen.names)
        if holes:
            reached = reach.NOTHING
            for hole in holes:
                reached = reached | (reach.reach_networks(hole.grant, hole.ports) & reach.ipset(cidr))
            declared = " outside the auditor's allowedCIDRs" if allowances.allowed_cidrs else ""
            yield (
                f"the {what} range {cidr}{declared} ({reach.describe_networks(reached)} on "
                f"{holes[0].ports.describe()}): allowed by {_where([h.grant for h in holes])}"
            )


def _pod_holes(item: Item, scope: Scope, allowed: Any) -> Iterator[str]:
    """The pods reached beyond `allowed(pod)`, per rule, as "<pods>: allowed by <where>"."""
    from executor_dind.audit import reach

    seen = analysis(item, scope)
    selected = scope.memo.setdefault(("network-selected-pods", 0), {})
    holes = reach.pod_holes(seen.grants["Egress"], item.namespace, seen.world, allowed, selected)
    by_rule: dict[str, list[Any]] = {}
    for hole in holes:
        by_rule.setdefault(hole.grant.where, []).append(hole)
    for where, found in by_rule.items():
        # Witnesses first: "any pod in any other namespace" says more than the first five pods.
        ordered = sorted(found, key=lambda h: not h.pod.witness)
        pods = list(dict.fromkeys(f"{h.pod.name} ({h.ports.describe()})" for h in ordered))
        listed = ", ".join(pods[:5]) + (f" and {len(pods) - 5} more" if len(pods) > 5 else "")
        yield f"{listed}: allowed by {_by(where)}{_notes(h.pod for h in found)}"


def metadata_reachable(item: Item, scope: Scope) -> Iterator[Finding]:
    if _isolated(item, scope, "Egress"):
        for hole in _metadata_holes(item, scope):
            yield Finding(item, pod_labels_path(item.obj), f"jobs can reach {hole}")


def private_reachable(item: Item, scope: Scope) -> Iterator[Finding]:
    if _isolated(item, scope, "Egress"):
        for hole in _private_holes(item, scope):
            yield Finding(item, pod_labels_path(item.obj), f"jobs can reach {hole}")


def internal_reachable(item: Item, scope: Scope) -> Iterator[Finding]:
    if _isolated(item, scope, "Egress"):
        for hole in _pod_holes(item, scope, _allowed_egress(scope)):
            yield Finding(
                item,
                pod_labels_path(item.obj),
                f"jobs can reach pods beyond the frontend's HTTP port, DNS and the registry: {hole}",
            )


def _dns_only(scope: Scope) -> Any:
    """pod -> the ports the registry may reach on it: DNS on the DNS pods, nothing else."""
    from executor_dind.audit import reach

    namespace, labels = scope.allowances.dns_namespace, dict(scope.allowances.dns_pod_labels)
    dns = reach.ports_of(("UDP", 53), ("TCP", 53))

    def allowed(pod: Any) -> Any:
        is_dns = (
            (pod.labels or not pod.witness)
            and pod.namespace == namespace
            and selector_matches({"matchLabels": labels}, pod.labels)
        )
        return dns if is_dns and labels else reach.NO_PORT

    return allowed


def _reached_by_executors(item: Item, scope: Scope) -> bool:
    """Whether any executor pod may open a connection to this workload's pods (an unconfined one reaches all)."""
    from executor_dind.audit import reach

    for executor in scope.executors():
        if not _isolated(executor, scope, "Egress"):
            return True
        seen = analysis(executor, scope)
        holes = reach.pod_holes(seen.grants["Egress"], executor.namespace, seen.world, lambda pod: reach.NO_PORT)
        if any(hole.pod.name == item.describe() for hole in holes):
            return True
    return False


def registry_egress(item: Item, scope: Scope) -> Iterator[Finding]:
    """Jobs reach the registry, so what the registry reaches they reach one hop away: in an output with
    NetworkPolicies, its egress is DNS and the internet, never metadata, private ranges or other pods."""
    if not is_registry_workload(item.obj) or is_executor_workload(item.obj) or not scope.network_policies:
        return
    if not _reached_by_executors(item, scope):
        return  # another team's registry that no executor pod may reach: not the jobs' way out
    if not _isolated(item, scope, "Egress"):
        # Only where the executors beside it are confined: otherwise EXD301 already says egress is open.
        if not any(_isolated(e, scope, "Egress") for e in scope.executors() if e.namespace == item.namespace):
            return
        yield Finding(
            item,
            pod_labels_path(item.obj),
            "no NetworkPolicy restricts egress of the registry that jobs reach: through it they reach the cloud "
            "metadata service and private networks; keep hardening.networkPolicy's executor-dind-registry policy",
        )
        return
    for hole in (*_metadata_holes(item, scope), *_private_holes(item, scope)):
        yield Finding(item, pod_labels_path(item.obj), f"the registry can reach {hole}")
    for hole in _pod_holes(item, scope, _dns_only(scope)):
        yield Finding(item, pod_labels_path(item.obj), f"the registry can reach pods beyond DNS: {hole}")


def _allowed_ingress(item: Item, scope: Scope) -> Any:
    """source pod -> the ports of this workload's pods it may reach."""
    from executor_dind.audit import reach

    pod = _pod(item)
    if is_registry_workload(item.obj):
        executors = {i.describe() for i in scope.executors()}
        ports = reach.ports_of(*((p, n) for _, n, p in pod.ports)) or reach.ports_of(("TCP", REGISTRY_PORT))
        return lambda source: ports if source.name in executors else reach.NO_PORT
    metrics = _pod_port(pod, METRICS_PORT_NAME) or reach.ports_of(("TCP", METRICS_PORT))
    # Sourcegraph's Prometheus: in the frontend's namespace when the output shows it.
    sourcegraph_namespace = _frontend(scope)[0]
    return lambda source: (
        metrics
        if (source.labels or not source.witness)
        and sourcegraph_namespace in (None, source.namespace)
        and selector_matches({"matchLabels": PROMETHEUS_POD_LABELS}, source.labels)
        else reach.NO_PORT
    )


def ingress_unrestricted(item: Item, scope: Scope) -> Iterator[Finding]:
    if not _isolated(item, scope, "Ingress"):
        whom = "registry" if is_registry_workload(item.obj) else "executor"
        yield Finding(
            item,
            pod_labels_path(item.obj),
            f"no NetworkPolicy restricts ingress to these {whom} pods; enable hardening.networkPolicy",
        )


def ingress_beyond(item: Item, scope: Scope) -> Iterator[Finding]:
    """Ingress grants beyond Prometheus -> metrics (executor pods) and executors -> registry (registry pods).
    Named ports resolve against this workload's own pods."""
    if not _isolated(item, scope, "Ingress"):
        return
    from executor_dind.audit import reach

    seen = analysis(item, scope)
    if not seen.restricted["Ingress"]:
        return
    allowed = _allowed_ingress(item, scope)
    by_rule: dict[str, list[tuple[bool, str]]] = {}
    sources_of: dict[str, list[Any]] = {}
    for grant in seen.grants["Ingress"]:
        ports = reach.grant_ports(grant, seen.pod)
        if not ports:
            continue
        networks = reach.reach_networks(grant, ports)
        if networks:
            text = f"{reach.describe_networks(networks)} ({ports.describe()})"
            by_rule.setdefault(grant.where, []).append((False, text))
        for source in reach.grant_pods(grant, item.namespace, seen.world):
            beyond = reach.reach_ports(grant, seen.pod, source, seen.world).minus(allowed(source))
            if beyond:
                by_rule.setdefault(grant.where, []).append((not source.witness, f"{source.name} ({beyond.describe()})"))
                sources_of.setdefault(grant.where, []).append(source)
    expected = "executors to the registry port" if is_registry_workload(item.obj) else "Prometheus to metrics"
    for where, found in by_rule.items():
        sources = list(dict.fromkeys(text for _, text in sorted(found, key=lambda entry: entry[0])))
        listed = ", ".join(sources[:5]) + (f" and {len(sources) - 5} more" if len(sources) > 5 else "")
        yield Finding(
            item,
            pod_labels_path(item.obj),
            f"ingress beyond {expected}: {listed} can connect: allowed by {_by(where)}"
            f"{_notes(sources_of.get(where, ()))}",
        )


def _once(scope: Scope, rule: str) -> bool:
    """Whether a rule about the stream's policies (not about this workload) runs now: once per audit."""
    memo_key = (rule, 0)
    first = memo_key not in scope.memo
    scope.memo[memo_key] = True
    return first


def policy_unreadable(item: Item, scope: Scope) -> Iterator[Finding]:
    """Fields of any policy in the output that the API server rejects or the engines read differently."""
    if not _once(scope, "policy-unreadable") or not (scope.network_policies or scope.admin_policies):
        return
    from executor_dind.audit import reach

    for policy in scope.network_policies:
        if not policy.namespace and item.namespace:
            yield Finding(
                policy,
                "metadata.namespace",
                f"NetworkPolicy {policy.name or '(no name)'} has no namespace: it lands in whatever namespace it is "
                f"applied to, so whether it selects the executor pods in {item.namespace} cannot be known; set "
                "metadata.namespace",
            )
        for field_path, problem in reach.policy_problems(policy.obj):
            yield Finding(policy, field_path, f"NetworkPolicy {policy.name or '(no name)'}: {field_path} {problem}")
    for policy in scope.admin_policies:
        for field_path, problem in reach.admin_policy_problems(policy.obj):
            yield Finding(policy, field_path, f"{policy.kind} {policy.name or '(no name)'}: {field_path} {problem}")


def policy_api_unjudged(item: Item, scope: Scope) -> Iterator[Finding]:
    """A policy API the audit does not model can allow what the NetworkPolicies deny: refused by name, unless
    the auditor's config puts its kind out of scope (audit() then says so on every run)."""
    if not _once(scope, "policy-api-unjudged"):
        return
    out_of_scope = dict(scope.allowances.out_of_scope)
    for policy in scope.other_policies:
        if policy.kind in out_of_scope:
            continue
        api = policy.api_version or "(no apiVersion)"
        what = (
            f"a NetworkPolicy of {api}, not networking.k8s.io/v1: the audit cannot judge it and Kubernetes does "
            "not enforce it as one"
            if policy.kind == "NetworkPolicy"
            else f"a {policy.kind} ({api}): a policy API the audit does not model, which can allow what the "
            "NetworkPolicies deny"
        )
        yield Finding(
            policy,
            "kind",
            f"{policy.describe()} is {what}; remove it, or put its kind in the auditor's spec.auditOutOfScope "
            "with the reason",
        )


CONTROL = "networkPolicy"
RULES = (
    Rule("EXD301", "egress-unrestricted", "warning", "no NetworkPolicy restricts executor egress", egress_unrestricted),
    Rule(
        "EXD302",
        "metadata-reachable",
        "error",
        "executors reach a cloud metadata or credentials address: 169.254.169.254, fd00:ec2::254, ECS's 169.254.170.2, "
        "EKS Pod Identity's 169.254.170.23 / fd00:ec2::23, Alibaba's 100.100.100.200, Tencent's 169.254.0.23, Azure's "
        "WireServer 168.63.129.16",
        metadata_reachable,
    ),
    Rule(
        "EXD303",
        "private-reachable",
        "error",
        "executors reach a private, CGNAT, link-local, loopback, this-network or IPv6 ULA/link-local/loopback range "
        "outside the auditor's `allowedCIDRs`",
        private_reachable,
    ),
    Rule(
        "EXD304",
        "ingress-unrestricted",
        "warning",
        "no NetworkPolicy restricts ingress to executor or registry pods",
        ingress_unrestricted,
        True,
    ),
    Rule(
        "EXD305",
        "internal-reachable",
        "error",
        "executors reach pods other than the frontend's HTTP port, DNS (port 53) and the registry",
        internal_reachable,
    ),
    Rule(
        "EXD306",
        "ingress-beyond",
        "error",
        "ingress beyond Prometheus → metrics (executor pods) and executors → the registry port (registry pods)",
        ingress_beyond,
        True,
    ),
    Rule(
        "EXD307",
        "policy-unreadable",
        "error",
        "a policy field the API server rejects or the readers disagree on: an ipBlock with leading-zero octets "
        "or no CIDR, an `except` outside its `cidr`, a port that is neither 1-65535 nor a port name, no namespace",
        policy_unreadable,
    ),
    Rule(
        "EXD308",
        "policy-api-unjudged",
        "error",
        "a policy API besides networking.k8s.io/v1 NetworkPolicy and AdminNetworkPolicy (Cilium, Calico, Antrea, "
        "...) that the auditor's config does not put out of scope",
        policy_api_unjudged,
    ),
    Rule(
        "EXD309",
        "registry-egress-open",
        "error",
        "the registry jobs reach has egress beyond DNS and the internet (metadata, private ranges outside the "
        "auditor's `allowedCIDRs`, other pods), or none restricts it while the executors beside it are confined",
        registry_egress,
        True,
    ),
)
