"""The number parser and the server's frames, without sockets."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsbench.protocol import (
    BIGINT_MAX,
    BIGINT_MIN,
    FrameError,
    ack_message,
    error_message,
    hello_message,
    parse_number,
    parse_run_id,
)


@pytest.mark.parametrize(
    ("frame", "number"),
    [
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("-0", 0),
        ("007", 7),
        (str(BIGINT_MAX), BIGINT_MAX),
        (str(BIGINT_MIN), BIGINT_MIN),
    ],
)
def test_accepts_decimal_integers(frame: str, number: int) -> None:
    assert parse_number(frame) == number


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("", "empty frame"),
        ("abc", "not an integer"),
        ("1.5", "not an integer"),
        ("+5", "not an integer"),
        (" 7 ", "not an integer"),
        ("7\n", "not an integer"),
        ("0x10", "not an integer"),
        ("1e3", "not an integer"),
        ("1_000", "not an integer"),
        ("NaN", "not an integer"),
        ("-", "not an integer"),
        ("\u0661\u0662", "not an integer"),  # Arabic-Indic digits: int() would take them
        ("\uff11\uff12", "not an integer"),  # full-width digits
        ("1\x00", "not an integer"),
        ("[1]", "not an integer"),
        ("1; DROP TABLE testing", "not an integer"),
        ("99999999999999999999", "out of range"),
        (str(BIGINT_MAX + 1), "out of range"),
        (str(BIGINT_MIN - 1), "out of range"),
        ("9" * 5000, "out of range"),  # beyond int()'s digit limit: still a clean error
        (b"42", "binary frame"),
    ],
)
def test_rejects_everything_else_with_a_reason(frame: str | bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=f"^{reason}"):
        parse_number(frame)


@given(st.integers(min_value=BIGINT_MIN, max_value=BIGINT_MAX))
def test_round_trips_every_bigint(number: int) -> None:
    assert parse_number(str(number)) == number


@given(st.text(max_size=30))
def test_any_text_is_a_bigint_or_a_frame_error(text: str) -> None:
    try:
        number = parse_number(text)
    except FrameError:
        return
    assert BIGINT_MIN <= number <= BIGINT_MAX
    assert text.lstrip("-").isascii() and text.lstrip("-").isdigit()


def test_run_ids_are_checked_or_made() -> None:
    assert parse_run_id("run_1-A") == "run_1-A"
    assert parse_run_id(None) != parse_run_id(None)
    for bad in ("a b", "x" * 65, "é", "../x"):
        with pytest.raises(ValueError):
            parse_run_id(bad)


def test_server_frames_are_json() -> None:
    assert json.loads(ack_message(4711)) == {"acked": 4711}
    assert json.loads(error_message("not an integer", 17)) == {
        "error": "not an integer",
        "frame": 17,
    }
    assert json.loads(hello_message(store="null", durable=False)) == {
        "hello": {"store": "null", "durable": False}
    }
