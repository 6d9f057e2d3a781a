"""Start the wsbench WebSocket server: ``python websocket_server.py --help``."""

import sys

from wsbench.server.cli import main

if __name__ == "__main__":
    sys.exit(main())
