"""The bench client's transports, one spec each: a new transport is one more entry in SPECS.

Each spec says how run ids name it, whether it sends -n or --nhttp numbers, whether it needs the
server's --tls, which port of the server's GET /info it uses, its help, and how its driver is made.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..vocabulary import FloorMethod, Mode, Port, StoreKind, Transport
from .driver import Driver
from .floor import FloorDriver
from .h3 import Http3Driver
from .http import Http2Driver, HttpDriver
from .models import Case
from .quic import Trust
from .settings import HTTP_WINDOW, BenchConfig, with_port
from .websocket import WebSocketDriver
from .webtransport import WebTransportDriver

# The driver of a transport, given the settings, the server's GET /info and the port's URL.
DriverFactory = Callable[[BenchConfig, dict[str, Any], str], Driver]


@dataclass(frozen=True)
class TransportSpec:
    """One way the bench client sends numbers."""

    short: str  # in run ids, so a row in the table says which case wrote it
    port: Port  # the server's port it talks to, as GET /info names it
    driver: DriverFactory
    streamed: bool = False  # sends -n numbers per connection; the request-per-number ones --nhttp
    tls_only: bool = False  # needs a wss:// server (the server's --tls)
    help: str = ""  # its modes, for --help


def _tls(config: BenchConfig) -> ssl.SSLContext:
    context = config.ssl_context()
    assert context is not None  # a TLS-only transport of a wss:// server
    return context


def _trust(config: BenchConfig) -> Trust:
    return Trust(config.tls_ca, config.insecure)


def _webtransport(config: BenchConfig, info: dict[str, Any], url: str) -> Driver:
    path = info.get("webtransport_path") or "/webtransport"
    return WebTransportDriver(url, path, config.window, config.timeout_s, _trust(config))


SPECS: dict[Transport, TransportSpec] = {
    Transport.WEBSOCKET: TransportSpec(
        "ws",
        Port.WEBSOCKET,
        lambda c, info, url: WebSocketDriver(c.server, c.window, c.timeout_s, c.ssl_context()),
        streamed=True,
        help="""\
  websocket/pipelined      each connection sends its N numbers as fast as it can (with --window W,
                           keeping at most W unacked); the server acks cumulatively after each
                           commit. Without a window every number is sent at t0, so its latency
                           includes the wait behind the numbers sent before it; a window
                           measures the server's answer time under a steady load
  websocket/one-at-a-time  send a number, wait for its ack, send the next
""",
    ),
    Transport.HTTP: TransportSpec(
        "http",
        Port.HTTP,
        lambda c, info, url: HttpDriver(
            url, c.window or HTTP_WINDOW, c.http_pool, c.timeout_s, c.ssl_context()
        ),
        help="""\
  http/pipelined           HTTP/1.1 has no usable pipelining (aiohttp sends one request at a time
                           per connection), so this is concurrent requests over keep-alive:
                           each of the C clients keeps up to --window POSTs in flight, over a
                           pool of --http-pool keep-alive connections (default C). With the
                           default pool, at most C requests are on the wire at once; the rest
                           queue in the client, first come first served, and their latency
                           counts that wait (as a browser's fetch does). Raise --http-pool to
                           put more requests on the wire at once
  http/one-at-a-time       each client POSTs a number and waits for the answer before the next
""",
    ),
    Transport.HTTP2: TransportSpec(
        "h2",
        Port.HTTP2,
        lambda c, info, url: Http2Driver(url, c.window or HTTP_WINDOW, c.timeout_s, _tls(c)),
        tls_only=True,
        help="""\
  http2/pipelined          HTTP/2 over TLS (the server's --h2-port, from GET /info): one
                           connection for all C clients, each keeping up to --window requests in
                           flight as streams of it
  http2/one-at-a-time      each client POSTs a number over the one HTTP/2 connection and waits
""",
    ),
    Transport.HTTP3: TransportSpec(
        "h3",
        Port.HTTP3,
        lambda c, info, url: Http3Driver(url, c.window or HTTP_WINDOW, c.timeout_s, _trust(c)),
        tls_only=True,
        help="""\
  http3/pipelined          HTTP/3 over QUIC (the server's UDP --h3-port, from GET /info): one
                           connection for all C clients, each keeping up to --window requests in
                           flight as streams of it; C x --window at most 128, the streams the
                           server allows at once
  http3/one-at-a-time      each client POSTs a number over the one HTTP/3 connection and waits
""",
    ),
    Transport.WEBTRANSPORT: TransportSpec(
        "wt",
        Port.HTTP3,
        _webtransport,
        streamed=True,
        tls_only=True,
        help="""\
  webtransport/pipelined   a WebTransport session per connection (a QUIC connection each): the
                           numbers as lines on the stream the server opens, cumulative acks back,
                           as websocket/pipelined; a session that ends early is opened again
                           with the same run id and resumes after the committed numbers
  webtransport/one-at-a-time  a line, wait for its ack, the next
  webtransport/datagrams   each number a datagram "SEQ NUMBER", up to --window (default
                           256) in flight per session; the server acks committed seqs in
                           datagrams, and a number not acked within max(50 ms, 4 x the smoothed
                           ack latency) is sent again (the reconnects column counts resends);
                           (run, seq) stores it once. Only with --transport webtransport
""",
    ),
}
# In run ids: the modes, and the floor's store and methods (--floor).
_SHORT: dict[str, str] = {
    Mode.PIPELINED: "p",
    Mode.ONE_AT_A_TIME: "1",
    Mode.DATAGRAMS: "d",
    StoreKind.MYSQL: "db",
    FloorMethod.EXECUTEMANY: "x",
    FloorMethod.PREPARED: "s",
}


def short_name(case: Case) -> str:
    """A case's name in its run ids: "wsp" for websocket/pipelined."""
    spec = SPECS.get(case.transport) if isinstance(case.transport, Transport) else None
    return f"{spec.short if spec else _SHORT[case.transport]}{_SHORT[case.mode]}"


def drivers(
    config: BenchConfig, info: dict[str, Any], http_url: str
) -> dict[Transport | StoreKind, Driver]:
    """The driver of each kind of case the server offers (its port in GET /info)."""
    made: dict[Transport | StoreKind, Driver] = {StoreKind.MYSQL: FloorDriver(config.db_url)}
    for transport, spec in SPECS.items():
        if spec.tls_only and not config.tls:
            continue
        if spec.port is Port.HTTP:
            url = http_url
        elif info.get(spec.port.value):
            url = with_port(config.http_base, info[spec.port.value])
        else:
            continue  # not offered: measure() says which flag the server needs
        made[transport] = spec.driver(config, info, url)
    return made
