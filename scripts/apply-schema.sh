#!/bin/sh
# The schema step of `make run` and `make bench`: applies schema.sql with $MYSQL (default
# `mysql -u root`) when a MySQL answers here. With none answering at 127.0.0.1:3306 or on its unix
# socket, or no client to apply it with, one line says so and the step succeeds: the server then
# falls back to SQLite (no database chosen) and says so loudly, with the command that switches
# it to MySQL. A MySQL that answers but refuses schema.sql stops `make run` with the fix.
#
#   MYSQL="sudo mysql" PY=.venv/bin/python scripts/apply-schema.sh
set -u
cd "$(dirname "$0")/.." || exit 1
MYSQL=${MYSQL:-mysql -u root}
PY=${PY:-.venv/bin/python}

# Where a MySQL answers: 127.0.0.1:3306, else the first of the server's own list of unix sockets
# that accepts a connection (wsbench.store.DEFAULT_SOCKETS, so both look in the same places).
answering=$("$PY" - <<'EOF'
import socket

from wsbench.store import DEFAULT_SOCKETS

places = [(socket.AF_INET, ("127.0.0.1", 3306), "127.0.0.1:3306")]
places += [(socket.AF_UNIX, path, path) for path in DEFAULT_SOCKETS]
for family, address, name in places:
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(address)
        except OSError:
            continue
        print(name)
        break
EOF
)

# The client is the first word of $MYSQL, or the word after sudo or env.
# shellcheck disable=SC2086  # split into words on purpose
set -- $MYSQL
while [ $# -gt 1 ] && { [ "$1" = sudo ] || [ "$1" = env ]; }; do shift; done
client=$1

if [ -z "$answering" ]; then
  echo "make: no MySQL answers at 127.0.0.1:3306 or on its unix socket, so schema.sql is not applied: the server falls back to SQLite"
  exit 0
fi
if ! command -v "$client" >/dev/null 2>&1; then
  echo "make: MySQL answers at $answering but there is no $client client to apply schema.sql with (apt-get install mariadb-client): the server starts without it"
  exit 0
fi
# shellcheck disable=SC2086  # $MYSQL is a command line
$MYSQL < schema.sql || {
  echo "could not apply schema.sql with \`$MYSQL\`: run it as a MySQL admin, e.g. \`make run MYSQL=\"sudo mysql\"\` or \`sudo mysql < schema.sql\`" >&2
  exit 1
}
