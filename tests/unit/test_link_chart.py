"""benchmarks/link_chart.py: ms per number against a link's round trip or uplink, drawn as SVG."""

from __future__ import annotations

import importlib.util
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "link_chart.py"
_spec = importlib.util.spec_from_file_location("link_chart", SCRIPT)
assert _spec is not None and _spec.loader is not None
link_chart = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(link_chart)

SVG = "{http://www.w3.org/2000/svg}"
WS, HTTP = "WebSocket, pipelined", "HTTP, one at a time"
RTT = link_chart.AXES["rtt"]
UP = link_chart.AXES["up"]


def link(rtt: float = 28, up: float | None = 1, down: float | None = 5, loss: float = 0.0):
    """A case's ``link``, as browser.py writes it."""
    name = f"rtt={rtt}ms,up={up}mbit"
    return {"name": name, "rtt_ms": rtt, "up_mbit": up, "down_mbit": down, "loss": loss}


def case(
    label: str,
    elapsed: list[float],
    limit: float | None,
    on: dict[str, Any] | None,
    n: int = 1000,
    browser: str = "chromium",
) -> dict[str, Any]:
    """A case as browser.py --json writes it, the keys the chart ignores left out."""
    version = {"chromium": "156.0.8078.114", "firefox": "150.0"}[browser]
    return {
        "label": label,
        "browser": {"name": browser, "version": version},
        "server": "group @ link",
        "n": n,
        "elapsed_ms": elapsed,
        "link": on,
        "limit_ms": [limit] * len(elapsed) if limit else None,
        "limit_ms_median": limit,
    }


def document(*cases: dict[str, Any]) -> dict[str, Any]:
    return {"command": ["python"], "runs": 3, "warmup": 1, "cases": list(cases), "environment": {}}


def rtt_document() -> dict[str, Any]:
    """3 round trips (out of order) x 2 modes, and cases the chart must ignore."""
    cases = []
    for rtt in (150, 28, 50):
        on = link(rtt)
        cases.append(case(f"{WS} [group]", [2 * rtt, 3 * rtt, 2.5 * rtt], 2 * rtt, on))
        cases.append(case(f"{HTTP} [group]", [1000 * rtt, 1100 * rtt, 900 * rtt], 900 * rtt, on))
        cases.append(case(f"{WS} [per-message]", [1.0, 1.0, 1.0], 1.0, on))  # not group commit
        cases.append(case(f"{WS} [group]", [7.0, 7.0, 7.0], 7.0, on, browser="firefox"))
    cases.append(case(f"{WS} [group]", [5.0, 5.0, 5.0], None, None))  # loopback
    return document(*cases)


def up_document() -> dict[str, Any]:
    """3 uplink rates x 2 modes on a 50 ms round trip, and an unlimited uplink to leave out."""
    cases = []
    for up in (10, 0.5, 1, None):
        on = link(50, up, 20)
        cases.append(case(f"{WS} [group]", [100 / (up or 100)] * 3, 90 / (up or 100), on))
        cases.append(case(f"{HTTP} [group]", [5000.0] * 3, 4000.0, on))
    return document(*cases)


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def circles(root: ET.Element, mode: str) -> list[ET.Element]:
    return [c for c in root.iter(f"{SVG}circle") if c.get("data-mode") == mode]


def texts(root: ET.Element, cls: str) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == cls]


def run(tmp_path: Path, documents: list[dict[str, Any]], *flags: str) -> tuple[int, Path]:
    """main() on the documents written to files; its exit status and the SVG path."""
    paths = []
    for index, doc in enumerate(documents):
        path = tmp_path / f"run{index}.json"
        path.write_text(json.dumps(doc))
        paths.append(str(path))
    out = tmp_path / "chart.svg"
    return link_chart.main([*paths, *flags, "-o", str(out)]), out


# --- the pure parts ---------------------------------------------------------------------------


