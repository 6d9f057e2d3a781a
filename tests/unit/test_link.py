"""Emulated links without I/O: profiles and their parsing, one direction's pipe, run limits."""

import asyncio
import math
import random
from itertools import accumulate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsbench.link.emulator import Direction, syn_port
from wsbench.link.limit import Pattern, choose_n, limit_ms, rounds_ms, transfer_ms
from wsbench.link.pipe import Pipe, PipeCounters, Verdict
from wsbench.link.profiles import DEFAULT_QUEUE, PROFILES, Link, LinkSpecError, parse_link

EXAMPLE = "rtt=80ms,up=2mbit,down=20mbit,loss=1%"
ONE, STREAMED = Pattern.ONE_AT_A_TIME, Pattern.STREAMED


class Scripted(random.Random):
    """A random source that answers the values it was given, in turn."""

    def __init__(self, *values: float) -> None:
        super().__init__(0)
        self.values = iter(values)

    def random(self) -> float:
        return next(self.values)


# --- profiles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rtt", "up", "down", "loss"),
    [
        ("lan", 1, 100, 100, 0),
        ("cable", 28, 1, 5, 0),
        ("dsl", 50, 0.384, 1.5, 0),
        ("4g", 150, 0.75, 1.6, 0),
        ("3g", 300, 0.768, 1.6, 0),
        ("lossy", 50, 10, 10, 0.02),
    ],
)
def test_each_profile_has_the_values_its_source_cites(
    name: str, rtt: float, up: float, down: float, loss: float
) -> None:
    link = PROFILES[name]
    assert (link.name, link.rtt_ms, link.up_mbit, link.down_mbit) == (name, rtt, up, down)
    assert (link.loss, link.queue) == (loss, DEFAULT_QUEUE)
    assert link.one_way_s == rtt / 2000
    assert parse_link(name) == link
    assert parse_link(f"  {name.upper()} ") == link


def test_there_are_exactly_the_documented_profiles() -> None:
    assert set(PROFILES) == {"lan", "cable", "dsl", "4g", "3g", "lossy"}


def test_parses_a_custom_link() -> None:
    assert parse_link(EXAMPLE) == Link(EXAMPLE, 80, 2, 20, loss=0.01, queue=DEFAULT_QUEUE)
    assert parse_link(" RTT = 80 ms , Up=2Mbit/s,down=20mbitps ").rtt_ms == 80


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("rtt=80", "rtt_ms", 80),
        ("rtt=0.3s", "rtt_ms", 300),
        ("rtt=500us", "rtt_ms", 0.5),
        ("rtt=10s", "rtt_ms", 10_000),
        ("rtt=1ms,up=750kbit", "up_mbit", 0.75),
        ("rtt=1ms,up=2000bit", "up_mbit", 0.002),
        ("rtt=1ms,down=1.5gbit", "down_mbit", 1500),
        ("rtt=1ms,down=unlimited", "down_mbit", None),
        ("rtt=1ms,down=inf", "down_mbit", None),
        ("rtt=1ms", "up_mbit", None),
        ("rtt=1ms,loss=0.01", "loss", 0.01),
        ("rtt=1ms,loss=2.5%", "loss", 0.025),
        ("rtt=1ms,loss=0%", "loss", 0),
        ("rtt=1ms,queue=20", "queue", 20),
    ],
)
def test_parses_units(text: str, field: str, value: float | None) -> None:
    parsed = getattr(parse_link(text), field)
    assert parsed == (None if value is None else pytest.approx(value))


def test_a_profile_with_overrides_keeps_the_rest_and_says_so_in_its_name() -> None:
    link = parse_link("4g,loss=1%")
    assert link == Link("4g,loss=1%", 150, 0.75, 1.6, loss=0.01)
    assert parse_link("cable, queue=50").queue == 50
    assert parse_link("cable,up=unlimited").up_mbit is None
    assert parse_link("cable,").name == "cable"


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("", "lan, cable, dsl, 3g, 4g, lossy"),
        (" , ", EXAMPLE),
        ("5g", "lan, cable, dsl, 3g, 4g, lossy"),
        ("5g", EXAMPLE),
        ("4g,jitter=5ms", "rtt, up, down"),
        ("rtt=80ms,4g", EXAMPLE),
        ("rtt=fast", "80ms or 0.3s"),
        ("rtt=11s", "more than 10 s"),
        ("rtt=1ms,up=2", "750kbit or 2mbit"),
        ("rtt=1ms,up=0mbit", "750kbit or 2mbit"),
        ("rtt=1ms,up=-2mbit", "750kbit or 2mbit"),
        ("rtt=1ms,down=2mbps", "750kbit or 2mbit"),
        ("rtt=1ms,loss=-1%", "such as 1%"),
        ("rtt=1ms,loss=100%", "below 100%"),
        ("rtt=1ms,loss=1", "below 100%"),
        ("rtt=1ms,queue=0", "at least 1"),
        ("rtt=1ms,queue=many", "whole number"),
        ("up=2mbit,down=20mbit", EXAMPLE),
    ],
)
def test_a_bad_link_names_the_fix(text: str, fix: str) -> None:
    with pytest.raises(LinkSpecError) as raised:
        parse_link(text)
    assert fix in str(raised.value)


