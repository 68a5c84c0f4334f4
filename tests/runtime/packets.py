"""Stand-in servers and probes for the NetworkPolicy tests, run as a script inside a network namespace we created.

    packets.py serve TCP_PORTS UDP_PORTS      e.g. `serve 80,443 53`: answers on every local address
    packets.py probe                          cases as JSON lines on stdin, verdicts as JSON lines on stdout

A TCP server writes "<the address it was reached at> <the client's address>" and closes; a UDP server answers a
DNS query with one A record holding the client's address (busybox's nslookup in a job container can read it), and
anything else with the same line as TCP. A probe is OPEN only when the answer names the destination it was sent
to and the source the test expects (so a reply from elsewhere, or through an unexpected NAT, is not a pass);
otherwise BLOCKED with the error (refused: kube-router rejects; timeout: an engine that drops).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

TIMEOUT = 2.0


def dns_answer(query: bytes, address: str) -> bytes:
    """The query's id and question, answered with one A record (a pointer to the question's name)."""
    end = 12
    while query[end] != 0:
        end += query[end] + 1
    question = query[12 : end + 5]
    header = query[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
    record = struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton(address)
    return header + question + record


def dns_query(name: str) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return struct.pack("!HHHHHH", 0x1D0E, 0x0100, 1, 0, 0, 0) + labels + b"\x00" + struct.pack("!HH", 1, 1)


def serve_tcp(port: int) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(64)
    while True:
        conn, peer = listener.accept()
        with contextlib.suppress(OSError):
            conn.sendall(f"{conn.getsockname()[0]} {peer[0]}\n".encode())
        conn.close()


def serve_udp(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, 8, 1)  # IP_PKTINFO: which local address the datagram was sent to
    sock.bind(("0.0.0.0", port))
    while True:
        data, ancillary, _flags, peer = sock.recvmsg(2048, 256)
        local = next(socket.inet_ntoa(d[4:8]) for level, kind, d in ancillary if kind == 8)
        answer = dns_answer(data, peer[0]) if len(data) > 12 else f"{local} {peer[0]}\n".encode()
        sock.sendto(answer, peer)


def probe(case: dict) -> dict:
    """case: {"ip", "port", "proto", "source"}; the verdict and what was seen."""
    ip, port, proto = case["ip"], int(case["port"]), case["proto"]
    try:
        if proto == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.settimeout(TIMEOUT)
            sock.connect((ip, port))  # only the destination's answer is read; a rejection raises
            sock.send(dns_query("probe.edr"))
            data = sock.recv(2048)
            seen = f"{ip} {socket.inet_ntoa(data[-4:])}"
        else:
            with socket.create_connection((ip, port), timeout=TIMEOUT) as sock:
                seen = sock.makefile().readline().strip()
    except OSError as error:
        return {**case, "verdict": "BLOCKED", "seen": type(error).__name__}
    verdict = "OPEN" if seen == f"{ip} {case['source']}" else f"UNEXPECTED ANSWER {seen!r}"
    return {**case, "verdict": verdict, "seen": seen}


def main() -> None:
    if sys.argv[1] == "serve":
        tcp, udp = ([int(p) for p in arg.split(",") if p] for arg in (sys.argv[2], sys.argv[3]))
        threads = [threading.Thread(target=serve_tcp, args=(p,), daemon=True) for p in tcp]
        threads += [threading.Thread(target=serve_udp, args=(p,), daemon=True) for p in udp]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return
    cases = [json.loads(line) for line in sys.stdin if line.strip()]
    with ThreadPoolExecutor(max_workers=max(1, len(cases))) as pool:
        for verdict in pool.map(probe, cases):
            print(json.dumps(verdict))


if __name__ == "__main__":
    main()
