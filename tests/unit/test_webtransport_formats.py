"""WebTransport's framing without sockets: lines on the stream, numbers and acks as datagrams."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsbench.protocol import (
    FrameError,
    LineSplitter,
    close_capsule,
    parse_close_capsule,
    parse_datagram,
    seq_ranges,
    seqs_datagrams,
    stream_message,
)
from wsbench.testing.browser import QuicOrigin
from wsbench.testing.chromium import quic_args


@given(st.lists(st.integers(0, 10**12).map(str), max_size=50), st.data())
def test_lines_come_out_whole_however_the_bytes_are_cut(numbers: list[str], data: st.DataObject):
    stream = b"".join(f"{n}\n".encode() for n in numbers)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    splitter, lines = LineSplitter(64), []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        lines += splitter.feed(stream[start:end])
    assert lines == numbers
    assert not splitter.partial


def test_a_line_over_the_limit_is_refused_before_its_end_arrives():
    splitter = LineSplitter(8)
    assert splitter.feed(b"12345678\n1234") == ["12345678"]
    with pytest.raises(FrameError, match="line over 8 bytes"):
        splitter.feed(b"56789")  # no newline yet: the partial line alone is over


def test_bytes_that_are_not_utf8_become_a_line_the_parser_refuses():
    assert LineSplitter(8).feed(b"4\xff2\n") == ["4\ufffd2"]


def test_a_stream_message_is_one_line():
    assert stream_message('{"acked":3}') == b'{"acked":3}\n'


@pytest.mark.parametrize(
    ("datagram", "expected"), [(b"17 4711", (17, 4711)), (b"1 -9223372036854775808", (1, -(2**63)))]
)
def test_a_datagram_holds_a_seq_and_a_number(datagram: bytes, expected: tuple[int, int]):
    assert parse_datagram(datagram) == expected


@pytest.mark.parametrize(
    ("datagram", "reason"),
    [
        (b"4711", "SEQ NUMBER"),
        (b"0 5", "seq must be"),
        (b"x 5", "seq must be"),
        (b"3 five", "not an integer"),
        (b"3 99999999999999999999", "out of range"),
        (b"3  5", "not an integer"),
        (b"3 ", "empty frame"),
        (b"", "SEQ NUMBER"),
    ],
)
def test_a_bad_datagram_says_what_is_wrong(datagram: bytes, reason: str):
    with pytest.raises(FrameError, match=reason):
        parse_datagram(datagram)


def test_acked_seqs_merge_into_ranges():
    assert seq_ranges([5, 1, 2, 3, 9, 4, 11, 10, 3]) == [(1, 5), (9, 11)]
    assert seq_ranges([]) == []


@given(st.sets(st.integers(1, 5000), max_size=400), st.integers(20, 1200))
def test_ack_datagrams_stay_small_and_cover_exactly_the_seqs(seqs: set[int], size: int):
    covered: set[int] = set()
    for datagram in seqs_datagrams(seqs, size):
        ranges = json.loads(datagram)["seqs"]
        assert len(datagram) <= size or len(ranges) == 1  # one range never splits
        for first, last in ranges:
            covered |= set(range(first, last + 1))
    assert covered == seqs


def test_chromium_is_told_every_quic_origin_and_key():
    origins = [QuicOrigin("127.0.0.1", 8768, "KEY="), QuicOrigin("10.0.0.2", 9000, "KEY=")]
    assert quic_args(origins) == [
        "--origin-to-force-quic-on=127.0.0.1:8768,10.0.0.2:9000",
        "--ignore-certificate-errors-spki-list=KEY=",
    ]
    assert quic_args([]) == []


def test_a_server_without_http3_has_no_quic_origin():
    assert QuicOrigin.of("127.0.0.1", {"h3_port": None, "certificate": None}) is None
    info = {"h3_port": 8768, "certificate": {"sha256": "A", "spki_sha256": "B"}}
    assert QuicOrigin.of("::1", info) == QuicOrigin("::1", 8768, "B")


@pytest.mark.parametrize(
    ("code", "reason", "encoded"),
    [
        # type 0x2843 and the length as RFC 9000's varints (2 bytes, 1 byte), then the payload
        (1001, "", "684304000003e9"),
        (1009, "x", "684305000003f178"),
    ],
)
def test_the_close_capsule_as_draft_02_lays_it_out(code: int, reason: str, encoded: str):
    assert close_capsule(code, reason).hex() == encoded
    assert parse_close_capsule(bytes.fromhex(encoded)) == (code, reason)


def test_a_close_reason_is_cut_to_1024_bytes():
    assert parse_close_capsule(close_capsule(1009, "é" * 1000)) == (1009, "é" * 512)
