"""The layers hold: serving code never imports the evaluation harness or the CLIs, no import cycle, only CLIs exit,
no module in app/ over 350 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]

# The outer layer: the evaluation harness and the command-line entry points. Everything else in `app`
# is serving code (or a library of it) and must not import these; listing the outer layer rather than
# the serving packages keeps new packages (app/repos, ...) covered without editing this test.
OUTER = ("app.eval", "app.cli", "app.versioning.cli")


def _graph() -> grimp.ImportGraph:
    graph = grimp.build_graph("app", cache_dir=None)
    here = Path(__import__("app").__file__).resolve().parent
    assert here == ROOT / "app", f"the graph must be built from this checkout, not {here}"
    return graph


def _outer(module: str) -> bool:
    return any(module == o or module.startswith(o + ".") for o in OUTER)


def test_import_linter_contracts_are_kept() -> None:
    """`lint-imports` with the contracts in pyproject.toml ([tool.importlinter]), as CI runs it: in its
    own process, since import-linter reconfigures logging (it disables every logger it did not make)."""
    import subprocess
    import sys

    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--config", str(ROOT / "pyproject.toml"),
                           "--no-cache"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_serving_code_never_imports_the_evaluation_harness_or_a_cli() -> None:
    graph = _graph()
    found = sorted(
        (m, imported)
        for m in graph.modules if not _outer(m)
        for imported in graph.find_modules_directly_imported_by(m) if _outer(imported)
    )
    assert found == [], "serving modules importing the outer layer (app.eval, the CLIs): " + ", ".join(
        f"{m} -> {i}" for m, i in found)


def test_serving_code_never_imports_a_model_fitting_library() -> None:
    """Learned scorers are fitted by the harness (app.eval.learned, scikit-learn) and served as data
    (app.domain.scorer, app.domain.learned): no model library is loaded at search time."""
    graph = grimp.build_graph("app", include_external_packages=True, cache_dir=None)
    fitting = ("sklearn",)
    importers = {lib: graph.find_modules_that_directly_import(lib) for lib in fitting if lib in graph.modules}
    assert importers.get("sklearn"), "the harness fits with scikit-learn: the graph should show who imports it"
    found = sorted((m, lib) for lib, mods in importers.items() for m in mods if not _outer(m))
    assert found == [], f"serving modules importing a fitting library: {found}"


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]


def test_no_import_cycle_inside_app() -> None:
    """Imports inside functions count too: a cycle hidden in a function is still a cycle."""
    assert _cycles(_graph()) == []


def _exits(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, enclosing function) of every `raise SystemExit` and `sys.exit(...)`."""
    out: list[tuple[int, str]] = []

    def walk(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.If) and "__main__" in ast.unparse(child.test):
                name = "main"  # the `if __name__ == "__main__":` guard of a script module
            exc = child.exc if isinstance(child, ast.Raise) else None
            if isinstance(exc, ast.Call):
                exc = exc.func
            if isinstance(exc, ast.Name) and exc.id == "SystemExit":
                out.append((child.lineno, function))
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and child.func.attr == "exit"
                    and isinstance(child.func.value, ast.Name) and child.func.value.id == "sys"):
                out.append((child.lineno, function))
            walk(child, name)

    walk(tree, "<module>")
    return out


@pytest.mark.parametrize("path", sorted((ROOT / "app").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_command_line_entry_points_exit(path: Path) -> None:
    """Library code raises our errors; only a `*cli.py` module, or a script module's `main`, exits."""
    if path.name.endswith("cli.py"):
        return
    exits = [(line, fn) for line, fn in _exits(ast.parse(path.read_text())) if fn != "main"]
    assert exits == [], f"{path.relative_to(ROOT)} exits outside a command-line entry point at lines {exits}"


MAX_MODULE_LINES = 350
# Modules over the limit that other branches are changing right now (splitting them here would collide with that
# work): let through until their owners cut them; the coordinator empties this list. The second test fails once an
# entry is back under the limit, so the list can only shrink.
OVER_LIMIT_FOR_NOW: frozenset[str] = frozenset()


def _module_lines() -> dict[str, int]:
    return {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in sorted((ROOT / "app").rglob("*.py"))}


def test_no_module_in_app_is_over_350_lines() -> None:
    over = {path: n for path, n in _module_lines().items() if n > MAX_MODULE_LINES and path not in OVER_LIMIT_FOR_NOW}
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"


def test_over_limit_list_holds_only_modules_still_over() -> None:
    lines = _module_lines()
    back = sorted(p for p in OVER_LIMIT_FOR_NOW if lines.get(p, 0) <= MAX_MODULE_LINES)
    assert not back, f"at most {MAX_MODULE_LINES} lines now (or gone); remove from OVER_LIMIT_FOR_NOW: {back}"
