"""Each migration step on both store adapters: preconditions, dry runs, re-runs, the gate, retire."""

from __future__ import annotations

from typing import Any

import pytest

from app.container import Services, build_migrator
from app.domain.gates import Verdict
from app.errors import Conflict
from app.services.search import SearchRequest
from app.versioning.declare import Migration
from app.versioning.engine import Migrator
from app.versioning.steps import TAGS
from tests.conftest import to_documents
from tests.migrations.conftest import NEW, OLD, QUERIES, WIDE, migrator_of, snapshot


def test_apply_adds_the_vector_and_ingest_shadow_writes_it(corpus: Services, migrator: Migrator,
                                                           migration: Migration) -> None:
    migrator.apply(migration)
    assert NEW in corpus.store.vector_specs(corpus.registry.physical())
    reg = corpus.registry.get()
    assert reg.find(NEW).status == "shadow" and reg.space("title").live == OLD
    corpus.ingest.upsert(to_documents([{"id": "new-1", "title": "Tidal locking of moons", "body": "Moons."}]))
    [point] = corpus.store.retrieve(corpus.registry.alias, [_pid("new-1")], with_vectors=[NEW])
    assert NEW in point.vectors and NEW in point.payload[TAGS]
    assert migrator.coverage(NEW).covered == 1  # the new document; the eleven old ones wait for backfill


def test_dry_run_changes_nothing_at_any_step(migrator: Migrator, migration: Migration) -> None:
    before = snapshot(migrator)
    assert migrator.apply(migration, dry_run=True).actions
    assert snapshot(migrator) == before
    migrator.apply(migration)
    before = snapshot(migrator)
    dry = migrator.backfill(dry_run=True)
    assert any("encode 11 of 11 points" in a for a in dry.actions)
    assert migrator.validate(None, QUERIES, dry_run=True, force=True).actions
    assert snapshot(migrator) == before
    migrator.backfill()
    migrator.validate(None, QUERIES)
    before = snapshot(migrator)
    assert migrator.promote(margin=WIDE, dry_run=True).actions
    assert snapshot(migrator) == before
    migrator.promote(margin=WIDE)
    before = snapshot(migrator)
    assert migrator.rollback(dry_run=True).actions
    assert migrator.retire(grace_s=0, dry_run=True).actions
    assert snapshot(migrator) == before


def test_rerunning_a_step_is_a_no_op(migrator: Migrator, migration: Migration) -> None:
    steps: list[tuple[str, Any]] = [
        ("apply", lambda: migrator.apply(migration)),
        ("backfill", lambda: migrator.backfill(batch=4)),
        ("validate", None),
        ("promote", lambda: migrator.promote(margin=WIDE)),
        ("retire", lambda: migrator.retire(grace_s=0)),
    ]
    for name, step in steps:
        if step is None:
            migrator.validate(None, QUERIES)
            continue
        assert step().changed, name
        state = snapshot(migrator)
        again = step()
        assert not again.changed and not again.actions, (name, again.actions)
        assert snapshot(migrator) == state, name
    # after retire there is no previous version: rollback is refused (exit 2), changing nothing
    with pytest.raises(Conflict, match="nothing to roll back to"):
        migrator.rollback()


def test_promote_is_refused_below_full_coverage_unless_forced(migrator: Migrator, migration: Migration) -> None:
    migrator.apply(migration)
    migrator.backfill(batch=4, max_points=4)
    assert migrator.coverage(NEW).covered == 4
    migrator.validate(None, QUERIES, force=True)  # validation itself needs --force below 100 %
    with pytest.raises(Conflict, match=r"coverage is 4/11"):
        migrator.promote()
    assert migrator.registry.get().space("title").live == OLD
    forced = migrator.promote(force=True)
    assert any("forced past: coverage" in n for n in forced.notes)
    assert migrator.registry.get().space("title").live == NEW


def test_promote_is_refused_when_validation_finds_it_worse_than_the_margin(migrator: Migrator,
                                                                          migration: Migration) -> None:
    migrator.apply(migration)
    migrator.backfill()
    with pytest.raises(Conflict, match="run validate first"):
        migrator.promote()
    migrator.records.save_verdict(Verdict(target=NEW, metric="fused nDCG@10", baseline=0.70, candidate=0.60,
                                          overlap=0.5, queries=100))
    with pytest.raises(Conflict, match=r"worse than live 0\.7000 by 0\.1000"):
        migrator.promote(margin=0.05)
    assert migrator.registry.get().space("title").live == OLD
    assert migrator.promote(margin=0.15).changed  # within a wider margin
    migrator.rollback()
    assert migrator.promote(margin=0.05, force=True).changed


def test_validate_compares_live_and_candidate_and_stores_the_verdict(migrator: Migrator,
                                                                     migration: Migration) -> None:
    migrator.apply(migration)
    with pytest.raises(Conflict, match="backfill to 100 %"):
        migrator.validate(None, QUERIES)
    migrator.backfill()
    report = migrator.validate(None, QUERIES).data["report"]
    assert report["queries"] == 4 and report["judged"] == 4
    assert set(report["modes"]) == {"space", "fused"}
    for mode in report["modes"].values():
        assert 0.0 <= mode["overlap@10"] <= 1.0
        assert 0.0 < mode["ndcg@10"]["baseline"] <= 1.0 and 0.0 < mode["ndcg@10"]["candidate"] <= 1.0
    verdict = migrator.records.verdict(NEW)
    assert verdict is not None and verdict.judged and verdict.queries == 4


