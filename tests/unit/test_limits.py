"""The ports' limits without a server: the refusal log, the silence watch, granian's budget."""

from __future__ import annotations

import logging
import socket

import pytest

from wsbench.server import limits
from wsbench.server.https import budget
from wsbench.server.limits import HEADER_TIMEOUT_S, RefusalLog
from wsbench.server.silence import SilenceWatch


def test_refusals_are_logged_once_per_burst(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    log = RefusalLog("HTTP", 50)
    with caplog.at_level(logging.WARNING, logger="wsbench"):
        for _ in range(3):
            log.refusal()
        now[0] += limits.REFUSAL_LOG_QUIET_S + 1
        log.refusal()
    assert caplog.messages == [
        "HTTP port: refused 1 connection beyond --max-connections 50",
        "HTTP port: refused 3 connections beyond --max-connections 50",
    ]


def test_granian_holds_the_budget_and_times_out_headers() -> None:
    settings = budget(300)
    assert (settings["backlog"], settings["backpressure"]) == (300, 300)
    assert settings["http1_settings"].header_read_timeout == HEADER_TIMEOUT_S * 1000
    assert settings["http2_settings"].keep_alive_interval == limits.H2_PING_INTERVAL_S * 1000
    assert settings["http2_settings"].keep_alive_timeout == limits.H2_PING_TIMEOUT_S


@pytest.mark.parametrize(("silent_s", "closed"), [(0, 1), (60, 0)])
def test_the_silence_watch_shuts_down_only_silent_connections_to_its_ports(
    silent_s: float, closed: int
) -> None:
    """Of a listening socket, the connection it accepted and the client's end, only the
    accepted one is the watched port's; it is shut down once silent for ``silent_s``."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            with accepted:
                assert SilenceWatch({port}, silent_s).sweep() == closed
                accepted.settimeout(1)
                if closed:
                    assert accepted.recv(1) == b""  # shut down: the end of the stream
                    assert client.recv(1) == b""
                else:
                    client.sendall(b"x")
                    assert accepted.recv(1) == b"x"
