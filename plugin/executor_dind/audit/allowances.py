"""What the auditor lets executors do beyond the defaults: extra CIDRs, the DNS pods, the NodeLocal DNSCache
address, the sandbox RuntimeClass, policy kinds out of the audit's scope.

Allowances come only from the auditor: the ExecutorDind config the render was made with (`executor-dind audit
--config CFG`, the function's self-audit) or the defaults. Nothing the audited stream says about itself (an
annotation, a label) widens a verdict: an attacker who can edit the render can write those too.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from executor_dind import naming
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DNS_NAMESPACE = naming.DNS_NAMESPACE
DNS_POD_LABELS: Mapping[str, str] = MappingProxyType(dict(naming.DNS_POD_LABELS))
SANDBOX_RUNTIME_CLASS = "gvisor"


class Allowances(Record):
    allowed_cidrs: tuple[str, ...] = ()
    dns_namespace: str = DNS_NAMESPACE
    dns_pod_labels: Mapping[str, str] = DNS_POD_LABELS
    node_local_ip: str = ""
    sandbox_runtime_class: str = SANDBOX_RUNTIME_CLASS
    out_of_scope: tuple[tuple[str, str], ...] = ()  # (policy kind, the auditor's reason)

    @classmethod
    def of(cls, spec: Any) -> Allowances:
        """The allowances of the ExecutorDind spec the render was made with."""
        network = spec.hardening.network_policy
        return cls(
            tuple(network.allowed_cidrs),
            network.dns.namespace,
            MappingProxyType(dict(network.dns.pod_labels)),
            network.dns.node_local_ip,
            spec.hardening.gvisor.runtime_class_name,
            tuple((entry.kind, entry.reason) for entry in spec.audit_out_of_scope),
        )


DEFAULT = Allowances()
