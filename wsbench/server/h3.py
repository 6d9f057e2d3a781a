"""HTTP/3 and WebTransport on one UDP port, served by aioquic in this event loop.

HTTP/3 requests go to the same ASGI application as the HTTPS ports (so the same checks and
answers); a CONNECT with ``:protocol webtransport`` opens a session (``webtransport``). The same
port number on TCP serves that application over HTTPS with ``Alt-Svc: h3``, which is how a
browser learns that an origin speaks HTTP/3 (Firefox, for one, switches only that way).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve as quic_serve
from aioquic.h3.connection import H3_ALPN, ErrorCode, H3Connection
from aioquic.h3.events import (
    DatagramReceived,
    DataReceived,
    H3Event,
    HeadersReceived,
    WebTransportStreamDataReceived,
)
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    QuicEvent,
    StreamDataReceived,
    StreamReset,
)

from ..vocabulary import Port, Transport
from .https import HttpsServer, address_in_use
from .service import Service
from .webtransport import Sessions

logger = logging.getLogger("wsbench")
# aioquic logs every connection's events at INFO: one line per event that matters is ours to say.
logging.getLogger("quic").setLevel(logging.WARNING)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

# Datagrams of up to this size are accepted (browsers send at most about 1.2 KB).
MAX_DATAGRAM_FRAME = 65536
# Headers HTTP/3 forbids (RFC 9114, 4.2): the connection's, which QUIC replaces.
CONNECTION_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade"})
# With port 0, the UDP port picked may be taken on TCP: pick again, this many times.
PORT_ATTEMPTS = 5
ALT_SVC_MAX_AGE_S = 86400


class H3Server:
    """``POST /numbers`` and the GETs over HTTP/3, and WebTransport sessions, on one UDP port."""

    port = Port.HTTP3

    def __init__(self, service: Service) -> None:
        if service.certificate is None:
            raise ValueError("HTTP/3 needs the service's certificate (--tls)")
        self.service = service
        self.https = HttpsServer(service, Transport.HTTP3, Port.HTTP3)  # the answers, UDP and TCP
        self.app = self.https.app
        self.connections: set[H3Protocol] = set()
        self.sessions = Sessions(service)

    @contextlib.asynccontextmanager
    async def serve(self, port: int | None = None) -> AsyncIterator[int]:
        """Listen on UDP and TCP ``port`` (0: a free one; by default --h3-port) until the context
        exits, then close the sessions and answer the requests under way; yield the port."""
        if port is None:
            port = self.service.config.h3_port
        for attempt in range(1, PORT_ATTEMPTS + 1):
            async with contextlib.AsyncExitStack() as stack:
                bound = await stack.enter_async_context(self.serve_quic(port))
                self.https.alt_svc = (("Alt-Svc", f'h3=":{bound}"; ma={ALT_SVC_MAX_AGE_S}'),)
                try:
                    await stack.enter_async_context(self.https.serve(bound))
                except OSError:
                    if port or attempt == PORT_ATTEMPTS:
                        raise
                    continue  # only the UDP side was free: try another port
                try:
                    yield bound
                finally:  # only a port that served has sessions: a retried one took nothing
                    await self.sessions.close_all()
                    for connection in list(self.connections):
                        await connection.finish_requests()
                return

    async def drain(self) -> None:
        """Nothing to refuse early: new sessions get 503 once the service is stopping."""

    @contextlib.asynccontextmanager
    async def serve_quic(self, port: int) -> AsyncIterator[int]:
        """Listen on UDP ``port`` (0: a free one) until the context exits; yield the port."""
        config, certificate = self.service.config, self.service.certificate
        assert certificate is not None
        configuration = QuicConfiguration(
            alpn_protocols=H3_ALPN,
            is_client=False,
            max_datagram_frame_size=MAX_DATAGRAM_FRAME,
            idle_timeout=config.ping_timeout,
        )
        configuration.load_cert_chain(certificate.cert, certificate.key)
        try:
            server = await quic_serve(
                config.host.strip("[]"),
                port,
                configuration=configuration,
                create_protocol=self.protocol,
                # Stateless Retry (RFC 9000, 8.1): a client gets a connection only once it has
                # shown it receives at its address, one round trip later. An Initial sent and
                # abandoned, or sent from a spoofed address, costs the server no state.
                retry=True,
            )
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise address_in_use("UDP", config.host, port) from None
        assert server._transport is not None
        try:
            yield server._transport.get_extra_info("sockname")[1]
        finally:
            server.close()

    def protocol(self, *args: Any, **kwargs: Any) -> H3Protocol:
        """A connection's protocol (aioquic calls this for each new connection)."""
        return H3Protocol(*args, server=self, **kwargs)