def test_a_queue_in_unicode_digits_is_a_link_spec_error() -> None:
    with pytest.raises(LinkSpecError):
        parse_link("rtt=80ms,queue=²")


@given(st.text(alphabet="0123456789.,=%:msukbitgnlprqwdoe ", max_size=40))
def test_any_ascii_text_is_a_link_or_a_link_spec_error(text: str) -> None:
    try:
        link = parse_link(text)
    except LinkSpecError:
        return
    assert 0 <= link.rtt_ms <= 10_000 and 0 <= link.loss < 1 and link.queue >= 1


def test_describe_and_as_json() -> None:
    assert PROFILES["4g"].describe() == "4g: 150 ms RTT, up 750 kbit/s, down 1.6 Mbit/s, no loss"
    lossy = "lossy: 50 ms RTT, up 10 Mbit/s, down 10 Mbit/s, 0.02 loss each way"
    assert PROFILES["lossy"].describe() == lossy
    custom = "rtt=5ms: 5 ms RTT, up unlimited, down unlimited, no loss"
    assert parse_link("rtt=5ms").describe() == custom
    fields = ("name", "rtt_ms", "up_mbit", "down_mbit", "loss", "queue_packets")
    values = ("4g,loss=1%", 150, 0.75, 1.6, 0.01, DEFAULT_QUEUE)
    assert parse_link("4g,loss=1%").as_json() == dict(zip(fields, values, strict=True))
    assert parse_link("rtt=5ms").as_json()["up_mbit"] is None


# --- pipe: 8000 bit/s carries 1000 bytes a second, so the times below are exact -------------


def test_without_a_rate_a_packet_leaves_exactly_the_delay_later() -> None:
    pipe = Pipe(rate_bps=None, delay_s=0.25, queue_packets=1)
    assert {pipe.offer(t, 1500)[0] for t in (0.0, 0.0, 3.0)} == {Verdict.SENT}
    assert [pipe.offer(t, 1500)[1] for t in (5.0, 5.0, 7.5)] == [5.25, 5.25, 7.75]


def test_back_to_back_packets_are_spaced_by_their_serialisation() -> None:
    pipe = Pipe(rate_bps=8000, delay_s=0.25)
    releases = [pipe.offer(0.0, size)[1] for size in (1000, 500, 1000)]
    assert releases == [1.25, 1.75, 2.75]


def test_an_idle_link_does_not_save_up_credit() -> None:
    pipe = Pipe(rate_bps=8000, delay_s=0.25)
    assert pipe.offer(0.0, 1000) == (Verdict.SENT, 1.25)
    assert pipe.offer(10.0, 500) == (Verdict.SENT, 10.75)
    assert pipe.offer(10.0, 500) == (Verdict.SENT, 11.25)


@given(
    rate=st.none() | st.floats(min_value=1e3, max_value=1e10),
    delay=st.floats(min_value=0, max_value=1),
    packets=st.lists(
        st.tuples(st.floats(min_value=0, max_value=0.1), st.integers(1, 1500)), max_size=60
    ),
)
def test_release_times_never_decrease_nor_come_early(
    rate: float | None, delay: float, packets: list[tuple[float, int]]
) -> None:
    pipe = Pipe(rate_bps=rate, delay_s=delay, queue_packets=8)
    arrivals = list(accumulate(gap for gap, _ in packets))
    last = -math.inf
    for now, (_, size) in zip(arrivals, packets, strict=True):
        verdict, release = pipe.offer(now, size)
        if verdict is Verdict.QUEUE_FULL:
            continue
        assert release >= last
        assert release >= now + (size * 8 / rate if rate else 0.0) + delay
        last = release


def test_the_buffer_drops_while_queue_packets_are_still_being_serialised() -> None:
    pipe = Pipe(rate_bps=8000, delay_s=0.0, queue_packets=3)
    assert [pipe.offer(0.0, 1000)[0] for _ in range(3)] == [Verdict.SENT] * 3  # done at 1, 2, 3
    assert pipe.offer(0.0, 1000) == (Verdict.QUEUE_FULL, 0.0)
    assert pipe.offer(0.999, 1000)[0] is Verdict.QUEUE_FULL
    assert pipe.offer(1.0, 1000) == (Verdict.SENT, 4.0)  # the first is out: room for one
    assert pipe.offer(1.5, 1000)[0] is Verdict.QUEUE_FULL
    assert pipe.offer(2.0, 1000) == (Verdict.SENT, 5.0)
    assert pipe.offer(10.0, 1000) == (Verdict.SENT, 11.0)
    assert pipe.counters.queue_full == 3


