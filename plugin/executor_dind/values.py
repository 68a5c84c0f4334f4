"""Checks of the values a spec field may hold, each returning a message or None; and duration arithmetic.

Every value that reaches an object is checked here as the API server would (apimachinery's validation: DNS-1123
labels and subdomains, qualified names, label values, quantities), so a render never holds an object the API
server rejects. Patterns match whole strings (`fullmatch`: `$` would accept a trailing newline). They are
compiled on first use (re caches them): most runs check a handful of fields, and compiling all costs ~1.5 ms.
"""

import re
from collections.abc import Mapping

from executor_dind.records import Record, shown

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_CONFIG_KEY = r"[-._a-zA-Z0-9]+"
_QUANTITY = r"[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?"
_DURATION = r"([0-9]+(\.[0-9]+)?(h|m|s|ms))+"
_DURATION_PART = r"([0-9]+)(?:\.([0-9]+))?(h|ms|m|s)"
_URL = r"(?P<scheme>https?)://(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?)(:(?P<port>[0-9]{1,5}))?/?"
# github.com/distribution/reference's grammar (reference.go): [domain/]path[:tag][@digest].
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
)
_IMAGE = (
    rf"(?:(?P<domain>(?:{_DOMAIN}|\[[a-fA-F0-9:]+\])(?::[0-9]+)?)/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<algorithm>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):(?P<hex>[0-9a-fA-F]{32,}))?"
)
_NAME_MAX = 255
_ENV_NAME = r"[-._a-zA-Z][-._a-zA-Z0-9]*"
_UNIT_NANOSECONDS = {"h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6}
_INT64_MAX = 2**63 - 1
GO_DURATION_MAX = "2562047h47m16.854775807s"
LABEL_MAX = 63
ENV_SOURCES = frozenset({"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"})
# The pod fields the kubelet resolves for env fieldRef (validEnvDownwardAPIFieldPathExpressions in the API server).
ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_ENV_SOURCE_FIELDS = {
    "fieldRef": ({"fieldPath"}, {"apiVersion"}),
    "resourceFieldRef": ({"resource"}, {"containerName", "divisor"}),
    "configMapKeyRef": ({"name", "key"}, {"optional"}),
    "secretKeyRef": ({"name", "key"}, {"optional"}),
}
_RESOURCE_FIELDS = r"(limits|requests)\.(cpu|memory|ephemeral-storage|hugepages-[0-9A-Za-z.]+)"


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
    """An image reference as the kubelet's runtime parses it (distribution/reference): a lower-case repository, a
    tag of at most 128 characters, a digest whose sha256 is 64 lower-case hex digits."""
    match = re.fullmatch(_IMAGE, value, re.ASCII)
    if match is None:
        return (
            f"{shown(value)} is not an image reference ([registry/]repository[:tag][@sha256:<64 hex>], the "
            "repository lower-case; e.g. index.docker.io/sourcegraph/executor:6.2.1106@sha256:...)"
        )
    name, domain = value[: match.end("path")], match["domain"]
    # docker's normalisation: a first component without '.' or ':' (and not localhost) is no registry but part of
    # the repository, which must be lower-case
    if domain and not ("." in domain or ":" in domain or domain == "localhost") and domain != domain.lower():
        return f"{shown(value)}: the repository must be lower-case"
    if len(name) > _NAME_MAX:
        return f"{shown(value)}: the repository name is longer than {_NAME_MAX} characters"
    algorithm, digest = match["algorithm"], match["hex"]
    if algorithm == "sha256" and not re.fullmatch(r"[0-9a-f]{64}", digest or ""):
        return f"{shown(value)}: a sha256 digest is exactly 64 lower-case hex digits"
    if algorithm is not None and algorithm not in ("sha256", "sha384", "sha512"):
        return f"{shown(value)}: {algorithm!r} is not a digest algorithm the registries accept (sha256)"
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
    """A storage size: a Kubernetes quantity above zero (a PersistentVolumeClaim of 0 is refused), or ""."""
    if not value:
        return None
    if not re.fullmatch(_QUANTITY, value):
        return f"{value!r} is not a Kubernetes quantity (e.g. 20Gi)"
    if not value.rstrip("mkKMGTPEi").strip("0."):
        return f"{value!r} is no space at all: a size must be more than 0 (e.g. 20Gi)"
    return None


def required_quantity(value: str) -> str | None:
    return quantity(value) if value else "must be a Kubernetes quantity (e.g. 20Gi), not empty"


def duration(value: str) -> str | None:
    if not re.fullmatch(_DURATION, value):
        return f"{shown(value)} is not a duration (e.g. 30m, 1h30m, 90s)"
    nanoseconds = duration_nanoseconds(value)
    if nanoseconds is None:
        return (
            f"{shown(value)} is beyond Go's time.Duration range (at most {GO_DURATION_MAX}): the executor and "
            "dockerd cannot read it"
        )
    if nanoseconds < 10**9:
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


# A URL's authority as a client reads it; `end` matches where Go's url.Parse reads one: the port, if any, ASCII
# digits up to the path, query or fragment.
_AUTHORITY = r"\s*(?P<scheme>[A-Za-z][-+.A-Za-z0-9]*)://(?P<host>[^/:?#\s]*)(:(?P<port>[0-9]*))?(?P<end>[/?#]|$)?"


class Authority(Record):
    scheme: str
    host: str  # lower case
    port: int | None  # 65536 for any port past 65535, however many digits it has
    parsable: bool  # whether Go's url.Parse reads it (the executor's and KEDA's client)


def url_authority(value: str) -> Authority:
    """The authority of any URL-like text, as leniently as a client reads it; a port of more digits than any
    port has (leading zeros aside) is out of range, as Go's net reads it, and is never handed to int()."""
    match = re.match(_AUTHORITY, value)
    if match is None:
        return Authority("", "", None, False)
    digits = (match["port"] or "").lstrip("0")
    port = None if not match["port"] else 65536 if len(digits) > 5 else int(digits or "0")
    return Authority(match["scheme"], match["host"].lower(), port, match["end"] is not None)


def ip_address(value: str) -> str | None:
    import ipaddress

    try:
        if value:
            ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


def duration_nanoseconds(value: str) -> int | None:
    """Go's time.ParseDuration of a text the duration pattern accepts, in nanoseconds; None beyond its range (an
    int64 of nanoseconds: Go refuses such a text). Digits past nanosecond precision are dropped, as Go does."""
    total = 0
    for whole, fraction, unit in re.findall(_DURATION_PART, value):
        if len(whole) > 19:  # more than int64 has: out of range whatever the unit (and int() of it may be slow)
            return None
        scale = _UNIT_NANOSECONDS[unit]
        fraction = fraction[:19]
        total += int(whole) * scale + (int(fraction) * scale // 10 ** len(fraction) if fraction else 0)
        if total > _INT64_MAX:
            return None
    return total


def duration_seconds(value: str) -> int:
    """Whole seconds of a duration text; beyond Go's range, one second more than Go can hold (never an error: the
    audit reads durations from any input)."""
    nanoseconds = duration_nanoseconds(value)
    return (_INT64_MAX if nanoseconds is None else nanoseconds) // 10**9 + (nanoseconds is None)


def env_source(source: str, ref: Mapping) -> str | None:
    """One env valueFrom source as the API server validates it, with the fieldRef paths the kubelet resolves."""
    required, optional = _ENV_SOURCE_FIELDS[source]
    missing, unknown = sorted(required - set(ref)), sorted(set(ref) - required - optional)
    if missing or unknown:
        return f"{source} needs {', '.join(sorted(required))} (and may have {', '.join(sorted(optional))})" + (
            f"; it lacks {', '.join(missing)}" if missing else f"; {', '.join(map(str, unknown))} is no field of it"
        )
    if source == "fieldRef":
        path = ref["fieldPath"]
        keyed = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", str(path))
        if not (path in ENV_FIELD_PATHS or (keyed and not qualified_name(keyed[2]))):
            return (
                f"fieldRef.fieldPath {shown(str(path))} is not a pod field the kubelet resolves ("
                f"{', '.join(ENV_FIELD_PATHS)}, metadata.labels['<key>'], metadata.annotations['<key>'])"
            )
        if ref.get("apiVersion", "v1") != "v1":
            return "fieldRef.apiVersion must be v1"
    elif source == "resourceFieldRef":
        if not isinstance(ref["resource"], str) or not re.fullmatch(_RESOURCE_FIELDS, ref["resource"]):
            return (
                f"resourceFieldRef.resource {shown(ref['resource'])} is not limits.<cpu|memory|ephemeral-storage> "
                "or requests.<...>"
            )
    else:
        for key in ("name", "key"):
            if not isinstance(ref[key], str) or (dns_subdomain if key == "name" else config_key)(ref[key]):
                return f"{source}.{key} {shown(ref[key])} is not a valid {'object name' if key == 'name' else 'key'}"
        if not isinstance(ref.get("optional", False), bool):
            return f"{source}.optional must be true or false"
    return None
