"""The import graph of `app` has no cycle (grimp reads every import, in functions and TYPE_CHECKING blocks too)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# grimp comes with import-linter (the import contract in CI); without it this check says why it did not run
grimp = pytest.importorskip("grimp", reason="grimp (installed with import-linter) is not installed")

ROOT = Path(__file__).resolve().parents[2]


def test_app_has_no_import_cycle() -> None:
    sys.path.insert(0, str(ROOT))  # this checkout's `app`, not an installed one
    try:
        graph = grimp.build_graph("app", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    cycles = sorted({tuple(sorted((m, imported))) for m in graph.modules
                     for imported in graph.find_modules_directly_imported_by(m)
                     if graph.chain_exists(importer=imported, imported=m)})
    assert not cycles, [" <-> ".join(c) for c in cycles]