def test_lines_keep_group_commit_cases_of_one_browser_ordered_by_round_trip():
    modes = link_chart.lines([rtt_document()], "chromium", RTT)
    assert list(modes) == [WS, HTTP]
    for points in modes.values():
        assert [p.x for p in points] == [28, 50, 150]
        assert all(p.runs == 3 for p in points)
    first = modes[WS][0]
    assert first.ms == pytest.approx(2.5 * 28 / 1000)  # the median run over n
    assert first.limit == pytest.approx(2 * 28 / 1000)
    assert modes[HTTP][2].ms == pytest.approx(1000 * 150 / 1000)
    firefox = link_chart.lines([rtt_document()], "firefox", RTT)
    assert list(firefox) == [WS] and firefox[WS][0].ms == pytest.approx(0.007)


def test_two_files_merge_and_the_case_with_more_runs_wins():
    more = document(
        case(f"{WS} [group]", [10.0] * 5, 9.0, link(50)),  # 5 runs against the first file's 3
        case(f"{WS} [group]", [400.0] * 2, 300.0, link(300)),  # a new round trip
        case(f"{HTTP} [group]", [1.0] * 2, 0.5, link(28)),  # 2 runs: the first file's stays
    )
    modes = link_chart.lines([rtt_document(), more], "chromium", RTT)
    assert [p.x for p in modes[WS]] == [28, 50, 150, 300]
    assert modes[WS][1].ms == pytest.approx(0.01) and modes[WS][1].runs == 5
    assert [p.x for p in modes[HTTP]] == [28, 50, 150]
    assert modes[HTTP][0].ms == pytest.approx(28)


def test_an_unlimited_uplink_has_no_place_on_the_uplink_axis():
    modes = link_chart.lines([up_document()], "chromium", UP)
    assert [p.x for p in modes[WS]] == [0.5, 1, 10]
    assert [p.ms for p in modes[WS]] == pytest.approx([0.2, 0.1, 0.01])


def test_log_ticks_are_round_decades_with_2_and_5_when_few():
    assert link_chart.ticks(0.3, 40) == (0.1, 100, [0.1, 1, 10, 100])
    low, high, values = link_chart.ticks(0.5, 10)
    assert (low, high) == (0.1, 10)
    assert values == pytest.approx([0.1, 0.2, 0.5, 1, 2, 5, 10])
    assert link_chart.ticks(10, 10)[:2] == (10, 100)  # one value still gets a decade


def test_the_caption_names_the_fixed_parameters_or_says_various():
    modes = link_chart.lines([rtt_document()], "chromium", RTT)
    assert link_chart.fixed_text(modes, RTT) == "up 1 Mbit/s, down 5 Mbit/s, loss 0.0%"
    modes = link_chart.lines([up_document()], "chromium", UP)
    assert link_chart.fixed_text(modes, UP) == "RTT 50 ms, down 20 Mbit/s, loss 0.0%"
    mixed = document(
        case(f"{WS} [group]", [1.0], 1.0, link(28, 1, 5)),
        case(f"{WS} [group]", [1.0], 1.0, link(50, 2, None, loss=0.02)),
    )
    modes = link_chart.lines([mixed], "chromium", RTT)
    assert link_chart.fixed_text(modes, RTT) == "up various, down various, loss various"
    unlimited = document(case(f"{WS} [group]", [1.0], 1.0, link(28, 1, None)))
    modes = link_chart.lines([unlimited], "chromium", RTT)
    assert link_chart.fixed_text(modes, RTT) == "up 1 Mbit/s, down unlimited, loss 0.0%"


