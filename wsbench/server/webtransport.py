"""WebTransport sessions: the WebSocket protocol's messages on one stream, and datagrams.

The server opens the session's bidirectional stream and greets on it; the client sends numbers
back on it, one a line, and reads cumulative acks, so a run resumes exactly as over WebSocket.
Datagrams carry "SEQ NUMBER" each and are answered with datagrams of committed ranges; the
client resends what is not acked in time, and (run, seq) stores each number once.

A session gets what aioquic's own examples give a handler: the connection's ``H3Connection``, its
``QuicConnection`` and a ``transmit`` callable; ``h3`` routes the session's events here.
"""

from __future__ import annotations

import asyncio
import collections
import http
import json
import logging
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qs, urlsplit

from aioquic.h3.connection import H3Connection
from aioquic.quic.connection import QuicConnection

from ..protocol import (
    FrameError,
    LineSplitter,
    close_capsule,
    parse_datagram,
    parse_run_id,
    seqs_datagrams,
    stream_message,
)
from ..vocabulary import Transport
from .run_loop import serve_run
from .runs import GOING_AWAY_CODE, TOO_BIG_CODE, RunFeed
from .service import WEBTRANSPORT_PATH, Service

logger = logging.getLogger("wsbench")

# Browsers accept datagrams of about 1,200 bytes; ack datagrams stay below.
ACK_DATAGRAM_BYTES = 1000
SESSIONS_PER_CONNECTION = 4


class Session:
    """One WebTransport session feeding one run."""

    def __init__(
        self,
        sessions: Sessions,
        h3: H3Connection,
        quic: QuicConnection,
        transmit: Callable[[], None],
        session_id: int,
        run: str,
    ) -> None:
        self.sessions = sessions
        self.h3, self.quic, self.transmit = h3, quic, transmit
        self.session_id = session_id
        service = sessions.service
        self.service = service
        self.lines = LineSplitter(service.config.max_frame)
        self.feed = RunFeed(self, run, Transport.WEBTRANSPORT)
        self.datagrams = Datagrams(self)
        self.closed = False
        self._inbox: asyncio.Queue[list[str] | None] = asyncio.Queue()
        self._queued = 0  # lines in the inbox
        # The one stream that carries the run: ours, so h3 hands its bytes to stream_data.
        self.stream_id = h3.create_webtransport_stream(session_id)
        self.task = asyncio.create_task(self.run(), name=f"wsbench-webtransport-{run}")

    async def run(self) -> None:
        """Greet with the run's committed count, then feed the run until the session ends."""
        # window: the most numbers the client may have sent and not seen acked (see
        # stream_data: QUIC's flow control does not hold a sender back while commits lag).
        window = self.service.config.max_pending
        await serve_run(self.service, self.feed, self.messages(), window=window)

    async def messages(self) -> AsyncIterator[str]:
        """The lines the client sent on the session's stream, in order, until it ends."""
        while (lines := await self._inbox.get()) is not None:
            self._queued -= len(lines)
            for line in lines:
                yield line

    def stream_data(self, stream_id: int, data: bytes, ended: bool) -> None:
        """Bytes from the client on a stream of this session."""
        if stream_id != self.stream_id:
            # Only the stream the server opened carries numbers.
            self.quic.stop_stream(stream_id, 0)
            return
        try:
            lines = self.lines.feed(data)
        except FrameError as exc:
            self.reject(str(exc))
            return
        if lines:
            self._queued += len(lines)
            # Nothing holds a QUIC sender back but its window: bound what waits here.
            if self._queued + self.feed.in_flight > self.service.config.max_pending:
                limit = self.service.config.max_pending
                self.reject(f"over {limit} numbers not yet acked: wait for acks before sending")
                return
            self._inbox.put_nowait(lines)
        if ended:
            self.end()

    def reject(self, reason: str) -> None:
        """Say why, then close the session: its stream can no longer be read in order."""
        self.service.metrics.rejected[Transport.WEBTRANSPORT] += 1
        asyncio.get_running_loop().create_task(self._reject(reason))

    async def _reject(self, reason: str) -> None:
        await self.send(json.dumps({"error": reason}))
        await self.close(TOO_BIG_CODE, reason)

    def datagram(self, data: bytes) -> None:
        """One number as a datagram."""
        try:
            seq, number = parse_datagram(data)
        except FrameError as exc:
            self.service.metrics.rejected[Transport.WEBTRANSPORT] += 1
            self.send_datagram(json.dumps({"error": str(exc)}).encode())
            return
        if self.service.stopping or len(self.datagrams) >= self.service.config.max_pending:
            return  # dropped like a lost datagram: the client resends it
        self.datagrams.submit(seq, number)

    async def send(self, message: str) -> None:
        """One message on the session's stream (the ``Channel`` of its run)."""
        if self.closed:
            return
        self.quic.send_stream_data(self.stream_id, stream_message(message))
        self.transmit()

    def send_datagram(self, data: bytes) -> None:
        """One datagram of this session."""
        if self.closed:
            return
        self.h3.send_datagram(self.session_id, data)
        self.transmit()

    async def close(self, code: int, reason: str) -> None:
        """Close the session with a code and a reason the page's ``closed`` promise reports."""
        if self.closed:
            return
        self.closed = True
        try:
            self.quic.send_stream_data(self.stream_id, b"", end_stream=True)
            self.h3.send_data(self.session_id, close_capsule(code, reason), end_stream=True)
        except Exception:  # noqa: BLE001 - the client closed first
            logger.debug("closing WebTransport session %d: already closed", self.session_id)
        self.transmit()
        self.end()

    def end(self) -> None:
        """No more numbers will come: let the receive loop finish."""
        self._inbox.put_nowait(None)
        self.sessions.forget(self)


