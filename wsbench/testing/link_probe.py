"""Measuring a link from this side: connect times, bulk rates, datagram loss.

The far side runs ``python -m wsbench.testing.link_peer`` (``PEER``) behind the link.
"""

from __future__ import annotations

import math
import socket
import sys
import time

from ..link import Link

PEER = (sys.executable, "-m", "wsbench.testing.link_peer")
PORT, UDP_PORT = 9000, 9001


def connect_ms(address: str, count: int = 7) -> list[float]:
    """TCP connect times to the peer: one round trip each (SYN, SYN-ACK).

    The connections stay open until the last is made: closing one would put its FIN (and the
    peer's) on the link ahead of the next SYN, and time them too.
    """
    times, opened = [], []
    try:
        for _ in range(count):
            start = time.perf_counter()
            opened.append(socket.create_connection((address, PORT), timeout=10))
            times.append((time.perf_counter() - start) * 1000)
    finally:
        for connection in opened:
            connection.close()
    return times


def download_mbit(address: str, nbytes: int) -> float:
    """A bulk download's rate from its first fifth to its last byte, past TCP's slow start."""
    with socket.create_connection((address, PORT), timeout=60) as connection:
        connection.sendall(f"down {nbytes}\n".encode())
        got, since, start = 0, 0, 0.0
        while got < nbytes:
            chunk = connection.recv(1 << 16)
            assert chunk, "the download ended early"
            got += len(chunk)
            if not since and got >= nbytes / 5:
                since, start = got, time.perf_counter()
        return (got - since) * 8 / (time.perf_counter() - start) / 1e6


def upload_mbit(address: str, nbytes: int) -> float:
    """A bulk upload's rate as the peer saw it, from the first fifth to the last byte."""
    with socket.create_connection((address, PORT), timeout=60) as connection:
        connection.sendall(f"up {nbytes}\n".encode())
        connection.sendall(b"x" * nbytes)
        connection.shutdown(socket.SHUT_WR)
        count, rate = connection.recv(64).split()
    assert int(count) == nbytes
    return float(rate)


def udp_loss(address: str, sent: int, rtt_ms: float) -> int:
    """Send ``sent`` datagrams below the link's rate; return how many the peer received."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for index in range(sent):
            udp.sendto(index.to_bytes(4, "big"), (address, UDP_PORT))
            if index % 100 == 99:
                time.sleep(0.01)  # 10,000 small datagrams a second at most: no buffer drops
    time.sleep(rtt_ms / 1000)  # the last ones' one-way trip, with margin
    with socket.create_connection((address, PORT), timeout=30) as connection:
        connection.sendall(b"udp\n")
        return int(connection.recv(64))


def within_binomial(observed: int, trials: int, p: float, sigmas: float = 5) -> bool:
    """Whether ``observed`` successes in ``trials`` are plausible at probability ``p``."""
    spread = sigmas * math.sqrt(trials * p * (1 - p))
    return abs(observed - trials * p) <= spread


def expected_connect_ms(link: Link) -> float:
    """A connect in a row of them: the RTT, a SYN up and a SYN-ACK down (60 bytes each), and
    the previous connect's last ACK (52 bytes) still being sent up ahead of the SYN."""
    up = 0 if link.up_mbit is None else (60 + 52) * 8 / (link.up_mbit * 1000)
    down = 0 if link.down_mbit is None else 60 * 8 / (link.down_mbit * 1000)
    return link.rtt_ms + up + down
