"""A QUIC client (aioquic): HTTP/3 requests and WebTransport sessions on one connection.

The bench's HTTP/3 and WebTransport drivers, and the tests of the server's QUIC port, talk
through it. WebTransport is draft-02 as browsers and aioquic speak it: a CONNECT with
``:protocol webtransport`` opens a session; the server opens the session's one bidirectional
stream and greets on it; datagrams carry the session's id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import (
    DatagramReceived,
    DataReceived,
    H3Event,
    HeadersReceived,
    WebTransportStreamDataReceived,
)
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, QuicEvent, StreamReset

from ..protocol import LineSplitter, parse_close_capsule

# Datagrams up to this size are accepted from the server, as the server accepts them.
MAX_DATAGRAM_FRAME = 65536
# The bidirectional streams a client may have open at once: aioquic's default, which the
# server keeps (its initial_max_streams_bidi). More would wait in the client, unmeasured.
STREAM_LIMIT = 128
CONNECT_TIMEOUT_S = 10
# Lines the server sends on a session's stream are a hello, acks and errors: short.
MAX_LINE = 65536


class QuicClosed(ConnectionError):
    """The connection or session ended; the message says how (the server's reason, if any)."""


class SessionRefused(ConnectionError):
    """The server answered a WebTransport CONNECT with another status than 200."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"WebTransport refused: {status} {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Trust:
    """How the server's certificate is checked: as ``--tls-ca`` and ``--insecure`` say for the
    TCP ports (neither: the system's CAs)."""

    cafile: str | None = None
    insecure: bool = False


def quic_configuration(trust: Trust) -> QuicConfiguration:
    """HTTP/3 client settings, the certificate checked as ``trust`` says."""
    configuration = QuicConfiguration(
        is_client=True, alpn_protocols=H3_ALPN, max_datagram_frame_size=MAX_DATAGRAM_FRAME
    )
    if trust.insecure:
        configuration.verify_mode = ssl.CERT_NONE
    elif trust.cafile is not None:
        configuration.load_verify_locations(cafile=trust.cafile)
    else:  # aioquic would use certifi's CAs: the system's, as ssl does
        paths = ssl.get_default_verify_paths()
        configuration.load_verify_locations(cafile=paths.cafile, capath=paths.capath)
    return configuration


@contextlib.asynccontextmanager
async def quic_connection(
    url: str, trust: Trust, timeout_s: float = CONNECT_TIMEOUT_S
) -> AsyncIterator[QuicClient]:
    """An HTTP/3 connection to ``https://HOST:PORT``, closed on exit."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"not an https://HOST:PORT URL: {url}")
    configuration = quic_configuration(trust)
    configuration.server_name = parts.hostname
    async with connect(
        parts.hostname,
        parts.port,
        configuration=configuration,
        create_protocol=QuicClient,
        wait_connected=False,  # waited for below, bounded: UDP has no "connection refused"
    ) as client:
        assert isinstance(client, QuicClient)
        client.authority = parts.netloc
        client.transmit()
        try:
            async with asyncio.timeout(timeout_s):
                await client.wait_connected()
        except ConnectionError:  # aioquic's says nothing: the server's reason does
            raise QuicClosed(client.closed_reason or "QUIC handshake failed") from None
        yield client


class _Response:
    """An HTTP/3 request's answer as it arrives."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class QuicClient(QuicConnectionProtocol):
    """One QUIC connection speaking HTTP/3, with WebTransport enabled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic, enable_webtransport=True)
        self.authority = ""
        self.closed_reason: str | None = None  # set when the connection ended
        self._responses: dict[int, _Response] = {}
        self._sessions: dict[int, WebTransportSession] = {}

    @property
    def stream_limit(self) -> int:
        """Bidirectional streams the server lets this client open in all, so far."""
        return self._quic._remote_max_streams_bidi

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        """One request: its status, headers and body."""
        if self.closed_reason is not None:
            raise QuicClosed(self.closed_reason)
        stream_id = self._quic.get_next_available_stream_id()
        response = self._responses[stream_id] = _Response()
        self.h3.send_headers(
            stream_id,
            [
                (b":method", method.encode()),
                (b":scheme", b"https"),
                (b":authority", self.authority.encode()),
                (b":path", path.encode()),
                *(
                    (name.lower().encode(), value.encode())
                    for name, value in (headers or {}).items()
                ),
            ],
            end_stream=not body,
        )
        if body:
            self.h3.send_data(stream_id, body, end_stream=True)
        self.transmit()
        try:
            await response.done
        finally:
            self._responses.pop(stream_id, None)
        return response.status, response.headers, bytes(response.body)

    async def open_session(self, path: str, origin: str | None = None) -> WebTransportSession:
        """A WebTransport session at ``path``, once the server accepted it and opened its
        stream; SessionRefused with the server's reason if it did not."""
        if self.closed_reason is not None:
            raise QuicClosed(self.closed_reason)
        stream_id = self._quic.get_next_available_stream_id()
        session = self._sessions[stream_id] = WebTransportSession(self, stream_id)
        headers = [
            (b":method", b"CONNECT"),
            (b":protocol", b"webtransport"),
            (b":scheme", b"https"),
            (b":authority", self.authority.encode()),
            (b":path", path.encode()),
            (b"sec-webtransport-http3-draft02", b"1"),
        ]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        self.h3.send_headers(stream_id, headers)
        self.transmit()
        await session.accepted
        return session

    def quic_event_received(self, event: QuicEvent) -> None:
        """Hand QUIC's events to HTTP/3; end everything when the connection ends."""
        if isinstance(event, ConnectionTerminated):
            reason = event.reason_phrase or f"error code {event.error_code:#x}"
            self.closed_reason = f"QUIC connection closed: {reason}"
            for response in self._responses.values():
                if not response.done.done():
                    response.done.set_exception(QuicClosed(self.closed_reason))
            for session in list(self._sessions.values()):
                session.ended(self.closed_reason)
        elif isinstance(event, StreamReset) and event.stream_id in self._responses:
            response = self._responses[event.stream_id]
            if not response.done.done():
                response.done.set_exception(QuicClosed(f"stream reset ({event.error_code:#x})"))
        for h3_event in self.h3.handle_event(event):
            self._h3_event(h3_event)

    def _h3_event(self, event: H3Event) -> None:
        if isinstance(event, WebTransportStreamDataReceived):
            if session := self._sessions.get(event.session_id):
                session.stream_data(event.stream_id, event.data, event.stream_ended)
        elif isinstance(event, DatagramReceived):
            if session := self._sessions.get(event.stream_id):
                session.datagrams.put_nowait(event.data)
        elif isinstance(event, HeadersReceived | DataReceived):
            if response := self._responses.get(event.stream_id):
                self._response_event(response, event)
            elif session := self._sessions.get(event.stream_id):
                session.connect_stream_event(event)

    @staticmethod
    def _response_event(response: _Response, event: HeadersReceived | DataReceived) -> None:
        if isinstance(event, HeadersReceived):
            for name, value in event.headers:
                response.headers[name.decode("latin-1")] = value.decode("latin-1")
            response.status = int(response.headers.get(":status", "0"))
        else:
            response.body += event.data
        if event.stream_ended and not response.done.done():
            response.done.set_result(None)

    def forget(self, session: WebTransportSession) -> None:
        """A session ended: its events are no longer ours."""
        self._sessions.pop(session.session_id, None)


class WebTransportSession:
    """One WebTransport session: the server's stream as lines, and datagrams."""

    def __init__(self, client: QuicClient, session_id: int) -> None:
        self.client = client
        self.session_id = session_id
        self.stream_id: int | None = None  # the stream the server opens
        loop = asyncio.get_running_loop()
        self.accepted: asyncio.Future[None] = loop.create_future()
        self.datagrams: asyncio.Queue[bytes] = asyncio.Queue()
        self.closed_reason: str | None = None
        self.close_code: int | None = None  # from the server's CLOSE_WEBTRANSPORT_SESSION
        self.close_reason = ""
        self._status = 0
        self._connect_body = bytearray()
        self._lines = LineSplitter(MAX_LINE)
        self._messages: asyncio.Queue[str | None] = asyncio.Queue()

    def connect_stream_event(self, event: HeadersReceived | DataReceived) -> None:
        """The CONNECT stream: the server's status, then a refusal's reason or a close."""
        if isinstance(event, HeadersReceived):
            self._status = int(dict(event.headers).get(b":status", b"0"))
        else:
            self._connect_body += event.data
        if self._status != 200 and event.stream_ended:
            reason = self._connect_body.decode(errors="replace").strip()
            self._fail_accept(SessionRefused(self._status, reason))
            self.ended(f"refused: {self._status} {reason}")
        elif event.stream_ended:
            self.close_code, self.close_reason = parse_close_capsule(bytes(self._connect_body))
            self.ended(f"the server closed the session: {self.close_code} {self.close_reason}")

    def stream_data(self, stream_id: int, data: bytes, ended: bool) -> None:
        """Bytes on a stream of the session: the first one the server opens is ours."""
        if self.stream_id is None:
            self.stream_id = stream_id
            if not self.accepted.done():
                self.accepted.set_result(None)
        if stream_id != self.stream_id:
            return
        for line in self._lines.feed(data):
            self._messages.put_nowait(line)
        if ended:
            self.ended("the server ended the session's stream")

    def ended(self, reason: str) -> None:
        """No more messages will come."""
        if self.closed_reason is None:
            self.closed_reason = reason
            self._messages.put_nowait(None)
            self._fail_accept(QuicClosed(reason))
            self.client.forget(self)

    def _fail_accept(self, exc: Exception) -> None:
        if not self.accepted.done():
            self.accepted.set_exception(exc)

    async def receive(self) -> dict[str, Any]:
        """The next message on the session's stream; QuicClosed once it ended."""
        line = await self._messages.get()
        if line is None:
            self._messages.put_nowait(None)  # for whoever asks next
            raise QuicClosed(self.closed_reason or "closed")
        message: dict[str, Any] = json.loads(line)
        return message

    def send(self, data: bytes) -> None:
        """Bytes on the session's stream, as they are (lines, for the server)."""
        if self.stream_id is None or self.closed_reason is not None:
            raise QuicClosed(self.closed_reason or "the session has no stream yet")
        self.client._quic.send_stream_data(self.stream_id, data)
        self.client.transmit()

    def send_datagram(self, data: bytes, transmit: bool = True) -> None:
        """One datagram of the session (``transmit=False``: the caller transmits a burst)."""
        self.client.h3.send_datagram(self.session_id, data)
        if transmit:
            self.client.transmit()

    def close(self) -> None:
        """End the session from our side: FIN on its CONNECT stream."""
        if self.closed_reason is None:
            with contextlib.suppress(Exception):  # the connection may be gone already
                self.client.h3.send_data(self.session_id, b"", end_stream=True)
                self.client.transmit()
            self.ended("closed by the client")
