"""The architecture holds: layers import one way, nothing imports in a circle, Streamlit stays in
the app, pages stay thin, and no module or function grows past its size.

Layers, bottom up (docs/architecture.md):
  0 backends.format      the artifact format: imports nothing of ours
  1 backends             compute backends
  2 workbench.core       sources, tables, scaling, pipeline, streaming
  3 workbench.analysis   analysis (never imports runs)
  3 workbench.runs       the run store, writer and readers
  4 workbench.charts     chart builders
  5 workbench.cli, workbench.app, workbench.streamlit_app, workbench.__main__
Every import counts, including those inside functions.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("backends", "workbench")
LAYERS = (
    ("backends.format", 0),
    ("backends", 1),
    ("workbench.core", 2),
    ("workbench.analysis", 3),
    ("workbench.runs", 3),
    ("workbench.charts", 4),
    ("workbench.cli", 5),
    ("workbench.app", 5),
    ("workbench.streamlit_app", 5),
    ("workbench.__main__", 5),
)
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
PAGE_FORBIDDEN = ("numpy", "pandas", "scipy", "sklearn")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_files() -> list[Path]:
    return sorted(p for root in PRODUCT for p in (REPO / root).rglob("*.py"))


MODULES = {module_name(p): p for p in product_files()}


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it, resolved to the longest known module name."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def ours(name: str) -> str | None:
    """The product module an import names (a package's submodule when it names one), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def layer(name: str) -> int | None:
    for prefix, rank in LAYERS:
        if name == prefix or name.startswith(prefix + "."):
            return rank
    return None


GRAPH = {name: {t for imp in imports_of(path) if (t := ours(imp)) and t != name} for name, path in MODULES.items()}


def test_every_product_module_has_a_layer():
    assert [name for name in MODULES if name not in ("backends", "workbench") and layer(name) is None] == []


def test_imports_go_one_way_down_the_layers():
    wrong = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
             for a, targets in GRAPH.items() for b in targets
             if layer(a) is not None and layer(b) is not None and layer(b) > layer(a)]
    assert wrong == []


def test_analysis_never_imports_runs():
    wrong = [f"{a} imports {b}" for a, targets in GRAPH.items() for b in targets
             if a.startswith("workbench.analysis") and b.startswith("workbench.runs")]
    assert wrong == []


def test_backends_import_nothing_of_the_workbench():
    wrong = [f"{a} imports {b}" for a, targets in GRAPH.items() for b in targets
             if a.startswith("backends") and b.startswith("workbench")]
    assert wrong == []


def test_no_import_cycles():
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_streamlit_is_imported_only_by_the_app():
    wrong = [name for name, path in MODULES.items()
             if any(i == "streamlit" or i.startswith("streamlit.") for i in imports_of(path))
             and not (name.startswith("workbench.app") or name == "workbench.streamlit_app")]
    assert wrong == []


def test_pages_import_no_numerical_library():
    pages = [p for p in (REPO / "workbench" / "app" / "pages").glob("*.py") if p.name != "__init__.py"]
    assert pages, "the app's pages live in workbench/app/pages"
    wrong = [f"{p.name} imports {i}" for p in pages for i in sorted(imports_of(p))
             if i.split(".")[0] in PAGE_FORBIDDEN]
    assert wrong == []


def test_no_context_variables():
    wrong = [name for name, path in MODULES.items() if "contextvars" in imports_of(path) or "ContextVar" in path.read_text()]
    assert wrong == []


@pytest.mark.parametrize("path", product_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_modules_and_functions_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{lines} lines; split it by concern"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []
