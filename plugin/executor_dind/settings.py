"""spec.hardening: the profiles, and each hardening control's own settings record.

The config model's leaf for the controls (hardening/<control>.py applies them; audit/ never reads them): importing
it loads no YAML library, no object builder, no audit module and no hardening module.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from executor_dind import values
from executor_dind.records import EMPTY, Field, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Annotated, Literal

PROFILES = ("baseline", "recommended", "strict")

DENIED_CIDRS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
    # Azure WireServer: a public address that serves the VM agent its configuration.
    "168.63.129.16/32",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
    "ff00::/8",
)


class Taint(Record):
    key: Annotated[str, Field(check=values.qualified_name)] = "executor-dind.dev/untrusted"
    value: Annotated[str, Field(check=values.label_value)] = "true"
    effect: Literal["NoSchedule", "NoExecute"] = "NoSchedule"


class NodePool(Record):
    enabled: Annotated[bool | None, Field(doc="unset: the profile decides")] = None
    node_selector: Annotated[
        Mapping[str, str], Field(check=values.labels, doc="empty: nodes labelled <taint.key>=<taint.value>")
    ] = EMPTY
    taint: Taint = Taint()
    spread: Annotated[bool, Field(doc="spread executor pods across nodes")] = True


class Gvisor(Record):
    enabled: Annotated[bool | None, Field(doc="unset: the profile decides")] = None
    runtime_class_name: Annotated[str, Field(check=values.dns_label)] = "gvisor"
    create_runtime_class: Annotated[bool, Field(doc="also emit a RuntimeClass with handler runsc")] = False


class Dns(Record):
    namespace: Annotated[str, Field(check=values.dns_label)] = "kube-system"
    pod_labels: Annotated[Mapping[str, str], Field(check=values.labels)] = MappingProxyType({"k8s-app": "kube-dns"})
    node_local_ip: Annotated[
        str, Field(key="nodeLocalIP", check=values.ip_address, doc="NodeLocal DNSCache address, e.g. 169.254.20.10")
    ] = ""


class NetworkPolicy(Record):
    enabled: Annotated[bool | None, Field(doc="unset: the profile decides")] = None
    denied_cidrs: Annotated[tuple[str, ...], Field(key="deniedCIDRs", check=values.cidrs)] = DENIED_CIDRS
    allowed_cidrs: Annotated[tuple[str, ...], Field(key="allowedCIDRs", check=values.cidrs)] = ()
    dns: Dns = Dns()


class PodSecurity(Record):
    enabled: Annotated[bool | None, Field(doc="unset: the profile decides; needs spec.namespace")] = None


class Hardening(Record):
    """spec.hardening: a profile, and each control's own settings (an explicit `enabled:` wins)."""

    profile: Literal[PROFILES] = "baseline"
    node_pool: NodePool = NodePool()
    gvisor: Gvisor = Gvisor()
    network_policy: NetworkPolicy = NetworkPolicy()
    pod_security: PodSecurity = PodSecurity()
