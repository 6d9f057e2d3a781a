"""wsbench: how fast can a browser get numbers committed to MySQL over a WebSocket?"""

__version__ = "0.3.0"
