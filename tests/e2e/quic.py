"""Helpers for the tests of the QUIC port: where it is, and a client connection to it."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

from wsbench.bench.quic import QuicClient, Trust, quic_connection
from wsbench.testing.server import ServerProcess

# The servers under test use their fresh self-signed certificate.
INSECURE = Trust(insecure=True)
QUIC_ARGS = ("--tls", "--h3-port", "0")  # a --tls server with the QUIC port on a free port


def server_info(server: ServerProcess) -> dict[str, Any]:
    """The server's GET /info, over its HTTPS port."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(f"{server.http_url}/info", context=context, timeout=10) as answer:
        info: dict[str, Any] = json.loads(answer.read())
    return info


def h3_url(server: ServerProcess) -> str:
    """``https://HOST:PORT`` of the server's QUIC port."""
    port = server_info(server)["h3_port"]
    assert port, f"the server has no QUIC port: start it with {' '.join(QUIC_ARGS)}"
    return f"https://{server.host}:{port}"


@contextlib.asynccontextmanager
async def h3(server: ServerProcess) -> AsyncIterator[QuicClient]:
    """An HTTP/3 connection to the server's QUIC port."""
    async with quic_connection(h3_url(server), INSECURE) as client:
        yield client


def free_udp_port() -> int:
    """A UDP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
