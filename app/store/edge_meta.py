"""The meta key-value writes on edge's meta shard: plain upserts and compare-and-set on a revision."""

from __future__ import annotations

from typing import Any

import qdrant_edge as qe

from app.store.adapter import storable
from app.store.meta import META_REVISION, confirm_meta_write, prepare_meta_write


def _payload(shard: Any, pid: str) -> dict[str, Any] | None:
    records = shard.retrieve([pid], with_payload=True, with_vector=False)
    return dict(records[0].payload) if records else None


def write_meta(shard: Any, pid: str, key: str, value: dict[str, Any], expect_revision: int | None) -> int | None:
    """Write `value` under `key` (point `pid`) on the meta `shard`; the caller holds the store's mutex.

    With `expect_revision`, a compare-and-set on the value's revision, and the write itself is still
    conditional (edge's upsert `condition`), so a stale write changes nothing even if it got past the check.

    Returns:
        The new revision, or None for a plain write.

    Raises:
        Conflict: the stored revision is not `expect_revision`.
        InvalidInput: `value` is nested deeper than the store can read back (`storable`).
    """
    storable({"key": key, "value": value}, f"meta value {key!r}")
    if expect_revision is None:
        shard.update(qe.UpdateOperation.upsert_points(
            [qe.Point(id=pid, vector={"_": [1.0]}, payload={"key": key, "value": value})]))
        shard.flush()
        return None
    write = prepare_meta_write(key, value, expect_revision, _payload(shard, pid))
    if write.done:
        return expect_revision + 1
    condition = qe.Filter(must=[qe.FieldCondition(key=META_REVISION,
                                                  match=qe.MatchValue(value=expect_revision))])
    shard.update(qe.UpdateOperation.upsert_points(
        [qe.Point(id=pid, vector={"_": [1.0]}, payload=write.payload)],
        condition=None if expect_revision == 0 else condition,
        update_mode=qe.UpdateMode.InsertOnly if expect_revision == 0 else None))
    shard.flush()
    return confirm_meta_write(write, _payload(shard, pid))
