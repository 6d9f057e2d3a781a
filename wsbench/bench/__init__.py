"""The benchmark client: a running server measured over WebSocket, HTTP and the database floor.

Run it as ``python -m wsbench.bench`` (or ``wsbench-bench``); ``--help`` explains every flag.
"""
