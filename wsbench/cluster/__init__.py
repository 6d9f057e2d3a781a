"""A local MariaDB Galera cluster of three nodes, each a host of its own (a network namespace).

``python -m wsbench.cluster up|down|status``; tests and benchmarks use :class:`Cluster`.
"""

from .cluster import Cluster
from .layout import STATE_DIR, NodeLayout
from .node import NodeStatus
from .process import ClusterError

__all__ = ["STATE_DIR", "Cluster", "ClusterError", "NodeLayout", "NodeStatus"]
