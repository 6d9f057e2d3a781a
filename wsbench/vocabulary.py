"""The project's words, typed: transports, ports, modes, commit modes, stores, row checks."""

from __future__ import annotations

from enum import StrEnum


class Transport(StrEnum):
    """How numbers reach the server."""

    WEBSOCKET = "websocket"
    HTTP = "http"  # HTTP/1.1, keep-alive
    HTTP2 = "http2"  # HTTP/2 over TLS: one connection, many streams
    HTTP3 = "http3"  # HTTP/3 over QUIC (UDP), with TLS
    WEBTRANSPORT = "webtransport"  # a WebTransport session over HTTP/3


class Port(StrEnum):
    """The server's kinds of port, as ``GET /info`` names them; each served by one transport."""

    WEBSOCKET = "ws_port"  # also the page, /info and /runs/<id>
    HTTP = "http_port"  # HTTP/1.1: cleartext, or over TLS with --tls
    HTTP2 = "h2_port"  # with --tls
    HTTP3 = "h3_port"  # UDP, with --tls: HTTP/3 and WebTransport (its TCP side: HTTPS, Alt-Svc)


class Mode(StrEnum):
    """How a client sends: all at once (up to a window) or each after the previous answer."""

    PIPELINED = "pipelined"
    ONE_AT_A_TIME = "one-at-a-time"
    DATAGRAMS = "datagrams"  # WebTransport only: a datagram per number, resent until acked


class PageMode(StrEnum):
    """The page's modes, as ``?mode=`` and ``benchmarkResult`` name them."""

    WEBSOCKET_PIPELINED = "websocket/pipelined"
    WEBSOCKET_ONE_AT_A_TIME = "websocket/one-at-a-time"
    HTTP_ONE_AT_A_TIME = "http/one-at-a-time"
    HTTP_CONCURRENT = "http/concurrent"
    HTTP2_ONE_AT_A_TIME = "http2/one-at-a-time"  # offered when the server has TLS
    HTTP2_CONCURRENT = "http2/concurrent"
    HTTP3_ONE_AT_A_TIME = "http3/one-at-a-time"  # the QUIC port, with TLS
    HTTP3_CONCURRENT = "http3/concurrent"
    WEBTRANSPORT_PIPELINED = "webtransport/pipelined"
    WEBTRANSPORT_ONE_AT_A_TIME = "webtransport/one-at-a-time"
    WEBTRANSPORT_DATAGRAMS = "webtransport/datagrams"  # unreliable: resent until acked


class CommitMode(StrEnum):
    """When the writer commits: whatever has arrived at once, or each number on its own."""

    GROUP = "group"
    PER_MESSAGE = "per-message"


class StoreKind(StrEnum):
    """Where committed numbers live."""

    MYSQL = "mysql"
    SQLITE = "sqlite"
    NULL = "null"


class FloorMethod(StrEnum):
    """How the benchmark's database floor writes its rows, with no server in between."""

    EXECUTEMANY = "executemany"
    PREPARED = "prepared"


class RowCheck(StrEnum):
    """What counting a run's rows in the store said about its acks."""

    VERIFIED = "verified"
    NOT_STORED = "not-stored"  # the null store keeps nothing to count
    MISMATCH = "MISMATCH"
    SKIPPED = "skipped"  # --no-verify


class WireProtocol(StrEnum):
    """What a result says the browser or client really spoke (``nextHopProtocol`` for HTTP)."""

    WEBSOCKET = "websocket"
    HTTP1 = "http/1.1"
    HTTP2 = "h2"
    HTTP3 = "h3"
    WEBTRANSPORT = "webtransport"
