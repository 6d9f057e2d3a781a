"""The wire protocol, without I/O: parsing client frames and building server frames.

Client to server: one text frame per number, the number in ASCII decimal ("4711", "-3").
Server to client, JSON text frames:
    {"hello": {...}}                      once, right after the handshake
    {"acked": 4711}                       cumulative count of this connection's committed numbers
    {"error": "not an integer", "frame": 17}   frame 17 (1-based) was rejected, nothing stored

WebTransport carries the same messages on the session's one bidirectional stream, each followed
by a newline ("4711\n" in, '{"acked":4711}\n' out). Its datagram mode sends "SEQ NUMBER" per
datagram ("17 4711") and is answered with datagrams of committed ranges ('{"seqs":[[1,40]]}').
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

from aioquic.buffer import Buffer, BufferReadError, encode_uint_var

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1

# ASCII only: int() would also take " 7 ", "+5", "1_000" and Unicode digits such as "١٢".
_DECIMAL = re.compile(r"-?[0-9]+")
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class FrameError(ValueError):
    """A client frame that is not one number we can store; the message says why."""


def parse_number(frame: str | bytes) -> int:
    """Return the BIGINT held by a text frame, or raise FrameError."""
    # The common case first, cheaply: up to 18 ASCII digits always fit.
    if type(frame) is str and len(frame) < 19 and frame.isascii() and frame.isdigit():
        return int(frame)
    if not isinstance(frame, str):
        raise FrameError("binary frame: send each number as a text frame")
    if not frame:
        raise FrameError("empty frame: send one integer, e.g. 42")
    if _DECIMAL.fullmatch(frame) is None:
        raise FrameError("not an integer: send ASCII decimal digits, e.g. 42 or -7")
    # Checked before int() so a long digit string costs nothing.
    if len(frame.lstrip("-").lstrip("0")) > 19:
        raise FrameError("out of range: numbers must fit in a signed 64-bit BIGINT")
    number = int(frame)
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise FrameError("out of range: numbers must fit in a signed 64-bit BIGINT")
    return number


def parse_run_id(value: str | None) -> str:
    """Validate a client's run id, or make a fresh one when there is none."""
    if value is None or value == "":
        return "s" + secrets.token_hex(8)
    if _RUN_ID.fullmatch(value) is None:
        raise ValueError("run id must be 1-64 characters of A-Z a-z 0-9 _ -")
    return value


def parse_seq(value: str | None) -> int:
    """Validate an HTTP request's sequence number: the number's position in its run, from 1."""
    if value is None:
        raise ValueError("seq is required: the number's position in its run (1, 2, 3, ...)")
    if _DECIMAL.fullmatch(value) is None or len(value) > 19 or not 1 <= int(value) <= BIGINT_MAX:
        raise ValueError("seq must be a whole number from 1 to 2^63-1")
    return int(value)


def hello_message(**fields: Any) -> str:
    """The first frame: who the server is and where numbers go."""
    return json.dumps({"hello": fields}, separators=(",", ":"))


def ack_message(acked: int) -> str:
    """A cumulative acknowledgement."""
    return f'{{"acked":{acked}}}'


def error_message(reason: str, frame: int) -> str:
    """The answer to a rejected frame."""
    return json.dumps({"error": reason, "frame": frame}, separators=(",", ":"))


def stream_message(message: str) -> bytes:
    """A message as a WebTransport stream carries it: one line."""
    return message.encode() + b"\n"


class LineSplitter:
    """Cuts a byte stream into lines of at most ``limit`` bytes, however the bytes arrive."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._partial = b""

    def feed(self, data: bytes) -> list[str]:
        """The lines ``data`` completes; FrameError when a line grows over the limit."""
        *lines, self._partial = (self._partial + data).split(b"\n")
        if len(self._partial) > self.limit or any(len(line) > self.limit for line in lines):
            raise FrameError(f"line over {self.limit} bytes: send one number per line")
        # Not UTF-8: the replacement characters make it "not an integer".
        return [line.decode("utf-8", "replace") for line in lines]

    @property
    def partial(self) -> bool:
        """Whether bytes of an unfinished line are waiting."""
        return bool(self._partial)


def parse_datagram(data: bytes) -> tuple[int, int]:
    """The (seq, number) of a datagram "SEQ NUMBER", or FrameError."""
    seq, space, number = data.decode("utf-8", "replace").partition(" ")
    if not space:
        raise FrameError('a datagram holds "SEQ NUMBER", e.g. "17 4711"')
    try:
        return parse_seq(seq), parse_number(number)
    except ValueError as exc:
        raise FrameError(str(exc)) from None


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, merged [first, last] ranges covering ``seqs``."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(seqs):
        if ranges and seq <= ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], seq))
        else:
            ranges.append((seq, seq))
    return ranges


def seqs_datagrams(seqs: Iterable[int], max_size: int) -> Iterator[bytes]:
    """Datagrams of at most ``max_size`` bytes that together acknowledge ``seqs``."""
    chunk: list[str] = []
    size = len('{"seqs":[]}')
    for first, last in seq_ranges(seqs):
        item = f"[{first},{last}]"
        if chunk and size + len(item) + 1 > max_size:
            yield f'{{"seqs":[{",".join(chunk)}]}}'.encode()
            chunk, size = [], len('{"seqs":[]}')
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        yield f'{{"seqs":[{",".join(chunk)}]}}'.encode()


# draft-02's CLOSE_WEBTRANSPORT_SESSION capsule: a code and a reason, on the CONNECT stream.
CLOSE_SESSION_CAPSULE = 0x2843
CLOSE_REASON_BYTES = 1024  # a longer reason is cut


def close_capsule(code: int, reason: str) -> bytes:
    """The CLOSE_WEBTRANSPORT_SESSION capsule that ends a session with ``code`` and ``reason``."""
    payload = code.to_bytes(4, "big") + reason.encode()[:CLOSE_REASON_BYTES]
    return encode_uint_var(CLOSE_SESSION_CAPSULE) + encode_uint_var(len(payload)) + payload


def parse_close_capsule(data: bytes) -> tuple[int | None, str]:
    """The code and reason of a CLOSE_WEBTRANSPORT_SESSION capsule (None: not one)."""
    buffer = Buffer(data=data)
    try:
        if buffer.pull_uint_var() != CLOSE_SESSION_CAPSULE:
            return None, ""
        payload = buffer.pull_bytes(buffer.pull_uint_var())
    except BufferReadError:
        return None, ""
    if len(payload) < 4:
        return None, ""
    return int.from_bytes(payload[:4], "big"), payload[4:].decode(errors="replace")
