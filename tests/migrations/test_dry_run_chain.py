"""A dry run of `apply` reports exactly what the real run does: every migration of the chain, each
change, as if the ones before it were applied; and it writes nothing."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services
from app.errors import Conflict
from app.versioning.cli import Remote, main
from app.versioning.declare import Migration, ancestry, default_folder, load_folder
from app.versioning.engine import Migrator
from tests.migrations.conftest import NEW, QUERIES, snapshot
from tests.migrations.test_backfill_limit import REBUILD

TOKEN = "operator-secret"


def splade_chain() -> list[Migration]:
    folder = load_folder(default_folder())
    return ancestry(folder, next(m for m in folder if m.revision == "0008"))


def test_dry_run_of_a_chain_lists_what_the_real_run_then_does(migrator: Migrator) -> None:
    chain = splade_chain()
    before = snapshot(migrator)
    dry = migrator.apply_all(chain, dry_run=True)
    assert snapshot(migrator) == before and migrator.store.count(migrator.registry.physical()) == 11
    assert [r.target for r in dry] == [m.label for m in chain] and all(r.dry_run for r in dry)
    assert any(a.startswith("add named vector splade.splade-tiny.v1") for a in dry[2].actions)
    assert any(a.startswith("add named vector keywords.bm25-multilingual.v2") for a in dry[1].actions)
    plan = migrator.plan(chain)
    assert plan.actions == [f"{r.target}: {a}" for r in dry for a in r.actions]
    real = [migrator.apply(m) for m in chain]
    assert [(r.target, r.actions, r.notes) for r in real] == [(r.target, r.actions, r.notes) for r in dry]


def test_dry_run_of_a_chain_stops_where_the_real_run_would_be_refused(migrator: Migrator) -> None:
    first = splade_chain()[0]
    before = snapshot(migrator)
    dry = migrator.apply_all([first, REBUILD], dry_run=True)
    assert snapshot(migrator) == before
    assert dry[0].actions and "still being built" in dry[1].data["refused"]
    migrator.apply(first)
    with pytest.raises(Conflict, match="still being built"):  # the real run: the same refusal
        migrator.apply(REBUILD)


def test_migrate_apply_dry_run_through_the_service_shows_every_migration(
        corpus: Services, migrator: Migrator, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(migrator)
    settings = corpus.settings.model_copy(update={"admin_token": TOKEN})
    with TestClient(create_app(settings, services=corpus)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        backend = Remote("http://testserver", None, client=client)
        assert main(["--url", "http://testserver", "--dir", str(default_folder()), "apply", "0008", "--dry-run"],
                    backend=backend) == 0
    out = capsys.readouterr().out
    assert snapshot(migrator) == before
    for m in splade_chain():
        assert f"apply {m.label}  (dry run: nothing written)" in out
    assert "would: add named vector splade.splade-tiny.v1" in out
    assert "would: record 0008_splade_space as applied" in out


def test_backfill_and_validate_dry_runs_list_the_registry_writes_the_real_runs_make(
        migrator: Migrator, migration: Migration) -> None:
    migrator.apply(migration)
    dry, real = migrator.backfill(dry_run=True), migrator.backfill()
    marks = [f"mark {NEW} backfilling", f"mark {NEW} ready: all 11 points have it"]
    assert [a for a in dry.actions if a.startswith("mark")] == marks
    assert [a for a in real.actions if a.startswith("mark")] == marks
    dry, real = migrator.validate(None, QUERIES, dry_run=True), migrator.validate(None, QUERIES)
    assert dry.actions[-1].startswith(f"store the verdict for {NEW}")
    assert real.actions[-1].startswith(f"store the verdict for {NEW}")
