#!/usr/bin/env bash
# What the tests need, installed and started: `sudo make test` and .ci/run both run this, so they
# cannot drift apart. See docs/testing.md.
#
#   sudo scripts/setup-tests.sh      installs the packages, starts MariaDB when it is not running,
#                                    makes the tests' MariaDB admin account and applies schema.sql
#   scripts/setup-tests.sh --check   changes nothing, any user: what is missing, one item a line,
#                                    then one line naming the command that installs it
#
# Debian 12. On Ubuntu 24.04 everything but the browsers, which Ubuntu ships as snaps (or not at
# all): docs/testing.md says what to do. With CI=true anything missing at the end fails the run;
# otherwise it is said, and the tests that need it skip.
set -euo pipefail
CI=${CI:-}
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

# The tests' admin account: its URL, password included, in a file only root can read, outside the
# checkout (tests/e2e/conftest.py reads it). WSBENCH_TEST_ADMIN_DB, when set, is used instead.
ADMIN_FILE=/etc/wsbench/test-admin-db
ADMIN_USER=wsbench_test_admin
IN_CI=false
case "${CI,,}" in 1 | true | yes) IN_CI=true ;; esac  # as tests/e2e/conftest.py reads it

# What the tests run, and the package each comes in (Debian's names): the browsers, an X server
# for WebKitGTK's MiniBrowser, MariaDB with Galera and rsync for the cluster, nginx, ip/ss, sysctl,
# unshare/nsenter/setpriv for namespaces and links, and what `make` needs to build .venv.
NEEDS=(
  "chromium chromium"
  "firefox-esr firefox-esr"
  "WebKitWebDriver webkit2gtk-driver"
  "Xvfb xvfb"
  "xauth xauth"
  "mariadbd mariadb-server"
  "mariadb-install-db mariadb-server"
  "mariadb mariadb-client"
  "mariadb-admin mariadb-client"
  "/usr/lib/galera/libgalera_smm.so galera-4"
  "rsync rsync"
  "nginx nginx-light"
  "ip iproute2"
  "sysctl procps"
  "setpriv util-linux"
  "unshare util-linux"
  "nsenter util-linux"
  "make make"
)

step() { printf '== %s\n' "$*"; }
warn() { printf 'setup-tests: %s\n' "$*" >&2; }

# shellcheck disable=SC1091  # the machine's own
distribution() { (. /etc/os-release && echo "${ID:-unknown}") 2>/dev/null || echo unknown; }

# Ubuntu's chromium package installs a snap and it has no firefox-esr: those are not installed.
snapped() {
  [ "$(distribution)" = ubuntu ] && { [ "$1" = chromium ] || [ "$1" = firefox-esr ]; }
}

