"""Migration fixtures: a migrator over the loaded fixture corpus, the first migration file, a query set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import Settings, SpaceSettings, default_spaces
from app.versioning.declare import Migration, default_folder, load_folder
from app.versioning.engine import Migrator
from app.versioning.validate import QuerySet
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS

OLD = "title.minilm-l6-int8.v1"
NEW = "title.paraphrase-minilm-l3.v2"

# A few judged queries over tests.fixtures.DOCS: enough to run validation for real.
QUERIES = QuerySet(
    name="fixture-canary",
    queries=[("q1", "gene editing with CRISPR"), ("q2", "bread and fermented vegetables"),
             ("q3", "planets around other stars"), ("q4", "leader election in a replicated log")],
    qrels={"q1": {"bio-1": 1}, "q2": {"cook-1": 1, "cook-2": 1}, "q3": {"astro-1": 1}, "q4": {"cs-2": 1}},
)
# On these four queries paraphrase-L3 ranks titles alone about 0.2 nDCG@10 worse than MiniLM-L6, so
# the gate (which holds the space alone to the margin too) refuses it at the default margin; tests
# of other behaviour promote with this margin, tests of the gate use the default.
WIDE = 1.0


@pytest.fixture
def settings(store_kind: str, tmp_path: Path, model_cache: Path) -> Settings:
    """An install made before the shared defaults (every dense space on the separate pass, title v1):
    migrations/0001, the subject of these tests, applies to it. A new install starts past 0001
    (tests/migrations/test_shared_backbone.py)."""
    return make_settings(store_kind, tmp_path, model_cache, spaces=default_spaces("separate"))


@pytest.fixture
def migration() -> Migration:
    """migrations/0001_title_paraphrase_l3.py, as the operator would apply it."""
    return load_folder(default_folder())[0]


def migrator_of(services: Services) -> Migrator:
    """The migrator the composition root built with the services."""
    return services.migrator


# Three spaces (two models) keep the step tests quick; the live-swap test uses the full `loaded` corpus.
SMALL_SPACES = [
    SpaceSettings(name="title", field="title", kind="dense", model="minilm-l6-int8"),
    SpaceSettings(name="summary", field="summary", kind="dense", model="minilm-l6-int8"),
    SpaceSettings(name="keywords", field="keywords", kind="sparse", model="bm25"),
]


def indexed_corpus(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool,
                   spaces: list[SpaceSettings]) -> Iterator[Services]:
    """The fixture corpus on either adapter, indexed in `spaces` (a fixture's body: yields, then closes)."""
    svc = build_services(make_settings(store_kind, tmp_path, model_cache, spaces=spaces), encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS))
    yield svc
    svc.close()


@pytest.fixture
def corpus(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    """The fixture corpus on either adapter, indexed in the title, summary and keywords spaces."""
    yield from indexed_corpus(store_kind, tmp_path, model_cache, encoders, SMALL_SPACES)


@pytest.fixture
def migrator(corpus: Services) -> Migrator:
    return migrator_of(corpus)


def snapshot(m: Migrator) -> dict[str, object]:
    """Everything a step may change: registry, vectors, tags, applied migrations, verdicts, alias, marker."""
    physical = m.registry.physical()
    return {
        "registry": m.store.get_meta(m.registry.key),
        "specs": m.store.vector_specs(physical),
        "tagged": {v: m.coverage(v).covered for v in (OLD, NEW)},
        "applied": m.applied(),
        "verdict": m.store.get_meta(f"validation:{m.alias}:{NEW}"),
        "alias": physical,
        "rebuild": m.registry.rebuild(),
        "collections": m.store.list_collections(),
    }


@pytest.fixture
def cli_settings(tmp_path: Path, model_cache: Path, encoders: EncoderPool, monkeypatch: pytest.MonkeyPatch
                 ) -> Settings:
    """An edge data folder with the fixture corpus, the environment pointing Settings() (and so
    `scripts/migrate`) at it, and a migrations folder holding 0001 only: the CLI flows walk that one
    migration; later files in migrations/ are not their subject."""
    import json
    import shutil

    from app.versioning import cli

    s = make_settings("edge", tmp_path, model_cache, spaces=SMALL_SPACES)
    svc = build_services(s, encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS))
    svc.close()
    monkeypatch.setenv("MULTIVEC_STORE__PATH", str(s.store.path))
    monkeypatch.setenv("MULTIVEC_ENCODERS__CACHE_DIR", str(model_cache))
    monkeypatch.setenv("MULTIVEC_SPACES", json.dumps([sp.model_dump() for sp in SMALL_SPACES]))
    monkeypatch.delenv("MULTIVEC_STORE__URL", raising=False)
    monkeypatch.delenv("MULTIVEC_SERVICE_URL", raising=False)
    folder = tmp_path / "migrations"
    folder.mkdir()
    shutil.copy(default_folder() / "0001_title_paraphrase_l3.py", folder)
    monkeypatch.setattr(cli, "default_folder", lambda: folder)
    return s
