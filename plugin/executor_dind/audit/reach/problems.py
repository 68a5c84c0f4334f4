"""Fields of a NetworkPolicy the API server rejects or that the API server and the engines read differently."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from executor_dind import cidr
from executor_dind.audit.reach.ports import PROTOCOLS, port_name, port_number
from executor_dind.audit.reach.selectors import as_dict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _port_problems(entries: Any, where: str) -> Iterator[tuple[str, str]]:
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        path = f"{where}.ports[{index}]"
        if not isinstance(entry, dict):
            yield path, "is not a mapping of protocol, port and endPort"
            continue
        protocol = entry.get("protocol", "TCP")
        if protocol not in PROTOCOLS:
            yield f"{path}.protocol", f"{protocol!r} is not TCP, UDP or SCTP"
        port = entry.get("port")
        if port is not None and port_number(port) is None and port_name(port) is None:
            yield (
                f"{path}.port",
                f"{shown(port)} is neither a port number from 1 to 65535 nor a port name (1-15 of a-z, 0-9 and '-', "
                "with a letter)",
            )
        if "endPort" in entry:
            end = port_number(entry.get("endPort"))
            if end is None or port_number(port) is None or end < (port_number(port) or 0):
                yield (
                    f"{path}.endPort",
                    f"{shown(entry.get('endPort'))} is not a port number from the rule's numeric port to 65535",
                )


def shown(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 64 and type(value) is int:
        return f"an integer of {value.bit_length()} bits"  # repr() refuses past 4300 digits (the loader's HugeInt
    text = repr(value)  # says its own length)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _block_problems(block: Any, path: str) -> Iterator[tuple[str, str]]:
    if not isinstance(block, dict):
        yield path, "is not a mapping of cidr and except"
        return
    text = block.get("cidr")
    try:
        cidr.network(text)
    except cidr.CidrError as error:
        yield f"{path}.cidr", f"{shown(text)} {error}"
    excepted = block.get("except") or []
    if not isinstance(excepted, list):
        yield f"{path}.except", "is not a list of CIDRs"
        return
    for index, entry in enumerate(excepted):
        try:
            cidr.network(entry)
        except cidr.CidrError as error:
            yield f"{path}.except[{index}]", f"{shown(entry)} {error}"
            continue
        problem = cidr.except_problem(str(text), entry) if isinstance(text, str) else None
        if problem:
            yield f"{path}.except[{index}]", problem


def policy_problems(policy: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field path, what is wrong) for every field of a NetworkPolicy that the API server rejects or that the
    API server and the enforcement engines read differently; empty when every reader reads it alike."""
    found: list[tuple[str, str]] = []
    spec = as_dict(policy.get("spec"))
    for key, peers_key in (("egress", "to"), ("ingress", "from")):
        rules = spec.get(key)
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            where = f"spec.{key}[{index}]"
            rule = as_dict(rule)
            found.extend(_port_problems(rule.get("ports"), where))
            peers = rule.get(peers_key)
            for number, peer in enumerate(peers if isinstance(peers, list) else []):
                if isinstance(peer, dict) and "ipBlock" in peer:
                    found.extend(_block_problems(peer["ipBlock"], f"{where}.{peers_key}[{number}].ipBlock"))
    return found