class H3Protocol(QuicConnectionProtocol):
    """One QUIC connection: its HTTP/3 requests and WebTransport sessions."""

    def __init__(self, *args: Any, server: H3Server, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server = server
        self.h3: H3Connection | None = None
        self.exchanges: dict[int, Exchange] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def quic_event_received(self, event: QuicEvent) -> None:
        """Route QUIC's events to HTTP/3, and count the connection while it lives."""
        if isinstance(event, HandshakeCompleted):
            # Refused only now: a close before the handshake is confirmed goes in packets that
            # QUIC strips of their reason (RFC 9000, 10.2.3), so the client would not learn why.
            limit = self.server.service.config.max_connections
            if len(self.server.connections) >= limit:
                self._quic.close(
                    error_code=ErrorCode.H3_EXCESSIVE_LOAD,
                    reason_phrase=f"too many connections (limit {limit})",
                )
                return
            self.server.connections.add(self)
            self.h3 = H3Connection(self._quic, enable_webtransport=True)
        elif isinstance(event, ConnectionTerminated):
            self.server.connections.discard(self)
            if self.h3 is not None:
                self.server.sessions.connection_closed(self.h3)
            for exchange in self.exchanges.values():
                exchange.disconnected()
        elif isinstance(event, StreamReset) and event.stream_id in self.exchanges:
            self.exchanges[event.stream_id].disconnected()
        if self.h3 is None:
            return
        # A stream a session opened carries its numbers, not HTTP/3 frames: aioquic learns a
        # stream's kind only from the header its opener sends, so its bytes go to the session.
        if isinstance(event, StreamDataReceived) and self.server.sessions.own_stream(
            self.h3, event.stream_id, event.data, event.end_stream
        ):
            return
        for h3_event in self.h3.handle_event(event):
            self.h3_event_received(h3_event)

    def h3_event_received(self, event: H3Event) -> None:
        """Start a request or a session, or give it what arrived."""
        sessions, h3 = self.server.sessions, self.h3
        assert h3 is not None
        if isinstance(event, HeadersReceived):
            if event.stream_id in self.exchanges:
                return  # trailers: nothing we use
            headers = {
                name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers
            }
            if headers.get(":method") == "CONNECT":
                sessions.open(h3, self._quic, self.transmit, event.stream_id, headers)
                return
            self.start_exchange(event.stream_id, headers, event.stream_ended)
        elif isinstance(event, DataReceived):
            if exchange := self.exchanges.get(event.stream_id):
                exchange.received(event.data, event.stream_ended)
            elif event.stream_ended:
                sessions.ended(h3, event.stream_id)  # the client closed its session
        elif isinstance(event, WebTransportStreamDataReceived):
            sessions.stream_data(
                h3, self._quic, event.session_id, event.stream_id, event.data, event.stream_ended
            )
        elif isinstance(event, DatagramReceived):
            sessions.datagram(h3, event.stream_id, event.data)

    def start_exchange(self, stream_id: int, headers: dict[str, str], ended: bool) -> None:
        """Run the ASGI application for one request."""
        exchange = Exchange(self, stream_id)
        self.exchanges[stream_id] = exchange
        if ended:
            exchange.received(b"", True)
        path, _, query = headers.get(":path", "/").partition("?")
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "3",
            "method": headers.get(":method", "GET"),
            "scheme": "https",
            "path": path,
            "query_string": query.encode("latin-1"),
            "headers": [
                (name.encode("latin-1"), value.encode("latin-1"))
                for name, value in (("host", headers.get(":authority", "")), *headers.items())
                if not name.startswith(":")
            ],
        }
        task = asyncio.create_task(self.run_exchange(exchange, scope))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run_exchange(self, exchange: Exchange, scope: Scope) -> None:
        """Answer one request; stop reading what it still sends."""
        try:
            await self.server.app(scope, exchange.receive, exchange.send)
        except Exception:
            logger.exception("HTTP/3 request %s %s failed", scope["method"], scope["path"])
        finally:
            del self.exchanges[exchange.stream_id]
            if not exchange.ended:  # e.g. an oversized body: stop the client sending more
                with contextlib.suppress(Exception):
                    self._quic.stop_stream(exchange.stream_id, ErrorCode.H3_NO_ERROR)
            self.transmit()

    async def finish_requests(self) -> None:
        """Wait for the requests under way to be answered."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


class Exchange:
    """One HTTP/3 request stream, as ASGI's receive and send."""

    def __init__(self, connection: H3Protocol, stream_id: int) -> None:
        self.connection = connection
        self.stream_id = stream_id
        self.ended = False
        self._queue: asyncio.Queue[Message] = asyncio.Queue()

    def received(self, data: bytes, ended: bool) -> None:
        """Body bytes arrived."""
        self.ended = ended
        self._queue.put_nowait({"type": "http.request", "body": data, "more_body": not ended})

    def disconnected(self) -> None:
        """The stream or the connection went away."""
        self._queue.put_nowait({"type": "http.disconnect"})

    async def receive(self) -> Message:
        """ASGI's receive."""
        return await self._queue.get()

    async def send(self, message: Message) -> None:
        """ASGI's send, onto the stream."""
        h3 = self.connection.h3
        assert h3 is not None
        if message["type"] == "http.response.start":
            headers = [(b":status", str(message["status"]).encode())]
            headers += [
                (name.lower(), value)
                for name, value in message["headers"]
                if name.lower().decode("latin-1") not in CONNECTION_HEADERS
            ]
            h3.send_headers(self.stream_id, headers)
        elif message["type"] == "http.response.body":
            more = message.get("more_body", False)
            h3.send_data(self.stream_id, message.get("body", b""), end_stream=not more)
            self.connection.transmit()


def offer(service: Service) -> list[H3Server]:
    """With --tls and one process: HTTP/3 and WebTransport on the QUIC port. aioquic binds its
    UDP port alone (no SO_REUSEPORT), so with --workers there is none."""
    if service.certificate is None or service.config.workers > 1:
        return []
    return [H3Server(service)]