def test_a_pipe_without_a_rate_never_fills_its_buffer() -> None:
    pipe = Pipe(rate_bps=None, delay_s=0.1, queue_packets=1)
    assert {pipe.offer(0.0, 1500)[0] for _ in range(100)} == {Verdict.SENT}


def test_seeded_loss_stays_within_a_binomial_bound() -> None:
    n, p = 100_000, 0.02
    pipe = Pipe(rate_bps=None, delay_s=0.0, loss=p, rng=random.Random(1234))
    lost = sum(pipe.offer(0.0, 100)[0] is Verdict.LOST for _ in range(n))
    assert abs(lost - n * p) <= 5 * math.sqrt(n * p * (1 - p))
    assert pipe.counters.lost == lost


def test_no_loss_never_loses_nor_draws_a_random_number() -> None:
    pipe = Pipe(rate_bps=1e6, delay_s=0.0, loss=0.0, rng=Scripted())  # Scripted() is empty
    assert all(pipe.offer(t * 0.01, 1000)[0] is Verdict.SENT for t in range(1000))


def test_a_lost_packet_still_takes_its_time_on_the_link() -> None:
    pipe = Pipe(rate_bps=8000, delay_s=0.25, loss=0.5, rng=Scripted(0.1, 0.9, 0.5))
    assert pipe.offer(0.0, 1000) == (Verdict.LOST, 1.25)
    assert pipe.offer(0.0, 1000) == (Verdict.SENT, 2.25)
    assert pipe.offer(0.0, 1000) == (Verdict.SENT, 3.25)  # 0.5 is not below 0.5


def test_counters_count_every_offered_packet_and_its_fate() -> None:
    pipe = Pipe(rate_bps=8000, delay_s=0.0, loss=0.5, queue_packets=2, rng=Scripted(0.9, 0.1))
    for size in (100, 200, 300, 400):
        pipe.offer(0.0, size)
    assert pipe.counters == PipeCounters(packets=4, bytes=1000, lost=1, queue_full=2)


# --- limit ------------------------------------------------------------------------------------

G4, CABLE = PROFILES["4g"], PROFILES["cable"]
OPEN = Link("open", rtt_ms=10, up_mbit=None, down_mbit=None)


def test_transfer_time() -> None:
    assert transfer_ms(450_000, 0.75) == 4800  # 3.6 Mbit at 750 bit/ms
    assert transfer_ms(300_000, 1.6) == 1500
    assert transfer_ms(10**9, None) == 0


def test_limit_of_a_run_one_at_a_time_on_4g() -> None:
    # 10,000 round trips of 150 ms, 4800 ms of bytes up, 1500 ms of bytes down.
    assert limit_ms(G4, ONE, 10_000, 450_000, 300_000) == 1_500_000 + 4800 + 1500
    assert limit_ms(G4, ONE, 10_000, 450_000, 300_000, setup_round_trips=2) == 1_506_600


def test_limit_of_a_streamed_run_on_4g_is_one_round_trip_and_the_slower_direction() -> None:
    assert limit_ms(G4, STREAMED, 10_000, 450_000, 300_000) == 150 + 4800
    assert limit_ms(G4, STREAMED, 10_000, 45_000, 1_200_000) == 150 + 6000  # down is slower
    assert limit_ms(G4, STREAMED, 10_000, 450_000, 300_000, setup_round_trips=2) == 5250


def test_limit_on_cable_worked_by_hand() -> None:
    # 28 ms setup + 3 x 28 ms + 3000 bytes at 1 Mbit/s (24 ms) + 15,000 at 5 Mbit/s (24 ms).
    assert limit_ms(CABLE, ONE, 3, 3000, 15_000, setup_round_trips=1) == 160
    assert limit_ms(CABLE, STREAMED, 3, 3000, 15_000, setup_round_trips=1) == 80


def test_an_unlimited_direction_takes_no_time() -> None:
    assert limit_ms(OPEN, ONE, 100, 10**9, 10**9) == 1000
    assert limit_ms(OPEN, STREAMED, 100, 10**9, 10**9, setup_round_trips=2) == 30
    half = Link("half", rtt_ms=10, up_mbit=None, down_mbit=8)
    assert limit_ms(half, STREAMED, 1, 10**9, 1000) == 11


