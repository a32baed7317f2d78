"""Registry writes are compare-and-set by revision: of two steps racing, one wins, the other gets 409."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_migrator, build_services
from app.domain.gates import Verdict
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import Conflict
from app.repos.registry import RegistryRepo
from app.settings import Settings
from app.store.factory import open_store
from app.versioning.declare import Migration
from app.versioning.engine import Migrator
from app.versioning.steps import StepResult
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS
from tests.migrations.conftest import NEW, OLD, SMALL_SPACES, migrator_of

TOKEN = "admin-secret"
GOOD = Verdict(target=NEW, metric="fused nDCG@10", baseline=0.70, candidate=0.71, overlap=0.9, queries=4,
               others={"space nDCG@10": 0.0})


def test_put_meta_with_an_expected_revision_is_compare_and_set(settings: Settings) -> None:
    store = open_store(settings.store)
    try:
        assert store.put_meta("k", {"a": 1}, expect_revision=0) == 1
        with pytest.raises(Conflict, match=r"revision expected 0, found 1"):
            store.put_meta("k", {"a": "again"}, expect_revision=0)
        assert store.put_meta("k", {"a": 2}, expect_revision=1) == 2
        with pytest.raises(Conflict, match=r"another step changed k meanwhile \(revision expected 1, found 2\)"):
            store.put_meta("k", {"a": "stale"}, expect_revision=1)
        assert store.get_meta("k") == {"a": 2, "revision": 2}
        assert store.put_meta("free", {"b": 1}) is None  # unconditional writes are unchanged
        assert store.get_meta("free") == {"b": 1}
    finally:
        store.close()


def test_of_many_threads_writing_from_one_revision_exactly_one_wins(settings: Settings) -> None:
    store = open_store(settings.store)
    try:
        store.put_meta("k", {"writer": -1}, expect_revision=0)
        n = 6
        barrier = threading.Barrier(n)
        won: list[int] = []
        lost: list[Conflict] = []

        def write(i: int) -> None:
            barrier.wait(timeout=30)
            try:
                store.put_meta("k", {"writer": i}, expect_revision=1)
                won.append(i)
            except Conflict as e:
                lost.append(e)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(won) == 1 and len(lost) == n - 1
        assert store.get_meta("k") == {"writer": won[0], "revision": 2}
        assert all(e.detail == {"key": "k", "expected_revision": 1, "found_revision": 2} for e in lost)
    finally:
        store.close()


def test_a_retried_write_whose_first_attempt_went_through_is_not_a_conflict(tmp_path: Path,
                                                                            model_cache: Path) -> None:
    store = open_store(make_settings("memory", tmp_path, model_cache).store)  # the adapter that retries
    store.put_meta("k", {"a": 1}, expect_revision=0)
    client: Any = store._client  # type: ignore[attr-defined]
    real, sent = client.upsert, []

    def times_out_after_writing(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        sent.append(1)
        if len(sent) == 1:
            raise httpx.ReadTimeout("the answer was lost; the write was not")
        return out

    client.upsert = times_out_after_writing
    assert store.put_meta("k", {"a": 2}, expect_revision=1) == 2
    assert store.get_meta("k") == {"a": 2, "revision": 2} and len(sent) == 1
    with pytest.raises(Conflict):  # another caller with the same stale revision still loses
        store.put_meta("k", {"a": 3}, expect_revision=1)


class MeetAtTheRegistryWrite:
    """The real store, but a registry write waits until both racing steps have reached theirs:
    both read the registry (and checked their preconditions) before either writes."""

    def __init__(self, store: Any, key: str) -> None:
        self._store, self._key = store, key
        self.barrier = threading.Barrier(2)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put_meta(self, key: str, value: dict[str, Any], *, expect_revision: int | None = None) -> int | None:
        if key == self._key:
            self.barrier.wait(timeout=60)
        return self._store.put_meta(key, value, expect_revision=expect_revision)  # type: ignore[no-any-return]


def racing_migrator(corpus: Services, store: Any) -> Migrator:
    """A second process's migrator: its own lock, the same data."""
    registry = RegistryRepo(store=store, alias=corpus.registry.alias)
    return build_migrator(store=store, encoders=corpus.encoders, registry=registry, settings=corpus.settings)


