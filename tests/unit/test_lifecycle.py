"""A vector version's lifecycle: the legal moves, and every other one refused with Conflict."""

from __future__ import annotations

import pytest

from app.domain import lifecycle
from app.domain.versions import Registry, VectorVersion
from app.errors import Conflict

OLD, NEW = "title.a.v1", "title.b.v2"
AT = "2026-01-01T00:00:00+00:00"


def registry() -> Registry:
    old = VectorVersion(space="title", field="title", kind="dense", model="a", version=1, dim=4, status="live")
    new = VectorVersion(space="title", field="title", kind="dense", model="b", version=2, dim=4, status="shadow")
    return Registry(spaces={}).with_version(old).with_live("title", OLD, None).with_version(new)


def test_a_version_goes_shadow_backfilling_ready_live_and_the_old_one_stays_for_rollback() -> None:
    reg = lifecycle.mark_ready(lifecycle.start_backfill(registry(), NEW, at=AT), NEW, at=AT)
    assert reg.find(NEW).status == "ready" and reg.find(NEW).status_changed == AT
    reg = lifecycle.promote(reg, NEW, at=AT)
    space = reg.space("title")
    assert (space.live, space.previous) == (NEW, OLD)
    assert reg.find(NEW).status == "live" and reg.find(OLD).status == "ready"
    reg = lifecycle.rollback(reg, NEW, at=AT)
    space = reg.space("title")
    assert (space.live, space.previous) == (OLD, None)
    assert reg.find(OLD).status == "live" and reg.find(NEW).status == "ready"
    reg = lifecycle.retire(reg, NEW, at=AT)
    assert reg.find(NEW).status == "retired"


def test_retiring_the_rollback_target_clears_it() -> None:
    reg = lifecycle.promote(lifecycle.mark_ready(registry(), NEW, at=AT), NEW, at=AT)
    reg = lifecycle.retire(reg, OLD, at=AT)
    assert reg.find(OLD).status == "retired" and reg.space("title").previous is None


@pytest.mark.parametrize(("moves", "refused"), [
    ([], lambda r: lifecycle.retire(r, OLD, at=AT)),  # the live version
    ([], lambda r: lifecycle.rollback(r, OLD, at=AT)),  # nothing to roll back to
    ([lambda r: lifecycle.start_backfill(r, NEW, at=AT)], lambda r: lifecycle.start_backfill(r, NEW, at=AT)),
    ([lambda r: lifecycle.retire(r, NEW, at=AT)], lambda r: lifecycle.promote(r, NEW, at=AT)),
    ([lambda r: lifecycle.retire(r, NEW, at=AT)], lambda r: lifecycle.mark_ready(r, NEW, at=AT)),
], ids=["retire live", "rollback without previous", "backfill twice", "promote retired", "ready after retired"])
def test_illegal_moves_are_refused(moves: list, refused) -> None:  # type: ignore[no-untyped-def,type-arg]
    reg = registry()
    for m in moves:
        reg = m(reg)
    with pytest.raises(Conflict):
        refused(reg)


def test_a_forced_promote_may_make_a_version_live_before_it_is_ready() -> None:
    reg = lifecycle.promote(registry(), NEW, at=AT)
    assert reg.space("title").live == NEW and reg.find(NEW).status == "live"
