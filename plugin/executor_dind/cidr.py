"""CIDR texts as their consumers read them: the API server, Go's net package and the enforcement engines.

Three readers of an ipBlock's `cidr` or `except` text, which this module reproduces exactly:
- an API server without strict IP validation (before KEP-4858's StrictIPCIDRValidation, and every object stored
  before it) validates with k8s.io/utils/net.ParseCIDRSloppy, which takes IPv4 octets with leading zeros as
  decimal (`010.0.0.0/8` is 10.0.0.0/8) and a prefix length with leading zeros (`/08`); the runtime tier's
  v1.37.2 refuses an IPv4-mapped block on a new object (tests/runtime/test_netpol.py), but a cluster upgraded
  from an older one may still hold such objects, and the audit reads renders, not clusters;
- Go's net.ParseCIDR (netip underneath), which engines such as kube-router and kube-network-policies use, refuses
  leading-zero octets: such a block is unreadable there, and an engine may drop the rule or allow it;
- both keep an IPv4-mapped IPv6 block (`::ffff:10.0.0.0/104`) as 16 bytes with a 128-bit mask, and Go's
  `IPNet.Contains` then matches IPv4 addresses against it: it is the IPv4 block 10.0.0.0/8.

`network()` gives the block as IPv4 or IPv6 addresses (the mapped form folded to IPv4) and raises CidrError where
the readers disagree or the text is no CIDR at all; `sloppy()` is the API server's reading (None: it rejects the
text). Pure and dependency-free but for `ipaddress`, so the config layer and the audit can both use it.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_DIGITS = frozenset("0123456789")


class CidrError(ValueError):
    """The text is not a CIDR every reader reads alike; the message says why, in a phrase."""


def _prefix(text: str, bits: int) -> int | None:
    # Go's dtoi: ASCII digits only (leading zeros allowed), nothing else, at most the address's bit length.
    if not text or not set(text) <= _DIGITS or len(text.lstrip("0")) > 3:
        return None
    value = int(text.lstrip("0") or "0")
    return value if value <= bits else None


def _sloppy_ipv4(text: str) -> ipaddress.IPv4Address | None:
    octets = text.split(".")
    if len(octets) != 4 or any(not o or not set(o) <= _DIGITS or len(o.lstrip("0")) > 3 for o in octets):
        return None
    numbers = [int(octet.lstrip("0") or "0") for octet in octets]
    if any(number > 255 for number in numbers):
        return None
    return ipaddress.IPv4Address(".".join(map(str, numbers)))


def _sloppy_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Old Go's parser, kept by k8s.io/utils/net: leading-zero octets are decimal, also in an IPv6 dotted tail."""
    head, colon, tail = text.rpartition(":")
    if not colon:
        return _sloppy_ipv4(text)
    dotted = _sloppy_ipv4(tail) if "." in tail else None
    if dotted is None:
        return None
    try:
        return ipaddress.IPv6Address(f"{head}:{dotted}")
    except ValueError:
        return None


def _split(text: str) -> tuple[str, str]:
    if not isinstance(text, str) or text.count("/") != 1:
        raise CidrError("is not a CIDR: an address, '/', and a prefix length (e.g. 10.0.0.0/8 or fd00::/8)")
    address, prefix = text.split("/")
    return address, prefix


def _fold(network: Network) -> Network:
    """An IPv4-mapped IPv6 block is the IPv4 block it maps (as Go's IPNet.Contains matches it)."""
    if network.version == 6 and network.prefixlen >= 96 and network.subnet_of(_MAPPED):  # type: ignore[arg-type]
        mapped = network.network_address.ipv4_mapped  # type: ignore[union-attr]
        return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def _read(text: str, sloppy: bool) -> tuple[Network, int]:
    """The block folded to its address family, and the prefix length as written (the API server compares those)."""
    address, prefix_text = _split(text)
    if "%" in address:
        raise CidrError("is not a CIDR: an address zone ('%...') is not allowed")
    parsed: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        parsed = _sloppy_address(address) if sloppy else None
        if parsed is None:
            raise CidrError(f"is not a CIDR: {address!r} is not an IP address") from None
    prefix = _prefix(prefix_text, parsed.max_prefixlen)
    if prefix is None:
        raise CidrError(f"is not a CIDR: /{prefix_text} is not a prefix length from 0 to {parsed.max_prefixlen}")
    return _fold(ipaddress.ip_network((parsed, prefix), strict=False)), prefix


def network(text: str) -> Network:
    """The addresses every reader agrees the text means; CidrError where one refuses it or they differ."""
    try:
        found, _ = _read(text, sloppy=False)
    except CidrError:
        try:
            _read(text, sloppy=True)
        except CidrError:
            raise
        raise CidrError(
            "has an IPv4 octet with a leading zero: the API server reads it as decimal, Go's net package "
            "(used by the policy engines) refuses it; write it without leading zeros"
        ) from None
    return found


def sloppy(text: str) -> Network | None:
    """What the API server reads (k8s.io/utils/net.ParseCIDRSloppy, mapped blocks folded), or None if it rejects it."""
    try:
        return _read(text, sloppy=True)[0]
    except CidrError:
        return None


def canonical(text: str) -> str:
    """The block in the form every reader agrees on (mapped IPv6 as IPv4, host bits cleared)."""
    return str(network(text))


def except_problem(cidr: str, excepted: str) -> str | None:
    """The API server's check of one `except` entry against its `cidr` (validation.ValidateIPBlock): `except` must
    lie inside `cidr` with a longer prefix length *as written* (so `::ffff:10.0.0.0/104` with except `10.1.0.0/16`
    is refused: 104 >= 16)."""
    try:
        outer, outer_prefix = _read(cidr, sloppy=True)
        inner, inner_prefix = _read(excepted, sloppy=True)
    except CidrError:
        return None  # each text's own problem is reported where it is parsed
    inside = inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]
    if not inside or outer_prefix >= inner_prefix:
        return f"{excepted!r} must be a strict subset of the block's cidr {cidr!r} (the API server rejects it)"
    return None
