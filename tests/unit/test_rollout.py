"""A gradual rollout, pure: the query hash, the share it picks, the registry transitions, the shadow pool."""

from __future__ import annotations

import random
import threading

import pytest

from app.domain import lifecycle
from app.domain.metrics import overlap_at_k
from app.domain.rollout import Routing, bucket, normalise, route, shadow_sampled
from app.domain.versions import Registry, Rollout, VectorVersion
from app.errors import Conflict
from app.repos.registry import registry_from_dict, registry_to_dict
from app.services.rollout import RolloutEvent, RolloutMonitor
from app.settings import RolloutSettings
from tests.fixtures import DOCS

OLD, NEW, NEWER = "title.a.v1", "title.b.v2", "title.c.v3"
AT, LATER = "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"


def fixed_queries(n: int = 400) -> list[str]:
    """`n` distinct two-word queries from the fixture corpus's vocabulary, always the same ones."""
    words = sorted({w.strip(".,;:()'").lower() for d in DOCS for w in f"{d['title']} {d['body']}".split()
                    if len(w.strip(".,;:()'")) > 3})
    pairs = [f"{a} {b}" for a in words for b in words if a != b]
    return random.Random(7).sample(pairs, n)


def registry(new_status: str = "ready") -> Registry:
    old = VectorVersion(space="title", field="title", kind="dense", model="a", version=1, dim=4, status="live")
    new = VectorVersion(space="title", field="title", kind="dense", model="b", version=2, dim=4,
                        status=new_status)  # type: ignore[arg-type]
    newer = VectorVersion(space="title", field="title", kind="dense", model="c", version=3, dim=4, status="ready")
    return (Registry(spaces={}).with_version(old).with_live("title", OLD, None).with_version(new)
            .with_version(newer))


# -- the hash -----------------------------------------------------------------------------------------
def test_the_bucket_is_a_stable_hash_of_the_normalised_query() -> None:
    # sha256, not Python's per-process salted hash(): the same on every replica and after a restart
    assert bucket("gene editing with CRISPR", NEW) == bucket("  Gene\tEDITING  with crispr ", NEW) == 17
    assert normalise("  \uff27\uff45\uff4e\uff45\n Editing ") == "gene editing"  # NFKC folds full-width letters too
    assert all(0 <= bucket(q, NEW) < 100 for q in fixed_queries())
    assert bucket("gene editing with CRISPR", NEW) != bucket("gene editing with CRISPR", NEWER)  # salted per version


def test_ten_percent_routes_about_a_tenth_of_400_fixed_queries_and_always_the_same_ones() -> None:
    queries = fixed_queries()
    routed = [q for q in queries if bucket(q, NEW) < 10]
    # 400 draws at p = 0.1: mean 40, standard deviation 6; 5-15 % (20-60) is more than 3 sd either side,
    # and since the hash is deterministic the count is a fixed number, checked again below
    assert 20 <= len(routed) <= 60
    assert len(routed) == 43
    assert routed == [q for q in queries if bucket(q, NEW) < 10]  # a second run picks the very same queries
    # raising the share only adds queries: the 10 % are all among the 25 %
    assert set(routed) <= {q for q in queries if bucket(q, NEW) < 25}
    sampled = [q for q in queries if shadow_sampled(q, NEW, 10)]
    assert 20 <= len(sampled) <= 60
    assert not any(shadow_sampled(q, NEW, 0) for q in queries)
    # the shadow sample is drawn independently of the split: it falls on both sides
    assert {q in routed for q in sampled} == {True, False}


def test_route_decides_each_rolled_out_space_unless_the_request_pins_it() -> None:
    reg = lifecycle.start_rollout(registry(), NEW, percent=10, at=AT)
    queries = fixed_queries(50)
    routing = route(reg, queries[0])
    [d] = routing.decisions
    assert (d.space, d.live, d.candidate, d.percent, d.started) == ("title", OLD, NEW, 10, AT)
    assert routing.pins == {"title": d.served} and routing.shadow_pins == {"title": d.other}
    assert {d.served, d.other} == {OLD, NEW}
    assert not route(reg, queries[0], pinned={"title": OLD})
    assert not route(registry(), queries[0])  # no rollout: nothing decided
    assert not routing.only({"body"}) and routing.only({"title"}) == routing
    routed = [q for q in queries if route(reg, q).pins["title"] == NEW]
    assert routed == [q for q in queries if bucket(q, NEW) < 10]
    assert Routing().pins == {}


def test_overlap_at_ten() -> None:
    assert overlap_at_k(list("abcdefghij"), list("abcdefghij"), 10) == 1.0
    assert overlap_at_k(list("abcdefghij"), list("jihgfedcba"), 10) == 1.0  # order does not count
    assert overlap_at_k(list("abcdefghij"), list("abcdeVWXYZ"), 10) == 0.5
    assert overlap_at_k(list("abc"), list("abd"), k=10) == pytest.approx(2 / 3)
    assert overlap_at_k([], [], 10) == 1.0


# -- the transitions ------------------------------------------------------------------------------------
def test_a_rollout_is_stored_in_the_registry_and_survives_a_round_trip() -> None:
    reg = lifecycle.start_rollout(registry(), NEW, percent=10, at=AT)
    assert reg.space("title").rollout == Rollout(version=NEW, percent=10, started=AT)
    assert reg.find(NEW).status == "ready" and reg.space("title").live == OLD  # no status changes
    again = registry_from_dict(registry_to_dict(reg))
    assert again.space("title").rollout == Rollout(version=NEW, percent=10, started=AT)
    assert registry_from_dict(registry_to_dict(registry())).space("title").rollout is None
    # a registry stored before rollouts existed reads as none
    old_form = registry_to_dict(registry())
    del old_form["spaces"]["title"]["rollout"]
    assert registry_from_dict(old_form).space("title").rollout is None


