"""The embedded store flushes its WAL on a Qdrant server's cadence (app.store.edge_snapshot.WalFlusher)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.store.base import PointWrite, VectorSpec
from app.store.edge import EdgeStore
from app.store.edge_snapshot import FLUSH_INTERVAL_S, WalFlusher


class CountingShard:
    def __init__(self, fail: bool = False) -> None:
        self.flushes, self.fail = 0, fail

    def flush(self) -> None:
        self.flushes += 1
        if self.fail:
            raise RuntimeError("Service internal error: no space left on device")


def test_a_shard_is_flushed_once_the_interval_went_by_not_on_every_write() -> None:
    assert FLUSH_INTERVAL_S == 5.0  # the server's default flush_interval_sec
    flusher, shard, other = WalFlusher(interval_s=0.05), CountingShard(), CountingShard()
    for _ in range(20):
        flusher.wrote("a", shard)
    assert shard.flushes == 0  # the first write starts the clock
    time.sleep(0.06)
    flusher.wrote("a", shard)
    flusher.wrote("a", shard)
    flusher.wrote("b", other)  # each shard keeps its own clock
    assert (shard.flushes, other.flushes) == (1, 0)


def points(start: int, n: int) -> list[PointWrite]:
    rng = np.random.default_rng(start)
    return [PointWrite(id=f"00000000-0000-4000-8000-{i:012d}", vectors={"v": rng.random(8, dtype=np.float32)},
                       payload={"doc_id": f"d{i}"}) for i in range(start, start + n)]


def test_writes_flushed_as_they_go_are_all_there_after_a_reopen(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    store.create_collection("c", {"v": VectorSpec("dense", 8)})
    store._flusher.interval_s = 0.0  # flush after every write
    flushes: list[Any] = []
    real = store._flusher.wrote
    store._flusher.wrote = lambda name, shard: (flushes.append(name), real(name, shard))  # type: ignore[method-assign]
    for start in range(0, 300, 50):
        store.upsert("c", points(start, 50))
    store.delete("c", [points(0, 1)[0].id])
    assert flushes == ["c"] * 7
    store.close()
    again = EdgeStore(tmp_path)
    assert again.count("c") == 299
    assert {p.payload["doc_id"] for p in again.retrieve("c", [points(299, 1)[0].id])} == {"d299"}
    again.close()


def test_a_flush_that_fails_does_not_fail_the_write_it_follows_and_is_tried_again(
        caplog: pytest.LogCaptureFixture) -> None:
    flusher, shard = WalFlusher(interval_s=0.02), CountingShard(fail=True)
    flusher.wrote("a", shard)
    time.sleep(0.03)
    with caplog.at_level(logging.WARNING, logger="multivec.store"):
        flusher.wrote("a", shard)  # raises nothing: the write before it was applied
        flusher.wrote("a", shard)  # not again within the interval
    assert shard.flushes == 1
    assert "flushing collection a failed" in caplog.text and "no space left" in caplog.text
    time.sleep(0.03)
    shard.fail = False
    flusher.wrote("a", shard)
    assert shard.flushes == 2
