"""The local cluster's layout: addresses, files, and the settings each node starts with."""

from __future__ import annotations

from pathlib import Path

from wsbench.cluster.layout import cluster_url, grants, layouts, node_config
from wsbench.store.url import parse_database_url


def test_each_node_is_a_host_of_its_own() -> None:
    nodes = layouts(3, Path("/tmp/c"))
    assert [node.address for node in nodes] == ["10.215.0.11", "10.215.0.12", "10.215.0.13"]
    assert len({node.namespace for node in nodes}) == 3
    assert nodes[1].datadir == Path("/tmp/c/n2/data")


def test_the_url_names_every_node_and_parses() -> None:
    url = parse_database_url(cluster_url(layouts(3)))
    assert [host for host, _ in url.nodes] == ["10.215.0.11", "10.215.0.12", "10.215.0.13"]


def test_a_node_commits_durably_with_the_tuned_timeouts() -> None:
    nodes = layouts(3, Path("/tmp/c"))
    text = node_config(nodes[0], nodes)
    assert "innodb_flush_log_at_trx_commit = 1" in text
    assert "wsrep_cluster_address = gcomm://10.215.0.11,10.215.0.12,10.215.0.13" in text
    assert "bind-address = 10.215.0.11" in text
    assert "user = mysql" in text
    for option in ("suspect_timeout=PT1S", "inactive_timeout=PT6S", "keepalive_period=PT0.3S"):
        assert option in text


def test_the_grants_admit_the_bridge_subnet() -> None:
    assert "'wsbench'@'10.215.0.%'" in grants()


def test_galeras_own_failure_detection_when_asked() -> None:
    nodes = layouts(3, Path("/tmp/c"))
    assert 'wsrep_provider_options = "gcache.size=64M"' in node_config(nodes[0], nodes, evs="")