def test_changing_the_percent_keeps_the_start() -> None:
    reg = lifecycle.start_rollout(registry(), NEW, percent=10, at=AT)
    reg = lifecycle.start_rollout(reg, NEW, percent=25, at=LATER)
    assert reg.space("title").rollout == Rollout(version=NEW, percent=25, started=AT)


@pytest.mark.parametrize("percent", [0, 100, -5, 150])
def test_a_rollout_percent_is_1_to_99(percent: int) -> None:
    with pytest.raises(Conflict, match="1 to 99"):
        lifecycle.start_rollout(registry(), NEW, percent=percent, at=AT)


def test_a_live_or_retired_version_or_a_second_candidate_cannot_be_rolled_out() -> None:
    with pytest.raises(Conflict, match="is live"):
        lifecycle.start_rollout(registry(), OLD, percent=10, at=AT)
    with pytest.raises(Conflict, match="is retired"):
        lifecycle.start_rollout(registry("retired"), NEW, percent=10, at=AT)
    reg = lifecycle.start_rollout(registry(), NEW, percent=10, at=AT)
    with pytest.raises(Conflict, match=f"{NEW} is being rolled out"):
        lifecycle.start_rollout(reg, NEWER, percent=10, at=AT)


def test_promote_rollback_and_retire_end_the_rollout() -> None:
    rolled = lifecycle.start_rollout(registry(), NEW, percent=10, at=AT)
    promoted = lifecycle.promote(rolled, NEW, at=AT)
    assert promoted.space("title").rollout is None and promoted.space("title").live == NEW
    back = lifecycle.rollback(lifecycle.start_rollout(promoted, NEWER, percent=5, at=AT), NEW, at=AT)
    assert back.space("title").rollout is None and back.space("title").live == OLD
    ended = lifecycle.end_rollout(rolled, NEW)
    assert ended.space("title").rollout is None and ended.space("title").live == OLD
    with pytest.raises(Conflict, match="not being rolled out"):
        lifecycle.end_rollout(ended, NEW)
    retired = lifecycle.retire(rolled, NEW, at=AT)  # searches must never reach a retired version
    assert retired.space("title").rollout is None


# -- the shadow pool -------------------------------------------------------------------------------------
def routing_of(query: str) -> Routing:
    return route(lifecycle.start_rollout(registry(), NEW, percent=50, at=AT), query)


def test_a_shadow_read_records_its_overlap_and_latency_and_never_raises() -> None:
    monitor = RolloutMonitor(RolloutSettings(shadow_percent=100))
    events: list[RolloutEvent] = []
    monitor.listen(events.append)
    routing = routing_of("gene editing")
    d = routing.decisions[0]
    monitor.served(routing, 0.01)
    assert monitor.shadow(routing, list("abcdefghij"), lambda: list("abcdeVWXYZ"))
    assert monitor.shadow(routing, ["a"], lambda: (_ for _ in ()).throw(RuntimeError("store down")))
    assert monitor.wait_idle(10)
    summary = monitor.summary()["title"]
    assert summary["started"] == AT and summary["searches"] == 1
    served, shadowed = summary["versions"][d.served], summary["versions"][d.other]
    assert served["served"] == 1 and served["share"] == 1.0 and served["latency_p50_ms"] == 10.0
    assert shadowed["shadow_runs"] == 1 and shadowed["overlap_mean"] == 0.5 and shadowed["failed"] == 1
    assert shadowed["shadow_latency_p50_ms"] is not None
    assert [e.kind for e in events] == ["served", "shadow", "failed"]
    monitor.close()
    assert not monitor.shadow(routing, ["a"], lambda: ["a"])  # closed: dropped


def test_a_full_shadow_queue_drops_work_instead_of_waiting() -> None:
    monitor = RolloutMonitor(RolloutSettings(shadow_workers=1, shadow_queue=1))
    routing = routing_of("gene editing")
    started, release = threading.Event(), threading.Event()

    def slow() -> list[str]:
        started.set()
        release.wait(10)
        return ["a"]

    assert monitor.shadow(routing, ["a"], slow)  # the worker takes it and blocks
    assert started.wait(10)
    assert monitor.shadow(routing, ["a"], lambda: ["a"])  # waits in the queue
    assert not monitor.shadow(routing, ["a"], lambda: ["a"])  # the queue is full: dropped at once
    release.set()
    assert monitor.wait_idle(10)
    stats = monitor.summary()["title"]["versions"][routing.decisions[0].other]
    assert (stats["shadow_runs"], stats["dropped"]) == (2, 1)
    monitor.close()


def test_a_new_rollout_counts_afresh() -> None:
    monitor = RolloutMonitor()
    reg = lifecycle.start_rollout(registry(), NEW, percent=50, at=AT)
    monitor.served(route(reg, "a query"), 0.01)
    again = lifecycle.start_rollout(lifecycle.end_rollout(reg, NEW), NEW, percent=50, at=LATER)
    monitor.served(route(again, "a query"), 0.01)
    assert monitor.summary()["title"]["searches"] == 1 and monitor.summary()["title"]["started"] == LATER
