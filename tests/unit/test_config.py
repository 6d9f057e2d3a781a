"""Flags, environment and database URLs."""

import pytest

from wsbench.addresses import is_loopback
from wsbench.server.config import DEFAULT_PORT, load_config
from wsbench.store.url import parse_database_url


def test_defaults() -> None:
    config = load_config([], environ={})
    assert (config.host, config.port) == ("127.0.0.1", DEFAULT_PORT)
    assert config.db.redacted() == "mysql://wsbench@127.0.0.1:3306/test"


def test_flag_beats_environment_beats_default() -> None:
    env = {"WSBENCH_DB": "mysql://u:pw@db.example:3307/other"}
    assert load_config([], environ=env).db.host == "db.example"
    assert load_config(["--db", "null:"], environ=env).db.scheme == "null"


def test_url_parts_are_decoded_and_the_password_never_shown() -> None:
    url = parse_database_url("mysql://bench%40x:p%40ss:word@10.0.0.5:3310/my_db")
    assert (url.user, url.password, url.host, url.port, url.database) == (
        "bench@x",
        "p@ss:word",
        "10.0.0.5",
        3310,
        "my_db",
    )
    assert "p@ss" not in url.redacted() and "p@ss" not in repr(url)
    assert url.redacted() == "mysql://bench@x:***@10.0.0.5:3310/my_db"


@pytest.mark.parametrize("url", ["postgres://x/y", "mysql://h:notaport/db", "mysql://h/a/b"])
def test_bad_urls_are_refused_with_a_reason(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load_config(["--db", url], environ={})
    assert exit_info.value.code == 2
    assert "database" in capsys.readouterr().err


def test_loopback_detection() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.10", "example.com", "::"]))
