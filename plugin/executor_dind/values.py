"""Checks of the values a spec field may hold, each returning a message or None; and duration arithmetic.

Every value that reaches an object is checked here as the API server would (apimachinery's validation: DNS-1123
labels and subdomains, qualified names, label values, quantities), so a render never holds an object the API
server rejects. Patterns match whole strings (`fullmatch`: `$` would accept a trailing newline). They are
compiled on first use (re caches them): most runs check a handful of fields, and compiling all costs ~1.5 ms.
"""

import re
from collections.abc import Mapping

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_CONFIG_KEY = r"[-._a-zA-Z0-9]+"
_QUANTITY = r"[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?"
_DURATION = r"([0-9]+(\.[0-9]+)?(h|m|s|ms))+"
_DURATION_PART = r"([0-9]+(?:\.[0-9]+)?)(h|ms|m|s)"
_URL = r"(?P<scheme>https?)://(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?)(:(?P<port>[0-9]{1,5}))?/?"
_IMAGE = r"[A-Za-z0-9][-A-Za-z0-9._/:@]*[A-Za-z0-9]"
_ENV_NAME = r"[-._a-zA-Z][-._a-zA-Z0-9]*"
_DURATION_UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
LABEL_MAX = 63
ENV_SOURCES = frozenset({"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"})


def env_name(value: str) -> bool:
    return re.fullmatch(_ENV_NAME, value) is not None


def dns_label(value: str) -> str | None:
    if len(value) > LABEL_MAX or not re.fullmatch(_DNS_LABEL, value):
        return f"{value!r} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)"
    return None


def optional_dns_label(value: str) -> str | None:
    return dns_label(value) if value else None


def dns_subdomain(value: str) -> str | None:
    if len(value) > 253 or not re.fullmatch(_DNS_SUBDOMAIN, value):
        return f"{value!r} is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253)"
    return None


def optional_dns_subdomain(value: str) -> str | None:
    return dns_subdomain(value) if value else None


def qualified_name(value: str) -> str | None:
    """A label, annotation or taint key: [prefix/]name, the prefix a DNS subdomain."""
    prefix, _, name = value.rpartition("/")
    if (prefix and dns_subdomain(prefix)) or len(name) > LABEL_MAX or not re.fullmatch(_NAME_PART, name):
        return (
            f"{value!r} is not a qualified name ([prefix/]name: the name at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit; the prefix a DNS subdomain)"
        )
    return None


def label_value(value: str) -> str | None:
    if len(value) > LABEL_MAX or not re.fullmatch(_LABEL_VALUE, value):
        return (
            f"{value!r} is not a label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with "
            "a letter or digit)"
        )
    return None


def labels(value: Mapping) -> str | None:
    for key, item in value.items():
        message = qualified_name(str(key)) or (label_value(item) if isinstance(item, str) else None)
        if message:
            return message
    return None


def config_key(value: str) -> str | None:
    if len(value) > 253 or not re.fullmatch(_CONFIG_KEY, value):
        return f"{value!r} is not a valid Secret key (letters, digits, '-', '_' and '.')"
    return None


def image(value: str) -> str | None:
    if not re.fullmatch(_IMAGE, value):
        return f"{value!r} is not an image reference (e.g. index.docker.io/sourcegraph/executor:6.2.1106@sha256:...)"
    return None


def resources(value: Mapping) -> str | None:
    usage = "must be {requests: {...}, limits: {...}} with quantities (e.g. {limits: {memory: 4Gi}})"
    for key, amounts in value.items():
        if key not in ("requests", "limits") or not (amounts is None or isinstance(amounts, Mapping)):
            return usage
        for name, amount in (amounts or {}).items():
            if qualified_name(str(name)):
                return f"{key}.{name}: {name!r} is not a resource name (e.g. cpu, memory, ephemeral-storage)"
            if isinstance(amount, bool) or not isinstance(amount, (str, int, float)):
                return f"{key}.{name}: {usage}"
            text = amount if isinstance(amount, str) else repr(amount)
            if not re.fullmatch(_QUANTITY, text):
                return f"{key}.{name}: {text!r} is not a Kubernetes quantity (e.g. 500m, 4Gi)"
    return None


def quantity(value: str) -> str | None:
    if not value or re.fullmatch(_QUANTITY, value):
        return None
    return f"{value!r} is not a Kubernetes quantity (e.g. 20Gi)"


def required_quantity(value: str) -> str | None:
    return quantity(value) if value else "must be a Kubernetes quantity (e.g. 20Gi), not empty"


def duration(value: str) -> str | None:
    if not re.fullmatch(_DURATION, value):
        return f"{value!r} is not a duration (e.g. 30m, 1h30m, 90s)"
    if duration_seconds(value) < 1:
        return f"{value!r} is shorter than a second"
    return None


def optional_duration(value: str) -> str | None:
    return duration(value) if value else None


def url(value: str) -> str | None:
    match = re.fullmatch(_URL, value) if value else None
    if value and (match is None or int(match["port"] or 1) > 65535):
        return f"{value!r} is not scheme://host[:port] (e.g. http://sourcegraph-frontend:30080)"
    return None


def url_parts(value: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port or None) of a URL the url check accepts; None for any other text."""
    match = re.fullmatch(_URL, value)
    if match is None:
        return None
    return match["scheme"], match["host"], int(match["port"]) if match["port"] else None


_AUTHORITY = r"\s*(?P<scheme>[A-Za-z][-+.A-Za-z0-9]*)://(?P<host>[^/:?#\s]*)(:(?P<port>[0-9]*))?"


def url_authority(value: str) -> tuple[str, str, int | None]:
    """(scheme, lower-case host, port or None) of any URL-like text, as leniently as a client reads it."""
    match = re.match(_AUTHORITY, value)
    if match is None:
        return "", "", None
    return match["scheme"], match["host"].lower(), int(match["port"]) if match["port"] else None


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
    return int(sum(float(n) * _DURATION_UNITS[u] for n, u in re.findall(_DURATION_PART, value)))
