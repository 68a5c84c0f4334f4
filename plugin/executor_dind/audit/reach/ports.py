"""Port sets: per protocol, the port ranges a rule allows; port numbers and names as the API server reads them."""

from __future__ import annotations

from collections.abc import Mapping

from executor_dind.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROTOCOLS = ("TCP", "UDP", "SCTP")
ALL_PORTS = ((1, 65535),)


class Ports(Record):
    """Per protocol, the port ranges allowed; empty when nothing is."""

    ranges: Mapping[str, tuple[tuple[int, int], ...]]

    def __bool__(self) -> bool:
        return any(self.ranges.values())

    def minus(self, other: Ports) -> Ports:
        out = {}
        for protocol, ranges in self.ranges.items():
            remaining = list(ranges)
            for low, high in other.ranges.get(protocol, ()):
                remaining = [piece for r in remaining for piece in _range_minus(r, (low, high))]
            if remaining:
                out[protocol] = tuple(remaining)
        return Ports(out)

    def describe(self) -> str:
        if all(self.ranges.get(p) == ALL_PORTS for p in PROTOCOLS):
            return "every port"
        parts = []
        for protocol in PROTOCOLS:
            for low, high in self.ranges.get(protocol, ()):
                parts.append(f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}")
        return ", ".join(parts)


EVERY_PORT = Ports(dict.fromkeys(PROTOCOLS, ALL_PORTS))
NO_PORT = Ports({})


def ports_of(*entries: tuple[str, int]) -> Ports:
    out: dict[str, tuple[tuple[int, int], ...]] = {}
    for protocol, port in entries:
        out[protocol] = (*out.get(protocol, ()), (port, port))
    return Ports(out)


def _range_minus(keep: tuple[int, int], drop: tuple[int, int]) -> list[tuple[int, int]]:
    if drop[1] < keep[0] or drop[0] > keep[1]:
        return [keep]
    pieces = []
    if keep[0] < drop[0]:
        pieces.append((keep[0], drop[0] - 1))
    if drop[1] < keep[1]:
        pieces.append((drop[1] + 1, keep[1]))
    return pieces


def port_number(value: Any) -> int | None:
    """A port number as the API server reads one: an integer from 1 to 65535 (never a bool, never a string)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    return None


def port_name(value: Any) -> str | None:
    """An IANA service name as validation.IsValidPortName accepts it: 1-15 of [a-z0-9-], a letter among them,
    no leading, trailing or doubled hyphen."""
    if not isinstance(value, str) or not 1 <= len(value) <= 15 or not value.isascii():
        return None
    if not all(c.islower() or c.isdigit() or c == "-" for c in value) or not any(c.isalpha() for c in value):
        return None
    if value.startswith("-") or value.endswith("-") or "--" in value:
        return None
    return value