def test_promote_and_rollback_move_the_live_pointer_searches_follow(corpus: Services, migrator: Migrator,
                                                                    migration: Migration) -> None:
    migrator.apply(migration)
    migrator.backfill()
    migrator.validate(None, QUERIES)

    def title_vector() -> str:
        plan = corpus.search.search(SearchRequest(query="sourdough", explain=True, fields=["title"])).plan or {}
        [title] = [s["vector"] for s in plan["spaces"] if s["space"] == "title"]
        return str(title)

    assert title_vector() == OLD
    migrator.promote(margin=WIDE)
    assert title_vector() == NEW
    reg = corpus.registry.get()
    assert reg.space("title").previous == OLD and reg.find(OLD).status == "ready"  # still written
    migrator.rollback()
    assert title_vector() == OLD and corpus.registry.get().find(NEW).status == "ready"
    migrator.promote(margin=WIDE)
    assert title_vector() == NEW


def test_retire_before_a_promote_says_it_would_abandon_the_migration(corpus: Services, migrator: Migrator,
                                                                      migration: Migration) -> None:
    migrator.apply(migration)
    migrator.backfill()  # the new version is ready, never live: retiring it abandons the migration
    with pytest.raises(Conflict, match=r"grace period not over.*would abandon this migration"):
        migrator.retire()
    assert NEW in corpus.store.vector_specs(corpus.registry.physical())  # nothing deleted


def test_retire_waits_for_grace_then_deletes_the_old_named_vector(corpus: Services, migrator: Migrator,
                                                                  migration: Migration) -> None:
    migrator.apply(migration)
    migrator.backfill()
    migrator.validate(None, QUERIES)
    migrator.promote(margin=WIDE)
    with pytest.raises(Conflict, match="grace period not over"):
        migrator.retire()  # default grace: 24 h
    physical = corpus.registry.physical()
    assert OLD in corpus.store.vector_specs(physical)
    done = migrator.retire(grace_s=3600, force=True)
    assert any("forced past: grace period" in n for n in done.notes)
    assert OLD not in corpus.store.vector_specs(physical)
    reg = corpus.registry.get()
    assert reg.find(OLD).status == "retired" and reg.space("title").previous is None
    assert OLD not in [v.name for v in reg.written_versions()]
    with pytest.raises(Conflict, match="nothing to roll back to"):  # nothing left to roll back to
        migrator.rollback()
    hits = corpus.search.search(SearchRequest(query="sourdough bread", fields=["title"])).hits
    assert hits[0]["id"] == "cook-1"
    corpus.ingest.upsert(to_documents([{"id": "after", "title": "After retirement", "body": "Still written."}]))
    [point] = corpus.store.retrieve(physical, [_pid("after")], with_vectors=True)
    assert OLD not in point.payload[TAGS] and NEW in point.vectors


def test_a_crash_between_vector_and_tag_is_repaired_by_the_next_run(corpus: Services, migration: Migration) -> None:
    class CrashOnSecondTag:
        """The real store, but the second tag write dies (as a process would, mid-batch)."""

        def __init__(self, store: Any) -> None:
            self._store, self.tags = store, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self._store, name)

        def set_payload(self, *args: Any, **kwargs: Any) -> None:
            self.tags += 1
            if self.tags == 2:
                raise RuntimeError("killed between vector and tag")
            self._store.set_payload(*args, **kwargs)

    migrator_of(corpus).apply(migration)
    crashing = build_migrator(store=CrashOnSecondTag(corpus.store), encoders=corpus.encoders,  # type: ignore[arg-type]
                              registry=corpus.registry, settings=corpus.settings)
    with pytest.raises(RuntimeError):
        crashing.backfill(batch=4)
    physical = corpus.registry.physical()
    points = {p.id: p for p in corpus.store.retrieve(physical, [_pid(d) for d in _ids(corpus)], with_vectors=[NEW])}
    with_vector = {pid for pid, p in points.items() if NEW in p.vectors}
    tagged = {pid for pid, p in points.items() if NEW in p.payload.get(TAGS, [])}
    assert len(tagged) == 4 and tagged < with_vector  # the second batch has vectors but no tags
    result = migrator_of(corpus).backfill(batch=4)
    assert result.data["complete"] and migrator_of(corpus).coverage(NEW).complete
    points = {p.id: p for p in corpus.store.retrieve(physical, list(points), with_vectors=[NEW])}
    assert all(NEW in p.vectors and NEW in p.payload[TAGS] for p in points.values())


def _pid(doc_id: str) -> str:
    from app.domain.documents import point_id

    return point_id(doc_id)


def _ids(services: Services) -> list[str]:
    points, _ = services.store.scroll(services.registry.alias, filter=None, limit=1000, offset=None)
    return [p.payload["doc_id"] for p in points]
