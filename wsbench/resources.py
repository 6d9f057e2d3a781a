"""Where the page, its scripts and schema.sql are: beside the package in a checkout, inside it when
installed."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# A wheel carries the top-level files in wsbench/data/ (pyproject.toml's force-include).
_PLACES = (PACKAGE / "data", PACKAGE.parent)


def resource(name: str) -> Path:
    """The path of ``websocket.html``, ``page`` or ``schema.sql``, installed or in the checkout."""
    for place in _PLACES:
        if (place / name).exists():
            return place / name
    return PACKAGE.parent / name  # a checkout missing the file: the error will name this path


def page_scripts(directory: Path) -> dict[str, bytes]:
    """Every ``*.js`` file directly in ``directory`` (none if it is missing), by file name."""
    return {
        path.name: path.read_bytes() for path in sorted(directory.glob("*.js")) if path.is_file()
    }


PAGE = resource("websocket.html")
PAGE_SCRIPTS = resource("page")  # the directory of the page's <script src="page/…"> files
SCHEMA = resource("schema.sql")