class Datagrams:
    """The numbers a session received as datagrams, as the writer's sender: acks by seq."""

    transport = Transport.WEBTRANSPORT

    def __init__(self, session: Session) -> None:
        self.session = session
        self.waiting: collections.deque[int] = collections.deque()  # seqs in commit order
        self._acked: list[int] = []
        self._flush_soon = False

    def __len__(self) -> int:
        return len(self.waiting)

    def submit(self, seq: int, number: int) -> None:
        """Queue one number for the writer."""
        self.waiting.append(seq)
        self.session.service.writer.submit(self, (self.session.feed.run_id, seq, number))

    def committed(self, count: int) -> None:
        """The writer commits a sender's rows in the order they came."""
        self._acked.extend(self.waiting.popleft() for _ in range(count))
        if not self._flush_soon:  # one round of ack datagrams per loop iteration
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self.flush)

    def failed(self, count: int, reason: str) -> None:
        """Not stored: say so; the client's resend will try again."""
        seqs = [self.waiting.popleft() for _ in range(count)]
        self.session.send_datagram(json.dumps({"error": reason, "not_stored": len(seqs)}).encode())

    def flush(self) -> None:
        """Send the acks gathered since the last flush."""
        self._flush_soon = False
        acked, self._acked = self._acked, []
        for datagram in seqs_datagrams(acked, ACK_DATAGRAM_BYTES):
            self.session.send_datagram(datagram)


