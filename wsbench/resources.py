"""Where the page and schema.sql are: beside the package in a checkout, inside it when installed."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# A wheel carries the top-level files in wsbench/data/ (pyproject.toml's force-include).
_PLACES = (PACKAGE / "data", PACKAGE.parent)


def resource(name: str) -> Path:
    """The path of ``websocket.html`` or ``schema.sql``, installed or in the checkout."""
    for place in _PLACES:
        if (place / name).is_file():
            return place / name
    return PACKAGE.parent / name  # a checkout missing the file: the error will name this path


PAGE = resource("websocket.html")
SCHEMA = resource("schema.sql")
