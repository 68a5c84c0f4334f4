"""Checks of the values a spec field may hold, each returning a message or None; and duration arithmetic."""

import re
from collections.abc import Mapping

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?")
_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(h|m|s|ms))+")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|ms|m|s)")
_URL = re.compile(r"https?://[^/\s:]+(:[0-9]+)?/?")
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_DURATION_UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}


def dns_label(value: str) -> str | None:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        return f"{value!r} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)"
    return None


def optional_dns_label(value: str) -> str | None:
    return dns_label(value) if value else None


def resources(value: Mapping) -> str | None:
    for key, amounts in value.items():
        if key not in ("requests", "limits") or not (
            amounts is None
            or (isinstance(amounts, Mapping) and all(isinstance(v, (str, int, float)) for v in amounts.values()))
        ):
            return "must be {requests: {...}, limits: {...}} with quantities (e.g. {limits: {memory: 4Gi}})"
    return None


def quantity(value: str) -> str | None:
    return None if not value or _QUANTITY.fullmatch(value) else f"{value!r} is not a Kubernetes quantity (e.g. 20Gi)"


def duration(value: str) -> str | None:
    return None if _DURATION.fullmatch(value) else f"{value!r} is not a duration (e.g. 30m, 1h30m, 90s)"


def url(value: str) -> str | None:
    if value and not _URL.fullmatch(value):
        return f"{value!r} is not scheme://host[:port] (e.g. http://sourcegraph-frontend:30080)"
    return None


def cidrs(values: tuple[str, ...]) -> str | None:
    import ipaddress

    for value in values:
        try:
            ipaddress.ip_network(value)
        except ValueError:
            return f"{value!r} is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)"
    return None


def ip_address(value: str) -> str | None:
    import ipaddress

    try:
        if value:
            ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


def duration_seconds(value: str) -> int:
    return int(sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(value)))
