"""NetworkPolicy reachability as sets: what the union of the policies selecting a pod lets it send or receive.

Pure functions over plain objects (no I/O), imported only by the audit: `ipaddress` stays off the render path.

Destinations are address sets with ports (ipBlock cidr minus except, IPv4 and IPv6 apart) and pods. Pods are the
pod templates of the workloads in the output, in namespaces labelled as the output's Namespace objects say
(`kubernetes.io/metadata.name` always), plus witnesses for what the output does not show: one label-less "any
other pod" per known namespace and one in "any other namespace", so `{}`, `NotIn` and `DoesNotExist` selectors
reach them and an exact selector does not. Ports: all, a number, a range (endPort), or a name resolved against
the destination pod's container ports; toward an address, a name resolves on the pod that owns it, so it is every
port of that name in the output (or every port, when no pod in the output carries the name).

ipBlock texts are read as the API server stores them (cidr.py): an IPv4-mapped block is its IPv4 block. A field
the readers disagree on or the API server rejects is `policy_problems`' business (an audit error naming it); for
reach it counts at its worst: an unreadable cidr is every address (an engine may read it as allow-all), an
unreadable except entry excepts nothing, an unreadable port is every port.

Modules, one concern each: selectors (label selectors), world (the pods and namespaces), ports (port sets),
ipset (address sets), grants (rules as grants and where they reach), problems (fields the readers disagree on),
admin_policy (AdminNetworkPolicy). This package re-exports their public names: callers read `reach.X`.

The address sets are ours, not netaddr's IPSet: integer intervals per IP version, with `ipaddress` only to parse
and print (see ipset.py).
"""

from executor_dind.audit.reach.admin_policy import (
    ADMIN_ACTIONS,
    EVERY_ADDRESS_PEERS,
    admin_grants,
    admin_policy_problems,
    admin_selects,
)
from executor_dind.audit.reach.grants import (
    AddressHole,
    Grant,
    PodHole,
    address_holes,
    grant_networks,
    grant_pods,
    grant_ports,
    grants,
    pod_holes,
    policy_types,
    selects,
)
from executor_dind.audit.reach.ipset import (
    EVERYWHERE,
    NOTHING,
    IPSet,
    Network,
    block_networks,
    describe_networks,
    ipset,
    parse_network,
)
from executor_dind.audit.reach.ports import (
    ALL_PORTS,
    EVERY_PORT,
    NO_PORT,
    PROTOCOLS,
    Ports,
    port_name,
    port_number,
    ports_of,
)
from executor_dind.audit.reach.problems import policy_problems
from executor_dind.audit.reach.selectors import (
    CONTROLLER_LABEL_PREFIXES,
    CONTROLLER_LABELS,
    NAME_LABEL,
    as_dict,
    as_list,
    controller_label,
    controller_labels_in,
    selector_matches,
)
from executor_dind.audit.reach.world import OTHER_NAMESPACE, Pod, World, container_ports, named_ports, world

__all__ = [
    "ADMIN_ACTIONS",
    "ALL_PORTS",
    "CONTROLLER_LABELS",
    "CONTROLLER_LABEL_PREFIXES",
    "EVERYWHERE",
    "EVERY_ADDRESS_PEERS",
    "EVERY_PORT",
    "NAME_LABEL",
    "NOTHING",
    "NO_PORT",
    "OTHER_NAMESPACE",
    "PROTOCOLS",
    "AddressHole",
    "Grant",
    "IPSet",
    "Network",
    "Pod",
    "PodHole",
    "Ports",
    "World",
    "address_holes",
    "admin_grants",
    "admin_policy_problems",
    "admin_selects",
    "as_dict",
    "as_list",
    "block_networks",
    "container_ports",
    "controller_label",
    "controller_labels_in",
    "describe_networks",
    "grant_networks",
    "grant_pods",
    "grant_ports",
    "grants",
    "ipset",
    "named_ports",
    "parse_network",
    "pod_holes",
    "policy_problems",
    "policy_types",
    "port_name",
    "port_number",
    "ports_of",
    "selector_matches",
    "selects",
    "world",
]