@given(
    link=st.sampled_from(list(PROFILES.values()) + [OPEN]),
    n=st.integers(1, 100_000),
    up=st.integers(0, 10**8),
    down=st.integers(0, 10**8),
    setup=st.integers(0, 3),
)
def test_streaming_is_never_slower_than_one_at_a_time(
    link: Link, n: int, up: int, down: int, setup: int
) -> None:
    streamed = limit_ms(link, STREAMED, n, up, down, setup)
    assert link.rtt_ms * (setup + 1) <= streamed <= limit_ms(link, ONE, n, up, down, setup)


def test_choose_n_one_at_a_time_on_4g() -> None:
    # 150 ms + 45 bytes up (0.48 ms) + 45 bytes down (0.225 ms): 3000 / 150.705 = 19.9
    assert choose_n(G4, ONE, 45, 45, budget_ms=3000, most=10_000) == 19
    assert choose_n(G4, ONE, 0, 0, budget_ms=3000, most=10_000) == 20
    assert choose_n(G4, ONE, 45, 45, budget_ms=3000, most=10_000, parallel=6) == 19


def test_choose_n_stays_between_least_and_most() -> None:
    assert choose_n(G4, ONE, 45, 45, budget_ms=100, most=10_000) == 5
    assert choose_n(G4, ONE, 45, 45, budget_ms=100, most=10_000, least=1) == 1
    assert choose_n(G4, ONE, 45, 45, budget_ms=10**9, most=10_000) == 10_000
    assert choose_n(OPEN, STREAMED, 45, 45, budget_ms=1, most=777) == 777  # no time per number


def test_choose_n_streamed_is_bounded_by_bytes() -> None:
    # 125 bytes: 1 ms up at 1 Mbit/s, 0.2 ms down at 5 Mbit/s; the 28 ms round trip is not paid.
    assert choose_n(CABLE, STREAMED, 125, 125, budget_ms=3000, most=10**6) == 3000
    assert choose_n(CABLE, STREAMED, 125, 625, budget_ms=3000, most=10**6) == 3000
    assert choose_n(CABLE, STREAMED, 125, 1250, budget_ms=3000, most=10**6) == 1500


def test_choose_n_parallel_requests_still_wait_their_round_trip() -> None:
    # cable's 28 ms round trip over 7 connections: 4 ms a number; over 2: 14 ms, 214.3 of them.
    assert choose_n(CABLE, STREAMED, 125, 125, budget_ms=3000, most=10**6, parallel=7) == 750
    assert choose_n(CABLE, STREAMED, 125, 125, budget_ms=3000, most=10**6, parallel=2) == 214
    # the bytes still bound it when they take longer than the round trip's share (8 ms > 4 ms)
    assert choose_n(CABLE, STREAMED, 1000, 125, budget_ms=3000, most=10**6, parallel=7) == 375
    assert choose_n(OPEN, STREAMED, 0, 0, budget_ms=3000, most=10**6, parallel=5) == 1500


def test_rounds_ms_counts_a_round_trip_per_request_per_connection_plus_setup() -> None:
    cable = PROFILES["cable"]
    assert rounds_ms(cable, 642, 6) == 107 * 28
    assert rounds_ms(cable, 642, 6, setup_round_trips=1) == 108 * 28
    assert rounds_ms(cable, 6, 6) == 28


def _tcp(flags: int, dport: int) -> bytes:
    ip = bytes([0x45, 0]) + bytes(7) + bytes([6]) + bytes(10)  # IPv4, 20 bytes, protocol TCP
    tcp = bytes(2) + dport.to_bytes(2, "big") + bytes(9) + bytes([flags]) + bytes(6)
    return ip + tcp


def test_syn_port_names_the_destination_of_a_syn_only() -> None:
    assert syn_port(_tcp(0x02, 8766)) == 8766
    assert syn_port(_tcp(0x12, 8766)) is None  # SYN-ACK
    assert syn_port(_tcp(0x10, 8766)) is None  # ACK
    assert syn_port(b"\x60" + bytes(39)) is None  # IPv6
    assert syn_port(b"\x45") is None


def test_a_window_of_the_packet_log_counts_what_crossed_within_it() -> None:
    loop = asyncio.new_event_loop()
    try:
        direction = Direction(loop, Pipe(None, 0.0), -1, -1, log_at_release=False)
        for when, size in ((1.0, 100), (2.0, 200), (3.0, 300)):
            direction.log_time.append(when)
            direction.log_size.append(size)
        assert direction.window(1.5, 3.0) == {"bytes": 500, "packets": 2}
        assert direction.window(4.0, 5.0) == {"bytes": 0, "packets": 0}
        direction.stop()
    finally:
        loop.close()
