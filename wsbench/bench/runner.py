"""One benchmark, once configured: ask the server what it is, run every case interleaved, check
every run's rows, report."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Sequence
from typing import Any

import aiohttp
from tqdm import tqdm

from .. import __version__
from ..vocabulary import StoreKind
from .models import BenchError, CaseResult, verify_rows
from .report import Output, report, sample_line, write_json
from .server_api import count_rows, fetch_info, fetch_peak_rss, session
from .settings import BenchConfig, with_port
from .transports import drivers, short_name

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


async def measure(
    config: BenchConfig, info: dict[str, Any], http_url: str, output: Output
) -> list[CaseResult]:
    """Run every case warmup + runs times, interleaved; verify each repetition's rows."""
    results = {case: CaseResult(case) for case in config.cases}
    drivers_of = drivers(config, info, http_url)
    missing = {case.transport for case in config.cases} - set(drivers_of)
    if missing:
        raise BenchError(
            f"the server offers no {', '.join(sorted(missing))}: HTTP/2 needs its --tls, "
            "HTTP/3 and WebTransport its --tls and an --h3-port (h3_port in its GET /info)"
        )
    session_id = secrets.token_hex(4)
    progress = output.progress if output.bar is not None else None
    cases = list(config.cases)
    async with session(aiohttp.ClientTimeout(total=60), config.ssl_context()) as client:
        for index in range(config.warmup + config.runs):
            warm = index < config.warmup
            label = (
                f"warm-up {index + 1}" if warm else f"run {index - config.warmup + 1}/{config.runs}"
            )
            for case in cases if index % 2 == 0 else cases[::-1]:
                if output.bar is not None:
                    output.bar.set_description(f"{case.label} {label}")
                run_ids = [
                    f"{config.run_prefix}-{session_id}-{short_name(case)}"
                    f"-{'w' if warm else 'r'}{index}-c{connection}"
                    for connection in range(case.c)
                ]
                sample = await drivers_of[case.transport].measure(case, run_ids, progress)
                if config.verify:
                    counts = await count_rows(client, http_url, run_ids)
                    verification = verify_rows(sample.acked_by_run, counts)
                    sample.rows = verification.status
                    if not verification.ok:
                        raise BenchError(f"{case.label} {label}: {verification.note}")
                output.chatter(sample_line(case, label, sample))
                for message in sample.error_messages[:3]:
                    output.chatter(f"  error: {message}")
                if not warm:
                    results[case].samples.append(sample)
    return list(results.values())


async def bench(config: BenchConfig, argv: Sequence[str], output: Output) -> int:
    """Ask the server what it is, measure every case, report; return the exit status."""
    where = config.http or config.http_base
    try:
        info = await fetch_info(where, config.ssl_context())
    except aiohttp.ClientConnectorCertificateError as exc:
        print(
            f"the server at {where} showed a certificate this machine does not trust "
            f"({exc.certificate_error}): pass --tls-ca FILE with the certificate the server logs, "
            "or --insecure for a self-signed one on loopback",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except (aiohttp.ClientError, OSError, TimeoutError, BenchError, ValueError) as exc:
        print(
            f"cannot reach the server at {where}/info: {exc or type(exc).__name__}; "
            "is `python websocket_server.py` running, and is --server right?"
            + (
                " Behind --link the server is reached at this machine's end of the link: "
                "start it with --host 0.0.0.0"
                if config.link
                else ""
            ),
            file=sys.stderr,
        )
        return EXIT_USAGE
    http_url = (config.http or with_port(config.http_base, info["http_port"])).rstrip("/")
    commit = f"{info.get('commit')} commit"
    store = " ".join(str(part) for part in (info.get("store"), info.get("target")) if part)
    output.result(
        f"wsbench {__version__} bench: {config.server} and {http_url}, store {store}, {commit}"
    )
    if config.link:
        output.result(f"through the emulated link {config.link.describe()}")
    n_text = f"N={config.n}" + (f" (HTTP {config.nhttp})" if config.nhttp != config.n else "")
    output.result(
        f"{n_text} numbers per connection, C={config.c}, {config.runs} runs per case after "
        f"{config.warmup} warm-up, interleaved; medians with (min..max)"
        + (f"; window {config.window}" if config.window else "")
    )
    if info.get("store") == StoreKind.NULL and config.verify:
        output.result("note: the server stores nothing (--db null:), so rows cannot be verified")
    if output.interactive:
        total = sum(case.n * case.c for case in config.cases) * (config.warmup + config.runs)
        output.bar = tqdm(total=total, unit="num", unit_scale=True, file=sys.stderr, leave=False)
    try:
        results = await measure(config, info, http_url, output)
    except BenchError as exc:
        output.close_bar()
        print(f"\nERROR: {exc}", file=sys.stderr)
        print("The benchmark stopped: its numbers would not mean anything.", file=sys.stderr)
        return EXIT_FAILED
    except (aiohttp.ClientError, OSError, TimeoutError, RuntimeError) as exc:
        output.close_bar()
        print(f"\nERROR: the benchmark could not finish: {exc!r}", file=sys.stderr)
        return EXIT_FAILED
    output.close_bar()
    pairs = report(results, output)
    peak_rss = await fetch_peak_rss(http_url, config.ssl_context())
    if peak_rss is not None:
        output.result(
            f"server peak RSS: {peak_rss / 2**20:.0f} MiB (wsbench_peak_rss_bytes from /metrics; "
            "with --workers, the sum over the workers)"
        )
    if config.json:
        info = {**info, "peak_rss_bytes": peak_rss}
        write_json(config.json, config, argv, info, results, pairs, http_url)
        output.chatter(f"raw samples and environment written to {config.json}")
    errors = sum(result.errors for result in results)
    if errors:
        print(
            f"ERROR: {errors} numbers were not acked (see the errors column"
            f"{' and the JSON' if config.json else ''}): the server rejected or lost them",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK
