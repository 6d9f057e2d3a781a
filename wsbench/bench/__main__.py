"""``python -m wsbench.bench``: benchmark a running server from the command line."""

import sys

from .cli import main

sys.exit(main())
