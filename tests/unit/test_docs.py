"""The docs held to the code: every server flag, page mode, protocol, metric and module is
documented where a reader looks for it, every relative link resolves, and the README stays short
and its commands run as written. Reads files only: no database, no browser, no server."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

from wsbench.server.config import build_parser
from wsbench.server.metrics import Metrics
from wsbench.vocabulary import PageMode, Transport

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGE = ROOT / "page"
README_MAX_BYTES = 12 * 1024  # a first screen and a page or two: the rest belongs in docs/


@cache
def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def in_code(name: str, document: str) -> bool:
    """Whether ``name`` appears in ``document`` as code: after a backtick, and not as the start of
    a longer name (`--tls` is not `--tls-cert`)."""
    return re.search(rf"`{re.escape(name)}(?![\w-])", document) is not None


def missing(names: set[str], document: Path) -> list[str]:
    return sorted(name for name in names if not in_code(name, text(document)))


# The server's flags ----------------------------------------------------------------------------


def server_flags() -> set[str]:
    """Every option string of the server's parser, but --help."""
    flags = {flag for action in build_parser()._actions for flag in action.option_strings}
    return flags - {"-h", "--help"}


def test_every_server_flag_is_in_options_md() -> None:
    flags = server_flags()
    assert "--tls" in flags and "--db" in flags, f"the parser's flags were not read: {flags}"
    gaps = missing(flags, DOCS / "options.md")
    assert not gaps, (
        f"flags of wsbench.server.config.build_parser() missing from docs/options.md: {gaps}"
    )


# The page's modes and protocols ----------------------------------------------------------------

# registerMode("transport/mode", ...), or registerMode(`...${x}...`, ...) inside a helper.
LITERAL_MODE = re.compile(r'registerMode\(\s*"([^"]+)"')
TEMPLATE_MODE = re.compile(r"registerMode\(\s*`([^`]+)`")
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# The helper a template sits in: `function name(params)` or `const name = (params) =>`.
HELPER = re.compile(r"function\s+(\w+)\s*\(([^)]*)\)|const\s+(\w+)\s*=\s*\(([^)]*)\)\s*=>")
# What a run reports as its protocol: `protocol: "h2"` (a version's spec, a result's fields) or
# `result.protocol = "websocket"`.
PROTOCOL = re.compile(r'\bprotocol:\s*"([^"]+)"|\.protocol\s*=\s*"([^"]+)"')


def expand(template: str, script: str, at: int) -> set[str]:
    """The mode ids a template registers: each ``${...}`` is either a choice of string literals
    (``cond ? "a" : "b"``) or the first parameter of the helper the template is in, which the
    script then calls with a string literal (``registerHttp("http2", ...)``)."""
    helpers = list(HELPER.finditer(script, 0, at))
    ids = {""}
    for part in re.split(r"(\$\{[^}]*\})", template):
        placeholder = PLACEHOLDER.fullmatch(part)
        if not placeholder:
            ids = {prefix + part for prefix in ids}
            continue
        expression = placeholder.group(1).strip()
        choices = set(re.findall(r'"([^"]*)"', expression))
        if not choices:
            assert helpers, f"registerMode(`{template}`) sits in no helper whose calls name it"
            helper = helpers[-1]
            name = helper.group(1) or helper.group(3)
            params = [p.strip() for p in (helper.group(2) or helper.group(4) or "").split(",")]
            assert params[:1] == [expression], (
                f"cannot tell which modes registerMode(`{template}`) registers: ${{{expression}}} "
                f"is not the first parameter of {name}(); teach tests/unit/test_docs.py"
            )
            choices = set(re.findall(rf'\b{name}\(\s*"([^"]*)"', script))
            assert choices, f"{name}() is never called with a string: its modes cannot be read"
        ids = {prefix + choice for prefix in ids for choice in choices}
    return ids


@cache
def page_modes() -> frozenset[str]:
    """Every mode id the page's scripts register."""
    ids: set[str] = set()
    for script_path in sorted(PAGE.glob("*.js")):
        script = text(script_path)
        ids |= set(LITERAL_MODE.findall(script))
        for match in TEMPLATE_MODE.finditer(script):
            ids |= expand(match.group(1), script, match.start())
    return frozenset(ids)


def page_protocols() -> set[str]:
    """Every protocol value a result of the page reports."""
    found = set()
    for script_path in sorted(PAGE.glob("*.js")):
        for match in PROTOCOL.finditer(text(script_path)):
            found.add(match.group(1) or match.group(2))
    return found


def test_the_mode_parser_finds_every_mode_of_the_vocabulary() -> None:
    """PageMode lists the page's modes for the Python side: the parser must find them all, or
    the test below would check too little."""
    unread = sorted(set(PageMode) - page_modes())
    assert not unread, f"modes in wsbench.vocabulary.PageMode not found in page/*.js: {unread}"
    for mode in page_modes():
        assert re.fullmatch(r"[a-z0-9]+/[a-z0-9-]+", mode), f"not a mode id: {mode!r}"


def test_every_mode_id_and_protocol_is_in_protocol_md() -> None:
    protocols = page_protocols()
    assert {"websocket", "h2"} <= protocols, f"the page's protocols were not read: {protocols}"
    document = DOCS / "protocol.md"
    gaps = missing(set(page_modes()) | set(PageMode), document)
    assert not gaps, f"mode ids the page registers missing from docs/protocol.md: {gaps}"
    # As benchmarkResult.protocol holds them: JSON strings.
    unquoted = sorted(p for p in protocols if f'"{p}"' not in text(document))
    assert not unquoted, (
        f'protocols the page reports missing from docs/protocol.md as "...": {unquoted}'
    )


