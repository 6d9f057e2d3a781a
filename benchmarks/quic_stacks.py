"""The server's CPU per number over HTTP/3 and WebTransport: aioquic (what it runs) against qh3.

    python benchmarks/quic_stacks.py [--runs 3]

qh3 is aioquic's fork with a Rust packet core and the same API but for datagram flow ids. This
copies the checkout to a temporary directory, moves the copy's two QUIC modules to qh3, starts
both servers (--tls --db null:) and drives each with the bench client (aioquic) over every QUIC
case, alternately; it prints the server's CPU per number, median (min..max), and the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from wsbench.testing.cpu import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
CASES = [  # transport, mode, the flag that sets N, N
    ("http3", "pipelined", "--nhttp", 3000),
    ("http3", "one-at-a-time", "--nhttp", 1000),
    ("webtransport", "pipelined", "-n", 20000),
    ("webtransport", "one-at-a-time", "-n", 2000),
    ("webtransport", "datagrams", "-n", 20000),
]
# What differs in qh3: its import names, and datagram flows named by quarter stream id.
QH3_EDITS = {
    "wsbench/server/h3.py": [
        ("from aioquic.", "from qh3."),
        ("sessions.datagram(h3, event.stream_id,", "sessions.datagram(h3, event.flow_id * 4,"),
    ],
    "wsbench/server/webtransport.py": [
        ("from aioquic.", "from qh3."),
        ("h3.send_datagram(self.session_id, data)", "h3.send_datagram(self.session_id // 4, data)"),
    ],
    "wsbench/protocol.py": [("from aioquic.", "from qh3.")],
}


def qh3_copy(directory: Path) -> Path:
    """A copy of the checkout whose server speaks QUIC through qh3."""
    copy = directory / "qh3"
    shutil.copytree(
        ROOT / "wsbench", copy / "wsbench", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(ROOT / "page", copy / "page")
    for name in ("websocket_server.py", "websocket.html", "schema.sql"):
        shutil.copy(ROOT / name, copy / name)
    for name, edits in QH3_EDITS.items():
        text = (copy / name).read_text()
        for old, new in edits:
            if old not in text:
                raise SystemExit(f"{name} no longer holds {old!r}: update QH3_EDITS")
            text = text.replace(old, new)
        (copy / name).write_text(text)
    return copy


@contextlib.contextmanager
def server(root: Path, log: Path) -> Iterator[tuple[int, str]]:
    """A --tls --db null: server from ``root``: its pid and WebSocket URL."""
    command = [sys.executable, str(root / "websocket_server.py"), "--tls", "--db", "null:"]
    command += ["--port", "0", "--http-port", "0", "--h2-port", "0", "--h3-port", "0"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=root, stderr=out, env={**os.environ, "PYTHONPATH": str(root)}
        )
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(r"listening on wss://(\S+):(\d+)", log.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server in {root} did not start:\n{log.read_text()}")
            time.sleep(0.05)  # polling its log for the listening line
        yield process.pid, f"wss://{match[1]}:{match[2]}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> int:
    """Measure, then print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per case and stack (%(default)s)")
    args = parser.parse_args()
    samples: dict[tuple[str, str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="wsbench-qh3-") as temporary:
        directory = Path(temporary)
        roots = {"aioquic": ROOT, "qh3": qh3_copy(directory)}
        with contextlib.ExitStack() as stack:
            servers = {
                name: stack.enter_context(server(root, directory / f"{name}.log"))
                for name, root in roots.items()
            }
            for run in range(args.runs):
                for transport, mode, flag, n in CASES:
                    order = list(servers) if run % 2 == 0 else list(servers)[::-1]
                    for name in order:
                        pid, url = servers[name]
                        before = cpu_seconds(pid)
                        command = [sys.executable, "-m", "wsbench.bench", "--server", url]
                        command += ["--insecure", "--transport", transport, "--mode", mode]
                        command += [
                            flag,
                            str(n),
                            "--runs",
                            "1",
                            "--warmup",
                            "0",
                            "-q",
                            "--no-verify",
                        ]
                        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
                        if done.returncode:
                            raise SystemExit(f"{name} {transport}/{mode}: {done.stderr[-2000:]}")
                        spent = (cpu_seconds(pid) - before) / n * 1e6
                        samples.setdefault((transport, mode, name), []).append(spent)
    print(f"server CPU per number (µs), {args.runs} runs each, --db null:, bench client on aioquic")
    for transport, mode, _, n in CASES:
        aioquic, qh3 = samples[transport, mode, "aioquic"], samples[transport, mode, "qh3"]
        ratios = [a / b for a, b in zip(aioquic, qh3, strict=True) if b > 0]
        print(
            f"{transport}/{mode:14} N={n:<6} aioquic {statistics.median(aioquic):6.1f} "
            f"({min(aioquic):.1f}..{max(aioquic):.1f})  qh3 {statistics.median(qh3):6.1f} "
            f"({min(qh3):.1f}..{max(qh3):.1f})  aioquic/qh3 {statistics.median(ratios):.2f}x "
            f"({min(ratios):.2f}..{max(ratios):.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
