"""The seam every way in shares: a transport serves one port and drains; the server runs those
the configuration offers, in order.

A new transport is one module with a class that fits ``ServerTransport`` and an ``offer``
function, plus one line in ``TRANSPORTS`` and its flags in ``config.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from ..vocabulary import Port

if TYPE_CHECKING:
    from .service import Service


class ServerTransport(Protocol):
    """One way numbers come in, on one port of its kind."""

    port: Port

    def serve(self) -> contextlib.AbstractAsyncContextManager[int]:
        """Listen until the context exits (then close its connections); yield the bound port."""

    async def drain(self) -> None:
        """Take no new connections, sessions or requests: the server is stopping."""


# Given the service, a module's transports for this configuration (none when it is not offered).
Offer = Callable[["Service"], Sequence[ServerTransport]]


def offered(service: Service, offers: Sequence[Offer]) -> list[ServerTransport]:
    """Every transport the configuration offers, in the order of ``offers``."""
    return [transport for offer in offers for transport in offer(service)]
