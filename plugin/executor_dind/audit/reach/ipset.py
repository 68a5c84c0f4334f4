"""Address sets: ipBlocks as the API server stores them (cidr.py), at their worst where a reader cannot read them.

Kept by hand rather than netaddr's IPSet: see the package docstring."""

from __future__ import annotations

import ipaddress

from executor_dind import cidr
from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class IPSet(Record):
    """Addresses as sorted, disjoint, inclusive integer intervals per IP version: ipaddress parses and prints,
    the algebra stays on integers (cheap however many holes an except list cuts)."""

    intervals: tuple[tuple[int, int, int], ...]  # (version, first, last)

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __or__(self, other: IPSet) -> IPSet:
        return _normalised([*self.intervals, *other.intervals])

    def __and__(self, other: IPSet) -> IPSet:
        out = []
        for version, low, high in self.intervals:
            for other_version, other_low, other_high in other.intervals:
                if version == other_version and low <= other_high and other_low <= high:
                    out.append((version, max(low, other_low), min(high, other_high)))
        return _normalised(out)

    def __sub__(self, other: IPSet) -> IPSet:
        out = list(self.intervals)
        for version, low, high in other.intervals:
            kept = []
            for v, a, b in out:
                if v != version or b < low or a > high:
                    kept.append((v, a, b))
                    continue
                if a < low:
                    kept.append((v, a, low - 1))
                if high < b:
                    kept.append((v, high + 1, b))
            out = kept
        return _normalised(out)

    def networks(self) -> list[Network]:
        """As CIDR networks (the fewest that cover exactly these addresses)."""
        out: list[Network] = []
        for version, low, high in self.intervals:
            kind = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
            first, last = kind(low), kind(high)
            out.extend(ipaddress.summarize_address_range(first, last))  # type: ignore[arg-type]
        return out


def _normalised(intervals: list[tuple[int, int, int]]) -> IPSet:
    merged: list[tuple[int, int, int]] = []
    for version, low, high in sorted(intervals):
        if merged and merged[-1][0] == version and low <= merged[-1][2] + 1:
            merged[-1] = (version, merged[-1][1], max(high, merged[-1][2]))
        else:
            merged.append((version, low, high))
    return IPSet(tuple(merged))


def parse_network(text: Any) -> Network | None:
    """An ipBlock text every reader reads alike (cidr.network, IPv4-mapped blocks as IPv4), or None."""
    try:
        return cidr.network(text)
    except cidr.CidrError:
        return None


def ipset(*networks: Any) -> IPSet:
    """The addresses of these networks: ip_network objects, or the audit's own texts (a CIDR or an address)."""
    out = []
    for network in networks:
        parsed = ipaddress.ip_network(network, strict=False)
        out.append((parsed.version, int(parsed.network_address), int(parsed.broadcast_address)))
    return _normalised(out)


NOTHING = IPSet(())
EVERYWHERE = ipset("0.0.0.0/0", "::/0")


def block_networks(block: Any) -> IPSet:
    """An ipBlock's addresses: its cidr minus its except entries, at their worst where a reader cannot read them
    (an engine may take an unreadable cidr as every address and skip an unreadable except entry)."""
    if not isinstance(block, dict):
        return NOTHING
    excepted = block.get("except") or []
    texts = tuple(excepted) if isinstance(excepted, list) else ()
    key = (block.get("cidr"), texts)
    if all(isinstance(text, str) for text in (key[0], *texts)):
        if key not in _BLOCKS:  # policies repeat the same blocks: each is cut once per process
            _BLOCKS[key] = _block_networks(*key)
        return _BLOCKS[key]
    return _block_networks(*key)


_BLOCKS: dict[tuple[Any, tuple[Any, ...]], IPSet] = {}


def _block_networks(text: Any, excepted: tuple[Any, ...]) -> IPSet:
    covered = parse_network(text)
    holes = [parse_network(entry) for entry in excepted]
    return (ipset(covered) if covered is not None else EVERYWHERE) - ipset(*(h for h in holes if h is not None))


def describe_networks(addresses: IPSet, limit: int = 4) -> str:
    networks = addresses.networks()
    text = ", ".join(str(n) for n in networks[:limit])
    return text + (f" and {len(networks) - limit} more" if len(networks) > limit else "")