present() {
  case "$1" in
    chromium) [ -x "${WSBENCH_CHROMIUM:-/usr/bin/chromium}" ] ;;
    firefox-esr) [ -x "${WSBENCH_FIREFOX:-/usr/bin/firefox-esr}" ] ;;
    WebKitWebDriver) [ -x "${WSBENCH_WEBKITDRIVER:-/usr/bin/WebKitWebDriver}" ] ;;
    /*) [ -e "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

# The packages whose commands are missing, each once, in order.
missing_packages() {
  local need command package seen=" "
  for need in "${NEEDS[@]}"; do
    read -r command package <<<"$need"
    present "$command" && continue
    [[ $seen == *" $package "* ]] && continue
    seen+="$package "
    echo "$package"
  done
  python3 -c 'import ensurepip, venv' 2>/dev/null || echo python3-venv
}

mariadb_answers() { (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; }

# ---- --check: say what is missing, change nothing.
if [ "${1:-}" = --check ]; then
  mapfile -t packages < <(missing_packages)
  gaps=()
  [ ${#packages[@]} -eq 0 ] || gaps+=("packages ${packages[*]}")
  mariadb_answers || gaps+=("MariaDB at 127.0.0.1:3306")
  # The admin account: given, readable, or MariaDB's root over TCP without a password.
  [ -n "${WSBENCH_TEST_ADMIN_DB:-}" ] || [ -r "$ADMIN_FILE" ] ||
    mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -u root -e 'DO 0' >/dev/null 2>&1 ||
    gaps+=("a MariaDB admin account over TCP")
  [ "$(id -u)" = 0 ] || gaps+=("root (network namespaces, emulated links, the Galera cluster)")
  if [ ${#gaps[@]} -eq 0 ]; then
    echo "setup-tests: nothing is missing"
    exit 0
  fi
  printf 'setup-tests: missing: %s\n' "${gaps[@]}"
  joined=$(printf '%s; ' "${gaps[@]}")
  echo "Tests that need ${joined%; } were skipped: \`sudo make test\` installs and starts what they need, then runs them all."
  exit 1
fi

if [ "$(id -u)" != 0 ]; then
  echo "setup-tests: installing needs root: sudo $0" >&2
  exit 2
fi

# ---- Packages.
step "packages"
mapfile -t packages < <(missing_packages)
install=()
for package in "${packages[@]}"; do
  if snapped "$package"; then
    warn "$package: not installed on Ubuntu (a snap, or no package): see docs/testing.md"
  else
    install+=("$package")
  fi
done
if [ ${#install[@]} -gt 0 ] && ! command -v apt-get >/dev/null; then
  warn "no apt-get here: install these yourself: ${install[*]}"
elif [ ${#install[@]} -gt 0 ]; then
  apt-get update -qq
  available=()
  for package in "${install[@]}"; do
    # nginx-light is Debian's smallest nginx; where there is none, nginx.
    if [ "$package" = nginx-light ] && ! apt-cache show nginx-light >/dev/null 2>&1; then
      package=nginx
    fi
    if apt-cache show "$package" >/dev/null 2>&1; then
      available+=("$package")
    else
      warn "$package: no such package here"
    fi
  done
  if [ ${#available[@]} -gt 0 ]; then
    echo "installing ${available[*]}"
    apt-get install -y -qq "${available[@]}" >/dev/null
  fi
fi
if present chromium; then "${WSBENCH_CHROMIUM:-chromium}" --version 2>/dev/null | head -1 || true; fi
if present firefox-esr; then "${WSBENCH_FIREFOX:-firefox-esr}" --version 2>/dev/null | head -1 || true; fi
dpkg-query -W -f='WebKitGTK ${Version}\n' libwebkit2gtk-4.1-0 2>/dev/null || true

# ---- MariaDB on 127.0.0.1:3306.
step "MariaDB"
if ! mariadb_answers && command -v mariadbd >/dev/null; then
  echo "starting MariaDB"
  if [ -d /run/systemd/system ]; then
    systemctl start mariadb
  elif [ -x /etc/init.d/mariadb ]; then  # no systemd (a container, a chroot): Debian's init script
    /etc/init.d/mariadb start >/dev/null
  else
    install -d -o mysql -g mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --chuid mysql --exec "$(command -v mariadbd)"
  fi
  for _ in $(seq 60); do mariadb_answers && break; sleep 1; done
fi
if ! mariadb_answers; then
  warn "MariaDB does not answer at 127.0.0.1:3306: the tests that need it skip (fail with CI=true)"
  [ "$IN_CI" = false ] || exit 1
  exit 0
fi

# ---- The tests' admin account: over TCP, with a random password kept in $ADMIN_FILE. (Debian's
# MariaDB lets root in over its unix socket only, and the tests connect to 127.0.0.1:3306.)
step "the tests' admin account"
if [ -n "${WSBENCH_TEST_ADMIN_DB:-}" ]; then
  echo "WSBENCH_TEST_ADMIN_DB is set: the tests use it"
  admin_url=$WSBENCH_TEST_ADMIN_DB
else
  password=""
  if [ -r "$ADMIN_FILE" ]; then
    password=$(sed -nE "s|^mysql://$ADMIN_USER:([0-9a-f]+)@127\.0\.0\.1:3306/test\$|\1|p" "$ADMIN_FILE")
  fi
  [ -n "$password" ] || password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  # As MariaDB's root over its unix socket (how Debian's root logs in); the password goes on
  # stdin, never on a command line.
  if ! mariadb --protocol=socket -u root <<SQL; then
CREATE USER IF NOT EXISTS '$ADMIN_USER'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER '$ADMIN_USER'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$ADMIN_USER'@'127.0.0.1' WITH GRANT OPTION;
SQL
    warn "cannot log in as MariaDB's root over its unix socket to make the tests' admin account:"
    warn "make one yourself and give its URL in WSBENCH_TEST_ADMIN_DB (docs/testing.md)"
    exit 1
  fi
  install -d -m 755 /etc/wsbench
  (umask 077 && echo "mysql://$ADMIN_USER:$password@127.0.0.1:3306/test" >"$ADMIN_FILE.new")
  mv "$ADMIN_FILE.new" "$ADMIN_FILE"
  admin_url=$(cat "$ADMIN_FILE")
  echo "$ADMIN_USER@127.0.0.1, its URL in $ADMIN_FILE (root only)"
fi

# ---- schema.sql, as the admin account, over TCP as the tests connect.
step "schema.sql"
if [[ $admin_url =~ ^mysql://([^:@/]+)(:([^@]*))?@([^:/]+)(:([0-9]+))?/ ]]; then
  MYSQL_PWD=${BASH_REMATCH[3]} mariadb --protocol=tcp -h "${BASH_REMATCH[4]}" \
    -P "${BASH_REMATCH[6]:-3306}" -u "${BASH_REMATCH[1]}" <schema.sql
  MYSQL_PWD=${BASH_REMATCH[3]} mariadb --protocol=tcp -h "${BASH_REMATCH[4]}" \
    -P "${BASH_REMATCH[6]:-3306}" -u "${BASH_REMATCH[1]}" -N -e 'SELECT CONCAT("applied, MariaDB ", VERSION())'
else
  warn "cannot read the admin URL $admin_url: the tests apply schema.sql themselves"
fi

# ---- What is still missing.
mapfile -t packages < <(missing_packages)
if [ ${#packages[@]} -gt 0 ]; then
  warn "still missing: ${packages[*]} (the tests that need them skip; with CI=true they fail)"
  [ "$IN_CI" = false ] || exit 1
fi
