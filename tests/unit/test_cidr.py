"""cidr: the three readers of an ipBlock text (API server, Go's net package, the engines' Contains)."""

from __future__ import annotations

import ipaddress

import pytest

from executor_dind import cidr

LEADING_ZERO = "has an IPv4 octet with a leading zero"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3/8", "10.0.0.0/8"),  # host bits: the API server and Go mask them
        ("10.0.0.0/08", "10.0.0.0/8"),  # Go's dtoi takes leading zeros in the prefix length
        ("1.2.3.4/" + "0" * 5000 + "8", "1.0.0.0/8"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),  # IPv4-mapped: the IPv4 block it maps
        ("::ffff:169.254.169.254/128", "169.254.169.254/32"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
        ("::ffff:a9fe:0/112", "169.254.0.0/16"),
        ("::ffff:0:0/95", "::fffe:0:0/95"),  # shorter than /96: an IPv6 block, which no IPv4 address matches
        ("::/0", "::/0"),
        ("fd00::/8", "fd00::/8"),
    ],
)
def test_network_reads_as_every_reader_does(text: str, expected: str) -> None:
    assert str(cidr.network(text)) == expected
    assert str(cidr.sloppy(text)) == expected
    assert cidr.canonical(text) == expected


@pytest.mark.parametrize(
    ("text", "api_server_reads"),
    [
        ("010.0.0.0/8", "10.0.0.0/8"),
        ("169.254.169.0254/32", "169.254.169.254/32"),
        ("::ffff:010.0.0.0/104", "10.0.0.0/8"),
    ],
)
def test_leading_zero_octets_are_read_differently_so_refused(text: str, api_server_reads: str) -> None:
    with pytest.raises(cidr.CidrError, match=LEADING_ZERO):
        cidr.network(text)
    assert str(cidr.sloppy(text)) == api_server_reads


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.0", "is not a CIDR: an address, '/', and a prefix length (e.g. 10.0.0.0/8 or fd00::/8)"),
        ("10.0.0.0/8/9", "is not a CIDR: an address, '/', and a prefix length (e.g. 10.0.0.0/8 or fd00::/8)"),
        ("10.0.0.0/33", "is not a CIDR: /33 is not a prefix length from 0 to 32"),
        ("10.0.0.0/\u00b9", "is not a CIDR: /\u00b9 is not a prefix length from 0 to 32"),
        ("10.0.0.0/+8", "is not a CIDR: /+8 is not a prefix length from 0 to 32"),
        ("\u0661.2.3.4/8", "is not a CIDR: '\u0661.2.3.4' is not an IP address"),
        (" 10.0.0.0/8", "is not a CIDR: ' 10.0.0.0' is not an IP address"),
        ("256.0.0.0/8", "is not a CIDR: '256.0.0.0' is not an IP address"),
        ("fe80::1%eth0/64", "is not a CIDR: an address zone ('%...') is not allowed"),
    ],
)
def test_not_a_cidr_for_any_reader(text: str, message: str) -> None:
    with pytest.raises(cidr.CidrError) as raised:
        cidr.network(text)
    assert str(raised.value) == message
    assert cidr.sloppy(text) is None


def test_every_mapped_block_contains_the_ipv4_addresses_go_matches() -> None:
    # Go's IPNet.Contains folds a 16-byte mapped block to 4 bytes when the address is IPv4.
    for prefix in range(96, 129, 8):
        folded = cidr.network(f"::ffff:169.254.169.254/{prefix}")
        assert folded.version == 4
        assert ipaddress.ip_address("169.254.169.254") in folded
        assert folded.prefixlen == prefix - 96


@pytest.mark.parametrize(
    ("block", "excepted", "ok"),
    [
        ("0.0.0.0/0", "169.254.0.0/16", True),
        ("10.0.0.0/8", "10.0.0.0/8", False),  # equal: not a strict subset
        ("10.0.0.0/8", "192.168.0.0/16", False),  # outside
        ("10.0.0.0/8", "::ffff:10.1.0.0/112", True),  # mapped except inside an IPv4 cidr, longer as written
        ("::ffff:10.0.0.0/104", "10.1.0.0/16", False),  # 104 >= 16 as written, though inside once folded
        ("::/0", "169.254.0.0/16", False),  # another family
    ],
)
def test_except_strict_subset_as_the_api_server_checks(block: str, excepted: str, ok: bool) -> None:
    problem = cidr.except_problem(block, excepted)
    if ok:
        assert problem is None
    else:
        assert (
            problem == f"{excepted!r} must be a strict subset of the block's cidr {block!r} (the API server rejects it)"
        )
