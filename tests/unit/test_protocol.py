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

NOT_AN_INTEGER = "not an integer"
OUT_OF_RANGE = "out of range"
EMPTY = "empty frame"
BINARY = "binary frame"
MAX_FRAME = 1024  # the server's default --max-frame

# Every kind of bad frame a hostile client might send, each rejected with its reason.
HOSTILE_FRAMES = [
    pytest.param("hello, server", NOT_AN_INTEGER, id="garbage"),
    pytest.param("+5", NOT_AN_INTEGER, id="plus-sign"),
    pytest.param(" 7 ", NOT_AN_INTEGER, id="spaces-around"),
    pytest.param("\t7", NOT_AN_INTEGER, id="leading-tab"),
    pytest.param("7\n", NOT_AN_INTEGER, id="trailing-newline"),
    pytest.param("7\r\n", NOT_AN_INTEGER, id="trailing-crlf"),
    pytest.param("1 2", NOT_AN_INTEGER, id="two-numbers"),
    pytest.param("1\n2", NOT_AN_INTEGER, id="two-lines"),
    pytest.param("0x10", NOT_AN_INTEGER, id="hex"),
    pytest.param("0b101", NOT_AN_INTEGER, id="binary-literal"),
    pytest.param("1e3", NOT_AN_INTEGER, id="exponent"),
    pytest.param("1.5", NOT_AN_INTEGER, id="decimal-point"),
    pytest.param("5.", NOT_AN_INTEGER, id="trailing-point"),
    pytest.param("NaN", NOT_AN_INTEGER, id="nan"),
    pytest.param("Infinity", NOT_AN_INTEGER, id="infinity"),
    pytest.param("-Infinity", NOT_AN_INTEGER, id="minus-infinity"),
    pytest.param("1_000", NOT_AN_INTEGER, id="underscore"),
    pytest.param("1,000", NOT_AN_INTEGER, id="thousands-comma"),
    pytest.param("١٢", NOT_AN_INTEGER, id="arabic-indic-digits"),
    pytest.param("１２", NOT_AN_INTEGER, id="full-width-digits"),
    pytest.param("²", NOT_AN_INTEGER, id="superscript-two"),
    pytest.param("𝟓", NOT_AN_INTEGER, id="mathematical-bold-digit"),
    pytest.param("\u22125", NOT_AN_INTEGER, id="unicode-minus-sign"),
    pytest.param("5\u200b", NOT_AN_INTEGER, id="zero-width-space"),
    pytest.param("\ufeff5", NOT_AN_INTEGER, id="byte-order-mark"),
    pytest.param("-", NOT_AN_INTEGER, id="lone-minus"),
    pytest.param("--1", NOT_AN_INTEGER, id="double-minus"),
    pytest.param('{"n": 5}', NOT_AN_INTEGER, id="json-object"),
    pytest.param("[5]", NOT_AN_INTEGER, id="json-array"),
    pytest.param('"5"', NOT_AN_INTEGER, id="json-string"),
    pytest.param("1\x00", NOT_AN_INTEGER, id="nul-after-digit"),
    pytest.param("\x00", NOT_AN_INTEGER, id="nul-only"),
    pytest.param("1); DROP TABLE testing; --", NOT_AN_INTEGER, id="sql-drop-table"),
    pytest.param("1 OR 1=1", NOT_AN_INTEGER, id="sql-or-1-equals-1"),
    pytest.param("1'", NOT_AN_INTEGER, id="sql-quote"),
    pytest.param("9223372036854775808", OUT_OF_RANGE, id="bigint-max-plus-1"),
    pytest.param("-9223372036854775809", OUT_OF_RANGE, id="bigint-min-minus-1"),
    pytest.param("9" * 1000, OUT_OF_RANGE, id="1000-digits"),
    pytest.param("1" * MAX_FRAME, OUT_OF_RANGE, id="1024-digits-largest-frame"),
    pytest.param("", EMPTY, id="empty-frame"),
    pytest.param(b"42", BINARY, id="binary-frame-digits"),
    pytest.param(b"\xff", BINARY, id="binary-frame-ff"),
    pytest.param(b"", BINARY, id="binary-frame-empty"),
]


@pytest.mark.parametrize(("frame", "reason"), HOSTILE_FRAMES)
def test_rejects_hostile_frames_with_a_reason(frame: str | bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=f"^{reason}"):
        parse_number(frame)


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
