"""The layout the architecture promises: the core free of the edge, no import cycles, small modules.

These read the source (every ``import``, at any depth, including ``TYPE_CHECKING`` blocks and
imports inside functions: a cycle hidden in a function is still a cycle) rather than importing it,
so they name the exact file and line that breaks a rule.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

import ctilink

ROOT = Path(ctilink.__file__).parent
EDGE = ("ctilink.esl", "ctilink.service", "ctilink.store", "ctilink.sim")
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 60  # def line to last line, docstring included


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str) -> list[tuple[str, int]]:
    """Every ctilink module ``name`` imports, with the line, resolved to a module in MODULES."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("ctilink") and target != name and target != "ctilink":
                found.append((target, node.lineno))
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def test_every_core_module_imports_nothing_from_the_edge() -> None:
    core = [m for m in MODULES if m == "ctilink.core" or m.startswith("ctilink.core.")]
    assert len(core) > 10
    bad = [
        f"{MODULES[m].relative_to(ROOT.parent)}:{line} imports {target}"
        for m in core
        for target, line in GRAPH[m]
        if target.startswith(EDGE)
    ]
    assert bad == []


def test_the_core_imports_cleanly_without_the_edge_loaded() -> None:
    # Importing every core module in a fresh interpreter must not pull an edge package in.
    code = (
        "import importlib, pkgutil, sys, ctilink.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'ctilink.core.'): importlib.import_module(m.name)\n"
        f"print(sorted(n for n in sys.modules if n.startswith({EDGE!r})))\n"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_dialer_imports_nothing_from_the_edge() -> None:
    dialer = [m for m in MODULES if m.startswith("ctilink.dialer")]
    bad = [f"{m}:{line} imports {t}" for m in dialer for t, line in GRAPH[m] if t.startswith(EDGE)]
    assert bad == []


def _cycles() -> list[list[str]]:
    # Tarjan's strongly connected components over the whole package's import graph; the package
    # roots (``ctilink``, ``ctilink.core`` ...) re-export for users and are left out as importers.
    edges = {m: sorted({t for t, _ in GRAPH[m]}) for m in MODULES if MODULES[m].name != "__init__.py"}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, []):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_inside_ctilink() -> None:
    # The engine's rooms are layered, each importing only the ones below it; so is the edge.
    assert _cycles() == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_800_lines(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} is {lines} lines"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_function_is_over_60_lines(name: str) -> None:
    # (Complexity and statement counts are ruff's C901 / PLR0915, configured in pyproject.toml.)
    path = MODULES[name]
    long = [
        f"{node.name} (line {node.lineno}): {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_every_module_imports() -> None:
    for m in pkgutil.walk_packages(ctilink.__path__, "ctilink."):
        importlib.import_module(m.name)