def test_two_steps_racing_from_the_same_revision_one_wins_the_other_changes_nothing(
        corpus: Services, migration: Migration) -> None:
    setup = migrator_of(corpus)
    setup.apply(migration)
    setup.backfill()
    setup.records.save_verdict(GOOD)
    before = corpus.registry.get().revision
    store = MeetAtTheRegistryWrite(corpus.store, corpus.registry.key)
    promoter, retirer = racing_migrator(corpus, store), racing_migrator(corpus, store)
    outcomes: dict[str, StepResult | Conflict] = {}

    def run(name: str, step: Any) -> None:
        try:
            outcomes[name] = step()
        except Conflict as e:
            outcomes[name] = e

    # promote the new version, and (as another operator) abandon it: retire deletes its vector
    threads = [threading.Thread(target=run, args=("promote", lambda: promoter.promote())),
               threading.Thread(target=run, args=("retire", lambda: retirer.retire(grace_s=0, force=True)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    winners = [n for n, o in outcomes.items() if isinstance(o, StepResult)]
    losers = [o for o in outcomes.values() if isinstance(o, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert "another step changed registry:" in losers[0].message
    assert f"revision expected {before}, found {before + 1}" in losers[0].message

    reg = corpus.registry.get()
    assert reg.revision == before + 1
    vectors = corpus.store.vector_specs(corpus.registry.physical())
    if winners == ["promote"]:
        assert reg.space("title").live == NEW and reg.find(NEW).status == "live"
        assert NEW in vectors  # the losing retire deleted nothing
    else:
        assert reg.space("title").live == OLD and reg.find(NEW).status == "retired"
        assert NEW not in vectors and reg.find(OLD).status == "live"


class AnotherStepFirst:
    """The real store; just before this process's next registry write, another step writes it."""

    def __init__(self, store: Any, alias: str) -> None:
        self._store = store
        self._repo = RegistryRepo(store=store, alias=alias)
        self.armed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put_meta(self, key: str, value: dict[str, Any], *, expect_revision: int | None = None) -> int | None:
        if self.armed and key == self._repo.key:
            self.armed = False
            reg = self._repo.get()
            self._repo.save(reg.with_live("summary", reg.space("summary").live, None), expect=reg.revision)
        return self._store.put_meta(key, value, expect_revision=expect_revision)  # type: ignore[no-any-return]


@pytest.fixture
def guarded(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    """The small corpus with an admin token set, its store wrapped by `AnotherStepFirst`."""
    settings = make_settings(store_kind, tmp_path, model_cache, spaces=SMALL_SPACES, admin_token=TOKEN)
    svc = build_services(settings, encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS))
    racing = AnotherStepFirst(svc.store, svc.registry.alias)
    svc.store = racing  # type: ignore[assignment]
    svc.registry = RegistryRepo(store=racing, alias=svc.registry.alias)  # type: ignore[arg-type]
    svc.migrator = build_migrator(store=racing, encoders=svc.encoders, registry=svc.registry,  # type: ignore[arg-type]
                                  settings=settings)
    yield svc
    racing._store.close()


def test_through_http_the_step_that_lost_the_race_gets_409_and_changes_nothing(
        guarded: Services, migration: Migration) -> None:
    m = migrator_of(guarded)
    m.apply(migration)
    m.backfill()
    m.records.save_verdict(GOOD)
    read = guarded.registry.get().revision
    with TestClient(create_app(guarded.settings, services=guarded)) as client:
        guarded.store.armed = True  # type: ignore[attr-defined]
        r = client.post("/admin/migrations/promote", json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 409, r.text
    body = r.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == "conflict"
    assert f"another step changed registry:{guarded.registry.alias} meanwhile (revision expected {read}, " \
           f"found {read + 1})" in body["message"]
    assert body["detail"]["expected_revision"] == read and body["detail"]["found_revision"] == read + 1
    reg = guarded.registry.get()
    assert reg.revision == read + 1 and reg.space("title").live == OLD  # the other step's write, not ours
    assert reg.find(NEW).status == "ready"
