"""The layering, read from the imports themselves: no circles, and no layer reaches up.

The shared words at the top (protocol, vocabulary, batching, stats, ...) import nothing of the
project's layers; ``store/`` and ``link/`` import only those; ``bench/`` and ``cluster/`` add the
store and the link; the server adds the store; ``testing/`` may use everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "wsbench"
SHARED = "shared"  # the top-level modules: wsbench/*.py
# What each layer may import, besides itself.
ALLOWED = {
    SHARED: {SHARED},
    "store": {SHARED},
    "link": {SHARED},
    "server": {SHARED, "store"},
    "bench": {SHARED, "store", "link"},
    "cluster": {SHARED, "store", "link"},
    "testing": {SHARED, "store", "link", "server", "bench", "cluster"},
}


def module_name(path: Path) -> str:
    """``wsbench/server/cli.py`` -> ``wsbench.server.cli``; a package's ``__init__``: its name."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the project, by name."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that ``name`` imports, TYPE_CHECKING imports included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from . import tls` names a module; `from .x import f` names a module's member.
            found |= {f"{base}.{alias.name}" for alias in node.names} | {base}
    # A module's own packages are run before it anyway: `from . import x` is no import of them.
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return {module for module in found if module in known and module not in {name, *ancestors}}


def layer(name: str) -> str:
    """``wsbench.server.cli`` -> ``server``; ``wsbench.protocol`` and ``wsbench`` -> shared."""
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else SHARED


def graph() -> dict[str, set[str]]:
    """Each module and the project's modules it imports."""
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def test_the_graph_is_read() -> None:
    imports = graph()
    assert {"wsbench.server.service", "wsbench.server.tls"} <= imports["wsbench.server.cli"]
    assert "wsbench.store.url" in imports["wsbench.server.config"]


def test_no_layer_imports_one_above_it() -> None:
    wrong = [
        f"{name} ({layer(name)}) imports {imported} ({layer(imported)})"
        for name, imported_set in graph().items()
        for imported in sorted(imported_set)
        if layer(imported) != layer(name) and layer(imported) not in ALLOWED[layer(name)]
    ]
    assert not wrong, "\n".join(wrong)


def test_every_module_belongs_to_a_layer() -> None:
    assert {layer(name) for name in graph()} <= set(ALLOWED)


def test_the_imports_form_no_circle() -> None:
    imports = graph()
    state: dict[str, str] = {}
    circles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for imported in sorted(imports[name]):
            if state.get(imported) == "open":
                circles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[name] = "done"

    for name in sorted(imports):
        if name not in state:
            visit(name, [name])
    assert not circles, "\n".join(" -> ".join(circle) for circle in circles)


@pytest.mark.parametrize(
    ("name", "source", "problem"),
    [
        ("wsbench.link.x", "from ..bench import stats\n", "link imports bench"),
        ("wsbench.store.x", "from ..server.config import Config\n", "store imports server"),
    ],
)
def test_a_wrong_import_would_be_seen(tmp_path: Path, name: str, source: str, problem: str) -> None:
    path = tmp_path / "x.py"
    path.write_text(source)
    known = set(modules())
    (imported,) = imports_of(name, path, known)
    assert layer(imported) not in ALLOWED[layer(name)], problem
