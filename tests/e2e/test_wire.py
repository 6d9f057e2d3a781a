"""Counting the wire: a link's counters against traffic whose bytes are known."""

from __future__ import annotations

import socket
import subprocess
import sys

from wsbench.testing.wire import Link, Wire

# Echoes what it reads on one connection, then exits: the known traffic's other end.
ECHO = """
import socket, sys
server = socket.create_server((sys.argv[1], 9000))
print("ready", flush=True)
connection, _ = server.accept()
while data := connection.recv(65536):
    connection.sendall(data)
connection.close()
"""
PAYLOAD = 200_000
# Ethernet (14) + IPv4 (20) + TCP (20) + options (12 with timestamps, 20 on a SYN).
LEAST_HEADERS, MOST_HEADERS = 14 + 20 + 20, 14 + 20 + 40


def echo_through(link: Link, payload: bytes) -> Wire:
    """Send ``payload`` to an echo server in the link's namespace, read it back; the traffic."""
    echo = subprocess.Popen(
        [*link.prefix, sys.executable, "-c", ECHO, link.server_address],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert echo.stdout is not None and echo.stdout.readline() == "ready\n"
        before = link.counters()
        with socket.create_connection((link.server_address, 9000), timeout=10) as client:
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
            echoed = b""
            while data := client.recv(65536):
                echoed += data
        assert echo.wait(timeout=10) == 0
        assert echoed == payload
        return link.counters() - before
    finally:
        echo.kill()
        echo.wait()


def test_the_counters_see_the_known_bytes_and_their_headers(link: Link):
    traffic = echo_through(link, b"7" * PAYLOAD)
    for sent, packets in ((traffic.bytes_up, traffic.packets_up),
                          (traffic.bytes_down, traffic.packets_down)):  # fmt: skip
        headers = sent - PAYLOAD
        # Retransmitted segments (a tail-loss probe, say) are real traffic too: allow 10% of the
        # payload for them; counting the other direction as well would double it.
        assert packets * LEAST_HEADERS <= headers <= packets * MOST_HEADERS + PAYLOAD // 10, traffic
    # One segment per packet, as on an Ethernet with MTU 1500: 1,448 bytes each at most.
    assert traffic.packets_up >= PAYLOAD / 1448, traffic
    per = traffic.per(1000)
    assert per["bytes_up"] == traffic.bytes_up / 1000


# A loopback connection moving PAYLOAD both ways, then its byte count: traffic beside the link.
LOOPBACK = """
import socket, threading
server = socket.create_server(("127.0.0.1", 0))
def echo():
    connection, _ = server.accept()
    while data := connection.recv(65536):
        connection.sendall(data)
    connection.close()
threading.Thread(target=echo).start()
with socket.create_connection(server.getsockname()) as client:
    client.sendall(b"7" * int(__import__("sys").argv[1]))
    client.shutdown(socket.SHUT_WR)
    total = 0
    while data := client.recv(65536):
        total += len(data)
print(total)
"""


def test_traffic_beside_the_link_is_not_counted(link: Link):
    """The link's namespace talking to itself (as its server does to MariaDB, by a local
    socket) and this side's loopback: neither is on the pair, so neither is counted."""
    before = link.counters()
    for prefix in (link.prefix, []):  # the namespace's loopback, then this side's
        command = [*prefix, sys.executable, "-c", LOOPBACK, str(PAYLOAD)]
        moved = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert moved.stdout == f"{PAYLOAD}\n", moved.stderr
    assert link.counters() - before == Wire(0, 0, 0, 0)
