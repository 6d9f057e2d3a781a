"""What every port allows a client that sends slowly, or nothing: the timeouts, and the log of
connections refused beyond ``--max-connections``.

Each value leaves a real browser on the ``3g`` link (300 ms round trip) many round trips to
spare: a request's headers follow its connection (and TLS handshake) within one round trip.
"""

from __future__ import annotations

import logging
import time

logger = logging.getLogger("wsbench")

# A request's headers (HTTP/1.1, cleartext or TLS) must have arrived this long after the
# connection opened or its previous answer went out: 5 s is 16 round trips of the 3g link.
# An idle keep-alive connection is closed after as long (a browser reopens one as it needs).
HEADER_TIMEOUT_S = 5
# HTTP/2: a connection that has sent nothing for this long gets a PING, and is closed unless the
# answer comes back within as long again. A browser answers in one round trip (13 on 3g).
H2_PING_INTERVAL_S = 4
H2_PING_TIMEOUT_S = 4
# A connection to an HTTP/2 port that has sent nothing at all for this long is cut off (see
# silence.py): longer than a PING and its answer take, so a browser is never silent this long.
SILENT_S = H2_PING_INTERVAL_S + H2_PING_TIMEOUT_S + 2
# One warning per burst of refusals: none again until this long after the last one.
REFUSAL_LOG_QUIET_S = 10.0


class RefusalLog:
    """Logs the first connection refused beyond the budget, then once per burst, with a count."""

    def __init__(self, port: str, limit: int) -> None:
        self.port = port
        self.limit = limit
        self.refused = 0  # since the last line
        self.logged_at: float | None = None

    def refusal(self) -> None:
        """One more connection refused; log it if the last line is old enough."""
        self.refused += 1
        now = time.monotonic()
        if self.logged_at is not None and now - self.logged_at < REFUSAL_LOG_QUIET_S:
            return
        logger.warning(
            "%s port: refused %d connection%s beyond --max-connections %d",
            self.port,
            self.refused,
            "" if self.refused == 1 else "s",
            self.limit,
        )
        self.refused, self.logged_at = 0, now