# Metrics ------------------------------------------------------------------------------------------

GAUGE = re.compile(r'\.gauge\(\s*"(\w+)"')


def exported_metrics() -> tuple[set[str], set[str], set[str]]:
    """The metric names as a scrape shows them (counters with ``_total``), their label names,
    and the values of the ``transport`` label."""
    names, labels, transports = set(), set(), set()
    for family in Metrics().registry.collect():
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
        for sample in family.samples:
            labels |= set(sample.labels) - {"le"}  # le: a histogram's buckets
            if "transport" in sample.labels:
                transports.add(sample.labels["transport"])
    # Gauges that the servers add: metrics.gauge("wsbench_...", ...).
    for module in sorted((ROOT / "wsbench").rglob("*.py")):
        names |= set(GAUGE.findall(text(module)))
    return names, labels, transports


def test_every_metric_label_and_transport_is_in_metrics_md() -> None:
    names, labels, transports = exported_metrics()
    assert "wsbench_numbers_committed_total" in names, f"the metrics were not read: {names}"
    assert transports == set(Transport), f"the transport label's values: {transports}"
    document = DOCS / "metrics.md"
    gaps = missing(names, document)
    assert not gaps, f"metrics the server exports missing from docs/metrics.md: {gaps}"
    unlabelled = sorted(label for label in labels if f"{{{label}}}" not in text(document))
    assert not unlabelled, f"labels missing from docs/metrics.md (as {{label}}): {unlabelled}"
    values = missing(transports, document)
    assert not values, f"values of the transport label missing from docs/metrics.md: {values}"


# Modules ------------------------------------------------------------------------------------------


def project_modules() -> set[str]:
    """Every module of the server's package and every script of the page, as paths."""
    files = [p for p in (ROOT / "wsbench").rglob("*.py") if "__pycache__" not in p.parts]
    files += PAGE.glob("*.js")
    return {p.relative_to(ROOT).as_posix() for p in files}


def test_every_module_is_in_architecture_md() -> None:
    modules = project_modules()
    assert "wsbench/store/failover.py" in modules and "page/http.js" in modules, modules
    document = DOCS / "architecture.md"
    gaps = missing(modules, document)
    assert not gaps, f"modules missing from the layout in docs/architecture.md: {gaps}"
    named = set(re.findall(r"`((?:wsbench|page)/[\w/]+\.(?:py|js))`", text(document)))
    stale = sorted(path for path in named if not (ROOT / path).is_file())
    assert not stale, f"docs/architecture.md names files that do not exist: {stale}"


# Links --------------------------------------------------------------------------------------------

FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+).+?\1")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def without_code(markdown: str) -> str:
    """The text outside fenced blocks and code spans, where links and headings are."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lowercased, punctuation but ``-`` and ``_``
    dropped, spaces made hyphens."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    heading = heading.replace("`", "").replace("*", "")
    kept = "".join(c for c in heading.lower() if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every anchor of a Markdown file: its headings' slugs (the second of a kind gets ``-1``)."""
    markdown = FENCE.sub("", text(path))
    found: set[str] = set(HTML_ANCHOR.findall(markdown))
    seen: dict[str, int] = {}
    for heading in HEADING.findall(markdown):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def documents() -> list[Path]:
    return [README, ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]


def broken_links(document: Path) -> list[str]:
    broken = []
    for target in LINK.findall(without_code(text(document))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
            continue
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target} (no heading with that anchor in {resolved.name})")
    return broken


def test_every_relative_link_and_anchor_resolves() -> None:
    found = {
        document.relative_to(ROOT).as_posix(): broken
        for document in documents()
        if (broken := broken_links(document))
    }
    assert not found, f"links that lead nowhere, by document: {found}"


def test_the_slugs_are_githubs() -> None:
    assert slug("2026-12-01, later: the server's own cost per number") == (
        "2026-12-01-later-the-servers-own-cost-per-number"
    )
    assert slug("HTTP/3 (UDP port 8768, with `--tls`)") == "http3-udp-port-8768-with---tls"
    assert slug("What `--tls` serves") == "what---tls-serves"


# The README ---------------------------------------------------------------------------------------


def test_readme_is_at_most_12_kib() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes, over {README_MAX_BYTES:,}: move details to docs/"
    )


def test_readme_commands_run_as_written() -> None:
    """Debian 12 has no `python` (only `python3`): commands use .venv/bin/python (or make), and
    name files and modules that exist."""
    readme = text(README)
    bare = [line for line in readme.splitlines() if re.search(r"(?<![\w./-])python\s", line)]
    assert not bare, f"README.md runs a bare python (use .venv/bin/python or make): {bare}"
    scripts = set(re.findall(r"\.venv/bin/python\s+([\w/]+\.py)\b", readme))
    assert scripts, "no `.venv/bin/python FILE.py` command found in README.md"
    placeholders = {script for script in scripts if Path(script).stem.isupper()}  # NAME.py
    absent = sorted(s for s in scripts - placeholders if not (ROOT / s).is_file())
    assert not absent, f"README.md runs scripts that do not exist: {absent}"
    for module in set(re.findall(r"\.venv/bin/python\s+-m\s+([\w.]+)", readme)):
        path = ROOT / module.replace(".", "/")
        assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), module
