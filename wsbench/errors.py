"""The error every part of the server raises when it cannot start, with a message naming the fix."""

from __future__ import annotations


class StartupError(Exception):
    """The server cannot start; the message says why and what to do."""
