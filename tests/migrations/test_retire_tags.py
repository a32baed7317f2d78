"""Once a version's vectors are gone no point claims it: retire takes its tag off every point (in
batches, resumable), so GET /documents, the inspection page and coverage agree with the store."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services
from app.errors import Conflict, StoreUnavailable
from app.versioning import tagging
from app.versioning.declare import AddVersion, Migration
from app.versioning.engine import Migrator
from tests.migrations.conftest import NEW, OLD, QUERIES, WIDE


def promoted(migrator: Migrator, migration: Migration) -> None:
    migrator.apply(migration)
    migrator.backfill()
    migrator.validate(None, QUERIES)
    migrator.promote(margin=WIDE)


def test_retire_removes_the_tag_everywhere_a_point_shows_it(corpus: Services, migrator: Migrator,
                                                            migration: Migration) -> None:
    promoted(migrator, migration)
    dry = migrator.retire(grace_s=0, dry_run=True)
    assert f"remove tag {OLD} from the 11 points that have it (in batches)" in dry.actions
    assert migrator.coverage(OLD).covered == 11  # a dry run changes nothing
    seen: list[tuple[int, int]] = []
    done = migrator.retire(grace_s=0, on_progress=lambda d, t: seen.append((d, t)))
    assert [a.split(" (")[0] for a in done.actions] == [
        f"mark {OLD} retired", "record the override in 0001's record: retire with a looser gate",  # grace 0
        f"remove tag {OLD} from the 11 points that have it",
        f"delete named vector {OLD} from {migrator.registry.physical()}"]
    assert seen and seen[-1] == (11, 11)
    assert migrator.coverage(OLD).covered == 0 and migrator.coverage(NEW).covered == 11
    with TestClient(create_app(corpus.settings, services=corpus)) as client:
        doc = client.get("/documents/cook-1").json()
        assert OLD not in doc["vector_versions"] and NEW in doc["vector_versions"]
        assert "0 matching" in client.get("/inspect/points", params={"version": OLD}).text
        assert "11 matching" in client.get("/inspect/points", params={"missing": OLD}).text
        coverage = [line for line in client.get("/metrics").text.splitlines()
                    if line.startswith(("multivec_vector_version_points", "multivec_vector_version_coverage"))]
        assert coverage and not [line for line in coverage if OLD in line]  # none for a version that is gone
    assert migrator.retire(grace_s=0).notes == [f"nothing to retire: {OLD} is retired"]


def test_a_retire_cut_short_is_finished_by_the_next_run(corpus: Services, migrator: Migrator, migration: Migration,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    promoted(migrator, migration)
    monkeypatch.setattr(tagging, "UNTAG_BATCH", 4)
    real = migrator.store.set_payload
    calls = []

    def failing(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        if len(calls) > 1:  # the store goes away after the first batch
            raise StoreUnavailable("store down")
        real(*args, **kwargs)

    monkeypatch.setattr(migrator.store, "set_payload", failing)
    with pytest.raises(StoreUnavailable):
        migrator.retire(grace_s=0)
    monkeypatch.setattr(migrator.store, "set_payload", real)
    physical = migrator.registry.physical()
    assert migrator.registry.get().find(OLD).status == "retired"
    assert migrator.coverage(OLD).covered == 7 and OLD in migrator.store.vector_specs(physical)
    again = migrator.retire(grace_s=0)  # retired already: the rest of the tags, then the vector
    assert again.actions == [f"remove tag {OLD} from the 7 points that have it (in batches)",
                             f"delete named vector {OLD} from {physical}"]
    assert migrator.coverage(OLD).covered == 0 and OLD not in migrator.store.vector_specs(physical)


def test_a_rebuild_copies_no_tag_of_a_version_it_does_not_write(corpus: Services, migrator: Migrator,
                                                                 migration: Migration) -> None:
    from tests.migrations.test_backfill_limit import REBUILD

    promoted(migrator, migration)
    migrator.retire(grace_s=0)
    physical = migrator.registry.physical()
    points, _ = migrator.store.scroll(physical, filter=None, limit=3, offset=None)
    # tags a retire made before retire untagged (an install that retired with an older release)
    for p in points:
        migrator.store.set_payload(physical, [p.id], {tagging.TAGS: [*p.payload[tagging.TAGS], OLD]})
    migrator.apply(REBUILD)
    migrator.backfill()
    target = (migrator.registry.rebuild() or {})["target"]
    copied, _ = migrator.store.scroll(target, filter=None, limit=20, offset=None)
    assert len(copied) == 11 and all(OLD not in p.payload[tagging.TAGS] for p in copied)
    assert all(NEW in p.payload[tagging.TAGS] for p in copied)


def test_abandoning_a_new_version_untags_it_too(corpus: Services, migrator: Migrator, migration: Migration) -> None:
    """The tester's case: a version never promoted, retired with --force (within the grace period)."""
    migrator.apply(migration)
    migrator.backfill(max_points=5)
    assert migrator.coverage(NEW).covered == 5
    done = migrator.retire(force=True)
    assert done.target == NEW and migrator.coverage(NEW).covered == 0 and migrator.coverage(OLD).covered == 11
    assert NEW not in migrator.store.vector_specs(migrator.registry.physical())
    with TestClient(create_app(corpus.settings, services=corpus)) as client:
        assert "0 matching" in client.get("/inspect/points", params={"version": NEW}).text


def test_rollback_after_the_old_version_is_retired_is_refused_saying_so(migrator: Migrator,
                                                                       migration: Migration) -> None:
    """After `retire --force`, rollback said "v3 is not live (live is v3): nothing to roll back" (a break test),
    then "nothing to roll back to" with exit 0, so `migrate rollback && echo rolled back` lied (another): a
    refusal (409, exit 2) saying the old version's vectors are gone; nothing changes."""
    promoted(migrator, migration)
    migrator.retire(grace_s=0, force=True)
    before = migrator.registry.get()
    with pytest.raises(Conflict, match=f"nothing to roll back to: {OLD} is retired \\(its vectors are gone\\)"):
        migrator.rollback()
    assert migrator.registry.get() == before


def test_a_rollback_two_deep_makes_the_first_version_live_again(migrator: Migrator, migration: Migration) -> None:
    """v1 -> v2 (0001) -> v3 (0002), then rollback 0002 (v2 live) and rollback 0001: it said "v1 is retired (its
    vectors are gone)" though v1 was still written in full, and no command made it live again (a break test)."""
    promoted(migrator, migration)
    v3 = Migration(revision="0002", name="title_back_to_l6", depends_on="0001",
                   change=AddVersion(space="title", model="minilm-l6-int8", version=3))
    promoted(migrator, v3)
    v3_name = migrator.registry.get().space("title").live
    migrator.rollback("0002")
    assert migrator.registry.get().space("title").live == NEW
    done = migrator.rollback("0001")
    title = migrator.registry.get().space("title")
    assert done.changed and title.live == OLD and migrator.coverage(OLD).covered == 11
    assert {title.versions[NEW].status, title.versions[v3_name].status} == {"ready"}
