"""Where a local three-node cluster lives: names, addresses, files, and each node's settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATE_DIR = Path("/run/wsbench-cluster")
SUBNET = "10.215.0"  # the bridge is .1; node i is .10+i (wsbench.link takes 10.214, wire 10.213)
PREFIX_LEN = 24
BRIDGE = "wsbc0"
CLUSTER_NAME = "wsbench"
PROVIDER = "/usr/lib/galera/libgalera_smm.so"
MYSQL_PORT = 3306
# Galera notices a dead node after evs.suspect_timeout (5 s by default), checked every
# inactive_check_period (0.5 s), and retries joins every join_retrans_period (1 s): tuned for one
# LAN, writes stall about 1.2 s after a node is killed instead of 6 s. inactive and install stay
# at 6 s: with 3 s the survivors' new view timed out and left them without a primary component.
# keepalive must be below a third of suspect. The trade: a node that stalls for a second (an
# overloaded host, a long I/O pause) is evicted too and must rejoin.
EVS_TUNED = (
    "evs.suspect_timeout=PT1S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S;"
    "evs.keepalive_period=PT0.3S;evs.inactive_check_period=PT0.2S;evs.join_retrans_period=PT0.2S"
)
GCACHE = "gcache.size=64M"  # large enough that a node back within minutes rejoins by IST


@dataclass(frozen=True)
class NodeLayout:
    """One node: its number (1..n), network namespace, address and files."""

    number: int
    state_dir: Path = STATE_DIR

    @property
    def name(self) -> str:
        """The node's name: n1, n2, ..."""
        return f"n{self.number}"

    @property
    def namespace(self) -> str:
        """The network namespace the node runs in."""
        return f"wsbc-{self.name}"

    @property
    def address(self) -> str:
        """The node's IPv4 address, reached from the root namespace over the bridge."""
        return f"{SUBNET}.{10 + self.number}"

    @property
    def host_veth(self) -> str:
        """The veth end on the bridge, in the root namespace."""
        return f"wsbc{self.number}h"

    @property
    def node_veth(self) -> str:
        """The veth end inside the node's namespace: down means cut off."""
        return f"wsbc{self.number}n"

    @property
    def directory(self) -> Path:
        """Everything of this node: its settings, data, socket and logs."""
        return self.state_dir / self.name

    @property
    def datadir(self) -> Path:
        """The node's data directory."""
        return self.directory / "data"

    @property
    def config_file(self) -> Path:
        """The node's option file (``--defaults-file``)."""
        return self.directory / "node.cnf"

    @property
    def socket(self) -> Path:
        """The node's unix socket, reached from any namespace (files are shared)."""
        return self.directory / "mysqld.sock"

    @property
    def error_log(self) -> Path:
        """The node's error log."""
        return self.directory / "error.log"

    @property
    def pid_file(self) -> Path:
        """Where mariadbd writes its process id."""
        return self.directory / "mysqld.pid"


def layouts(count: int = 3, state_dir: Path = STATE_DIR) -> tuple[NodeLayout, ...]:
    """The nodes of a local cluster of ``count`` nodes."""
    return tuple(NodeLayout(number, state_dir) for number in range(1, count + 1))


def node_config(node: NodeLayout, peers: tuple[NodeLayout, ...], evs: str = EVS_TUNED) -> str:
    """The option file of one node: durable commits, Galera with the tuned timeouts.

    ``evs``: Galera's failure detection settings; "" keeps its defaults.
    """
    addresses = ",".join(peer.address for peer in peers)
    return f"""# wsbench cluster node {node.name}: written by python -m wsbench.cluster
[mariadbd]
user = mysql
datadir = {node.datadir}
socket = {node.socket}
pid-file = {node.pid_file}
log-error = {node.error_log}
bind-address = {node.address}
port = {MYSQL_PORT}
skip-name-resolve
# Durable at COMMIT: Jepsen lost acknowledged commits with 0 (MariaDB's advice for Galera).
innodb_flush_log_at_trx_commit = 1
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
innodb_autoinc_lock_mode = 2
binlog_format = ROW
default_storage_engine = InnoDB
max_connections = 200
wsrep_on = ON
wsrep_provider = {PROVIDER}
wsrep_cluster_name = {CLUSTER_NAME}
wsrep_cluster_address = gcomm://{addresses}
wsrep_node_address = {node.address}
wsrep_node_name = {node.name}
wsrep_sst_method = rsync
wsrep_provider_options = "{evs + ";" if evs else ""}{GCACHE}"
"""


def cluster_url(
    nodes: tuple[NodeLayout, ...], user: str = "wsbench", database: str = "test"
) -> str:
    """The ``--db`` URL that names every node."""
    hosts = ",".join(f"{node.address}:{MYSQL_PORT}" for node in nodes)
    return f"mysql://{user}@{hosts}/{database}"


def grants(user: str = "wsbench") -> str:
    """SQL that lets ``user`` reach test.testing from the bridge's subnet, as schema.sql does
    from loopback."""
    who = f"'{user}'@'{SUBNET}.%'"
    return f"CREATE USER IF NOT EXISTS {who};\nGRANT SELECT, INSERT ON test.testing TO {who};\n"