def test_the_svg_has_a_solid_and_a_dashed_line_a_legend_entry_and_points_per_mode():
    modes = link_chart.lines([rtt_document()], "chromium", RTT)
    root = parse(link_chart.svg(modes, RTT, "a <title> & more"))
    polylines = list(root.iter(f"{SVG}polyline"))
    assert sorted((p.get("class"), p.get("data-mode")) for p in polylines) == sorted(
        [("measured", WS), ("measured", HTTP), ("limit", WS), ("limit", HTTP)]
    )
    assert all(p.get("stroke-dasharray") for p in polylines if p.get("class") == "limit")
    legend = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "legend" for t in g]
    assert [t for t in legend if t] == [WS, HTTP]
    assert any(t.text == "a <title> & more" for t in root.iter(f"{SVG}text"))
    for mode in (WS, HTTP):
        points = circles(root, mode)
        assert [float(c.get("data-x", "")) for c in points] == [28, 50, 150]
        xs = [float(c.get("cx", "")) for c in points]
        assert xs == sorted(xs) and len(set(xs)) == 3
    ws = circles(root, WS)[1]
    assert float(ws.get("data-ms-per-number", "")) == pytest.approx(2.5 * 50 / 1000)
    assert float(ws.get("data-limit-ms-per-number", "")) == pytest.approx(0.1)
    # Slower is higher on the chart: HTTP one at a time is above pipelined WebSocket.
    assert float(circles(root, HTTP)[0].get("cy", "")) < float(ws.get("cy", ""))
    assert "round-trip time, ms" in [t.text for t in root.iter(f"{SVG}text")]
    assert texts(root, "y-tick") == ["0.01", "0.1", "1", "10", "100", "1000"]


# --- the script -------------------------------------------------------------------------------


def test_main_draws_the_round_trip_chart_with_the_default_title(tmp_path: Path):
    status, out = run(tmp_path, [rtt_document()], "--x", "rtt")
    assert status == 0
    root = parse(out.read_text())
    title = "Chromium 156.0.8078.114: ms per number against round-trip time (group commit, MySQL)"
    assert next(root.iter(f"{SVG}text")).text == title
    assert texts(root, "caption") == [
        "varied: round-trip time; fixed: up 1 Mbit/s, down 5 Mbit/s, loss 0.0%; each point the "
        "median run's ms / N"
    ]
    assert texts(root, "x-tick") == ["10", "20", "50", "100", "200", "500", "1000"]


def test_main_draws_the_uplink_chart_for_the_browser_asked(tmp_path: Path):
    both = up_document()
    both["cases"] += [
        case(f"{WS} [group]", [50.0 / up] * 3, 40.0 / up, link(50, up), browser="firefox")
        for up in (4, 1, 2)
    ]
    status, out = run(tmp_path, [both], "--x", "up", "--browser", "firefox")
    assert status == 0
    root = parse(out.read_text())
    assert next(root.iter(f"{SVG}text")).text == (
        "Firefox 150.0: ms per number against uplink rate (group commit, MySQL)"
    )
    assert circles(root, HTTP) == []
    assert [c.get("data-ms-per-number") for c in circles(root, WS)] == ["0.05", "0.025", "0.0125"]
    assert "uplink, Mbit/s" in [t.text for t in root.iter(f"{SVG}text")]


def test_main_takes_a_title_and_says_various_when_fixed_parameters_differ(tmp_path: Path):
    other = document(case(f"{WS} [group]", [1.0] * 3, 0.5, link(80, 2, 10)))
    status, out = run(tmp_path, [rtt_document(), other], "--title", "Links")
    assert status == 0
    root = parse(out.read_text())
    assert next(root.iter(f"{SVG}text")).text == "Links"
    assert "fixed: up various, down various, loss 0.0%" in texts(root, "caption")[0]


@pytest.mark.parametrize(
    "documents",
    [
        [document(case(f"{WS} [group]", [5.0], None, None))],  # loopback only
        [document(case(f"{WS} [per-message]", [5.0], 4.0, link()))],  # no group commit
        [rtt_document(), document(case(f"{WS} [group]", [5.0], None, None))],  # one file empty
    ],
)
def test_a_file_with_no_usable_case_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], documents: list[dict[str, Any]]
):
    status, out = run(tmp_path, documents)
    assert status == 1 and not out.exists()
    assert "no group-commit case of" in capsys.readouterr().err


def test_another_browsers_cases_are_not_enough(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    status, out = run(tmp_path, [rtt_document()], "--browser", "webkit")
    assert status == 1 and not out.exists()
    assert "no group-commit case of webkit on an emulated link" in capsys.readouterr().err
