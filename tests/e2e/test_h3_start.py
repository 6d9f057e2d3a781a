"""The HTTP/3 port's start, in process: a port retried at start leaves nothing stopped."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from wsbench.server import tls
from wsbench.server.config import load_config
from wsbench.server.h3 import H3Server
from wsbench.server.service import Service


async def test_a_port_taken_on_tcp_is_retried_and_the_next_one_takes_sessions(
    monkeypatch: pytest.MonkeyPatch,
):
    with tls.certificate(load_config(["--tls", "--db", "null:"])) as config:
        async with Service.start(config) as service:
            server = H3Server(service)
            serve_tcp, calls = server.https.serve, []

            @contextlib.asynccontextmanager
            async def taken_once(port: int) -> AsyncIterator[int]:
                calls.append(port)
                if len(calls) == 1:  # as when the UDP port picked is another's on TCP
                    raise OSError(98, "Address already in use")
                async with serve_tcp(port) as bound:
                    yield bound

            monkeypatch.setattr(server.https, "serve", taken_once)
            async with server.serve(0) as port:
                assert len(calls) == 2 and port == calls[1]
                assert not service.stopping  # the first attempt's close stopped nothing
            assert not service.stopping  # closing a port never does: only the service's drain
