"""The bench's QUIC transports without sockets: datagram resends, acks, capsules, flags, TLS."""

from __future__ import annotations

import ssl
import struct
from pathlib import Path

import pytest
from aioquic.buffer import encode_uint_var

from wsbench.bench.cli import parse_config
from wsbench.bench.datagrams import (
    MIN_TIMEOUT_S,
    AckError,
    DatagramTracker,
    datagram,
    parse_ack,
)
from wsbench.bench.quic import Trust, quic_configuration
from wsbench.protocol import (
    CLOSE_SESSION_CAPSULE,
    close_capsule,
    parse_close_capsule,
    parse_datagram,
    seqs_datagrams,
)
from wsbench.server.tls import make_self_signed
from wsbench.vocabulary import Mode, Transport

# --- datagram mode's bookkeeping ----------------------------------------------------------------


def test_a_datagram_is_what_the_server_parses_and_its_acks_what_the_server_sends():
    assert parse_datagram(datagram(17, -4711)) == (17, -4711)
    [ack] = seqs_datagrams([1, 2, 3, 7], 1000)
    assert parse_ack(ack) == ([(1, 3), (7, 7)], None)
    assert parse_ack(b'{"error": "database down", "not_stored": 3}') == ([], "database down")
    for bad in (b"nope", b"[1, 2]", b'{"seqs": [[1]]}', b'{"seqs": [["1", 2]]}', b"{}"):
        with pytest.raises(AckError):
            parse_ack(bad)


def test_new_numbers_go_out_within_the_window_and_acks_make_room():
    tracker = DatagramTracker(5, window=2)
    assert tracker.due(0.0) == [1, 2]
    assert tracker.due(0.001) == []  # the window is full and nothing is overdue
    assert tracker.ack([(1, 1)], 0.010) == 1
    assert tracker.due(0.011) == [3]
    assert tracker.ack([(2, 3)], 0.020) == 2
    assert tracker.due(0.021) == [4, 5]
    assert tracker.ack([(1, 5)], 0.030) == 2  # 1..3 again: already counted
    assert tracker.done and tracker.in_flight == 0 and tracker.next_deadline() is None
    assert tracker.latencies == pytest.approx([0.010, 0.020, 0.009, 0.009, 0.009])


def test_a_number_whose_ack_does_not_come_is_resent_after_the_timeout():
    tracker = DatagramTracker(2, window=10)
    assert tracker.due(0.0) == [1, 2]
    timeout = tracker.timeout_s
    assert timeout >= MIN_TIMEOUT_S
    assert tracker.next_deadline() == pytest.approx(timeout)
    assert tracker.ack([(2, 2)], 0.001) == 1
    assert tracker.due(timeout - 0.001) == []  # not yet
    later = timeout + 0.001
    assert tracker.due(later) == [1]  # 2 was acked: its deadline is stale
    assert tracker.resends == 1 and tracker.in_flight == 1
    # Its latency runs from the first send: what waiting for the number cost.
    assert tracker.ack([(1, 1)], later + 0.002) == 1
    assert tracker.latencies[-1] == pytest.approx(later + 0.002)


def test_the_timeout_follows_the_acks_round_trip_but_not_a_resent_numbers():
    tracker = DatagramTracker(100, window=100)
    tracker.due(0.0)
    before = tracker.timeout_s
    for seq in range(1, 51):  # 1 ms acks: the timeout falls to its floor
        tracker.ack([(seq, seq)], 0.001)
    assert tracker.timeout_s == MIN_TIMEOUT_S < before
    smoothed = tracker.smoothed_s
    tracker.due(10.0)  # everything left is overdue: resent
    tracker.ack([(51, 51)], 10.5)  # sent twice: its ack may answer either send (Karn)
    assert tracker.smoothed_s == smoothed
    assert tracker.latencies[-1] == pytest.approx(10.5)


def test_the_tracker_refuses_a_window_of_nothing():
    with pytest.raises(ValueError):
        DatagramTracker(10, window=0)


# --- the session's close capsule ---------------------------------------------------------------


def test_the_servers_close_capsule_gives_its_code_and_reason():
    payload = struct.pack("!I", 1009) + b"line over 1024 bytes"
    capsule = encode_uint_var(CLOSE_SESSION_CAPSULE) + encode_uint_var(len(payload)) + payload
    assert parse_close_capsule(capsule) == (1009, "line over 1024 bytes")
    assert close_capsule(1009, "line over 1024 bytes") == capsule  # the server's encoder agrees
    assert parse_close_capsule(b"") == (None, "")
    assert parse_close_capsule(capsule[:-30]) == (None, "")  # cut short
    assert parse_close_capsule(encode_uint_var(0x21) + b"\x00") == (None, "")  # another capsule


# --- flags --------------------------------------------------------------------------------------


def config_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The parser's error for ``argv``."""
    with pytest.raises(SystemExit) as exit_status:
        parse_config(list(argv))
    assert exit_status.value.code == 2
    return capsys.readouterr().err


def test_quic_transports_need_tls(capsys: pytest.CaptureFixture[str]):
    for transport in ("http3", "webtransport"):
        error = config_error(capsys, "--transport", transport)
        assert f"--transport {transport} needs a server with TLS: --server wss://" in error


def test_datagrams_go_with_webtransport_alone(capsys: pytest.CaptureFixture[str]):
    error = config_error(
        capsys, "--server", "wss://h:1", "--transport", "websocket,webtransport", "--mode",
        "datagrams",
    )  # fmt: skip
    assert "--mode datagrams is WebTransport's alone: use --transport webtransport" in error
    config = parse_config(
        ["--server", "wss://h:1", "--transport", "webtransport", "--mode", "datagrams,pipelined"]
    )
    assert [(case.transport, case.mode) for case in config.cases] == [
        (Transport.WEBTRANSPORT, Mode.DATAGRAMS),
        (Transport.WEBTRANSPORT, Mode.PIPELINED),
    ]


def test_http3_keeps_its_requests_within_the_servers_streams(capsys: pytest.CaptureFixture[str]):
    error = config_error(capsys, "--server", "wss://h:1", "--transport", "http3", "-c", "8")
    assert "-c x --window = 256 requests in flight" in error
    assert "allows 128 streams at once: use --window 16 or less" in error
    config = parse_config(
        ["--server", "wss://h:1", "--transport", "http3,webtransport", "-n", "50", "--nhttp", "5"]
    )
    assert {case.transport: case.n for case in config.cases} == {
        Transport.HTTP3: 5,  # a request per number, as the other HTTP transports
        Transport.WEBTRANSPORT: 50,  # a stream, as WebSocket
    }


# --- TLS, as the TCP ports check it -------------------------------------------------------------


def test_the_certificate_is_checked_over_quic_as_over_tcp(tmp_path: Path):
    assert quic_configuration(Trust(insecure=True)).verify_mode == ssl.CERT_NONE
    system = quic_configuration(Trust())
    assert system.verify_mode is None  # aioquic's default: checked
    paths = ssl.get_default_verify_paths()
    assert (system.cafile, system.capath) == (paths.cafile, paths.capath)  # not certifi's
    cert, _ = make_self_signed(tmp_path)  # --tls-ca FILE: that certificate, and no other
    pinned = quic_configuration(Trust(cafile=str(cert)))
    assert (pinned.verify_mode, pinned.cafile, pinned.capath) == (None, str(cert), None)