class Sessions:
    """Every WebTransport session of the QUIC port, by connection (its ``H3Connection``)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.sessions: dict[tuple[H3Connection, int], Session] = {}
        self.streams: dict[tuple[H3Connection, int], Session] = {}  # the streams we opened
        service.metrics.gauge(
            "wsbench_webtransport_sessions", "Open WebTransport sessions", lambda: len(self)
        )

    def __len__(self) -> int:
        return len(self.sessions)

    def open(
        self,
        h3: H3Connection,
        quic: QuicConnection,
        transmit: Callable[[], None],
        stream_id: int,
        headers: dict[str, str],
    ) -> None:
        """Accept or refuse a CONNECT: its protocol, path, run id, origin and the limits."""
        status, reason, run = self.check(h3, headers)
        if status is not http.HTTPStatus.OK:
            logger.debug("WebTransport session refused with %d: %s", status.value, reason)
            h3.send_headers(
                stream_id,
                [(b":status", str(status.value).encode()), (b"content-type", b"text/plain")],
            )
            h3.send_data(stream_id, f"{reason}\n".encode(), end_stream=True)
            return
        h3.send_headers(
            stream_id, [(b":status", b"200"), (b"sec-webtransport-http3-draft", b"draft02")]
        )
        session = Session(self, h3, quic, transmit, stream_id, run)
        self.sessions[h3, stream_id] = session
        self.streams[h3, session.stream_id] = session

    def check(self, h3: H3Connection, headers: dict[str, str]) -> tuple[http.HTTPStatus, str, str]:
        """The status a CONNECT gets, why, and its run id."""
        if headers.get(":protocol") != "webtransport":
            return http.HTTPStatus.NOT_IMPLEMENTED, "only WebTransport is served by CONNECT", ""
        url = urlsplit(headers.get(":path", ""))
        if url.path != WEBTRANSPORT_PATH:
            return http.HTTPStatus.NOT_FOUND, f"WebTransport is at {WEBTRANSPORT_PATH}", ""
        origin = headers.get("origin")
        if origin == "file://":  # Chromium's WebTransport names a page from disk so, not "null"
            origin = "null"
        if origin not in self.service.origins:
            return http.HTTPStatus.FORBIDDEN, f"origin not allowed: {origin}", ""
        try:
            run = parse_run_id(parse_qs(url.query).get("run", [""])[0])
        except ValueError as exc:
            return http.HTTPStatus.BAD_REQUEST, str(exc), ""
        if self.service.stopping:
            return http.HTTPStatus.SERVICE_UNAVAILABLE, "stopping", ""
        mine = sum(1 for owner, _ in self.sessions if owner is h3)
        if mine >= SESSIONS_PER_CONNECTION:
            limit = SESSIONS_PER_CONNECTION
            return http.HTTPStatus.TOO_MANY_REQUESTS, f"too many sessions (limit {limit})", ""
        if len(self.sessions) >= self.service.config.max_connections:
            limit = self.service.config.max_connections
            return http.HTTPStatus.SERVICE_UNAVAILABLE, f"too many sessions (limit {limit})", ""
        return http.HTTPStatus.OK, "", run

    def own_stream(self, h3: H3Connection, stream_id: int, data: bytes, ended: bool) -> bool:
        """Bytes on a stream a session of ours opened: the session's (True), else not ours."""
        session = self.streams.get((h3, stream_id))
        if session is None:
            return False
        session.stream_data(stream_id, data, ended)
        return True

    def stream_data(
        self, h3: H3Connection, quic: QuicConnection, session_id: int, stream_id: int, data: bytes,
        ended: bool,
    ) -> None:  # fmt: skip
        """Bytes on a stream the client opened (stopped: only the server's stream is read)."""
        session = self.sessions.get((h3, session_id))
        if session is None:
            quic.stop_stream(stream_id, 0)
            return
        session.stream_data(stream_id, data, ended)

    def datagram(self, h3: H3Connection, session_id: int, data: bytes) -> None:
        """A datagram for a session (those for no session are dropped)."""
        if session := self.sessions.get((h3, session_id)):
            session.datagram(data)

    def ended(self, h3: H3Connection, session_id: int) -> None:
        """The client closed its session."""
        if session := self.sessions.get((h3, session_id)):
            session.end()

    def connection_closed(self, h3: H3Connection) -> None:
        """The QUIC connection is gone, and its sessions with it."""
        for owner, session_id in list(self.sessions):
            if owner is h3:
                session = self.sessions[owner, session_id]
                session.closed = True
                session.end()

    def forget(self, session: Session) -> None:
        """Drop a session that ended."""
        self.sessions.pop((session.h3, session.session_id), None)
        self.streams.pop((session.h3, session.stream_id), None)

    async def close_all(self) -> None:
        """Close every session with 1001 (going away): the server is stopping."""
        for session in list(self.sessions.values()):
            await session.close(GOING_AWAY_CODE, "server stopping")
