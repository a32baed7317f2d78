"""Congruence: the same calls on the embedded and the in-memory adapter give the same answers.

As qdrant-client's congruence tests do, each scenario runs on both adapters and records what it
saw; the records must be equal. Small hand-made vectors: no model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.domain.documents import point_id
from app.domain.plan import Filter, Match, MatchAny
from app.encoders.fastembed_encoder import SparseVec
from app.errors import AppError
from app.settings import CollectionSettings, StoreSettings
from app.store.base import PointWrite, Store, VectorSpec, VectorValue
from app.store.factory import open_store

SPECS = {"dense": VectorSpec("dense", 3), "multi": VectorSpec("multi", 3), "sparse": VectorSpec("sparse", None)}
N = 11


def point(i: int) -> PointWrite:
    return PointWrite(
        id=point_id(f"p{i}"),
        vectors={"dense": [1.0, float(i), 0.5], "multi": [[1.0, 0.0, float(i)], [0.0, 1.0, 0.0]],
                 "sparse": SparseVec((i, 100), (1.0, 0.5))},
        payload={"doc_id": f"p{i}", "metadata": {"group": ["a", "b", "c"][i % 3], "n": i, "odd": i % 2 == 1},
                 "vector_versions": ["dense", "multi"] if i % 2 else ["dense"]},
    )


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Store]]:
    """Both adapters holding collection `c`, which no test changes (a test that writes makes its own)."""
    tmp_path = tmp_path_factory.mktemp("congruence")
    # float32 on both: qdrant-client's in-memory mode keeps float32 whatever the datatype, and these compare the
    # vectors read back (a float16 collection's round trip: tests/contract/test_datatype.py)
    f32 = CollectionSettings(vector_datatype="float32")
    opened = {"edge": open_store(StoreSettings(path=tmp_path / "edge", retry_attempts=1), f32),
              "memory": open_store(StoreSettings(url=":memory:", retry_attempts=1), f32)}
    for store in opened.values():
        store.create_collection("c", SPECS)
        store.upsert("c", [point(i) for i in range(N)])
    yield opened
    for store in opened.values():
        store.close()


def outcome(call: Callable[[], Any]) -> Any:
    """What a call answered, or which of our errors it raised (its code)."""
    try:
        return call()
    except AppError as e:
        return ("error", e.code)


def compare(stores: dict[str, Store], scenario: Callable[[Store], Any]) -> Any:
    seen = {kind: scenario(store) for kind, store in stores.items()}
    assert seen["edge"] == seen["memory"], seen
    return seen["edge"]


FILTERS = {
    "none": None,
    "match": Filter(must=(Match("metadata.group", "a"),)),
    "any": Filter(must=(MatchAny("metadata.n", (1, 2, 3, 50)),)),
    "bool and not": Filter(must=(Match("metadata.odd", True),), must_not=(Match("metadata.group", "b"),)),
    "array contains": Filter(must=(Match("vector_versions", "multi"),)),
    "nested quoted": Filter(must=(Match('metadata."group"', "c"),)),
}


def filter_cases(names: list[str]) -> list[Any]:
    """Every filter, booleans included (qdrant-edge read True as the integer 1 until
    app.store.translate passed booleans as numpy's bool_)."""
    return list(names)


@pytest.mark.parametrize("name", filter_cases(list(FILTERS)))
def test_count_with_filters_agrees(stores: dict[str, Store], name: str) -> None:
    counted = compare(stores, lambda s: s.count("c", FILTERS[name]))
    assert name != "none" or counted == N


@pytest.mark.parametrize("name", filter_cases(["none", "match", "any", "bool and not"]))
def test_scroll_gives_the_same_pages_and_offsets(stores: dict[str, Store], name: str) -> None:
    def pages(store: Store) -> list[tuple[list[str], str | None]]:
        out, offset = [], None
        while True:
            page, offset = store.scroll("c", filter=FILTERS[name], limit=3, offset=offset, with_vectors=["dense"])
            out.append(([f"{p.id}:{p.payload['doc_id']}:{p.vectors['dense']}" for p in page], offset))
            if offset is None:
                return out

    seen = compare(stores, pages)
    assert sum(len(ids) for ids, _ in seen) == compare(stores, lambda s: s.count("c", FILTERS[name]))


def test_conditional_vector_updates_agree(stores: dict[str, Store]) -> None:
    def update(store: Store) -> list[Any]:
        store.create_collection("u", SPECS)
        store.upsert("u", [point(i) for i in range(N)])
        new: dict[str, dict[str, VectorValue]] = {point_id(f"p{i}"): {"dense": [0.0, 0.0, float(i)]}
                                                  for i in range(N)}
        store.update_vectors("u", new, only_if=Filter(must=(Match("metadata.group", "a"),)))
        store.update_vectors("u", {point_id("p1"): {"sparse": SparseVec((7,), (2.0,))}})
        got = store.retrieve("u", [point_id(f"p{i}") for i in range(N)], with_vectors=True)
        return sorted((p.payload["doc_id"], p.vectors["dense"], p.vectors["sparse"]) for p in got)

    seen = compare(stores, update)
    changed = [doc for doc, dense, _ in seen if dense[0] == 0.0]
    assert changed == ["p0", "p3", "p6", "p9"]


def test_compare_and_set_meta_agrees(stores: dict[str, Store]) -> None:
    def cas(store: Store) -> list[Any]:
        return [
            outcome(lambda: store.put_meta("k", {"a": 1}, expect_revision=1)),  # nothing stored yet
            outcome(lambda: store.put_meta("k", {"a": 1}, expect_revision=0)),
            outcome(lambda: store.put_meta("k", {"a": 2}, expect_revision=0)),  # stale
            outcome(lambda: store.put_meta("k", {"a": 2}, expect_revision=1)),
            outcome(lambda: store.get_meta("k")),
            outcome(lambda: store.put_meta("plain", {"x": [1, 2]})),
            outcome(lambda: store.get_meta("plain")),
            outcome(lambda: store.get_meta("absent")),
        ]

    seen = compare(stores, cas)
    assert seen[0] == ("error", "conflict") and seen[3] == 2 and seen[4] == {"a": 2, "revision": 2}


def test_aliases_agree(stores: dict[str, Store]) -> None:
    def aliases(store: Store) -> list[Any]:
        store.create_collection("d", SPECS)
        return [
            outcome(lambda: store.get_alias("live")),
            outcome(lambda: store.set_alias("live", "missing")),
            outcome(lambda: store.set_alias("live", "c")),
            outcome(lambda: (store.get_alias("live"), store.count("live"))),
            outcome(lambda: store.set_alias("live", "d")),
            outcome(lambda: (store.get_alias("live"), store.count("live"), store.count("c"))),
            outcome(lambda: store.delete_alias("live")),
            outcome(lambda: store.delete_alias("live")),  # twice: nothing to do
            outcome(lambda: store.get_alias("live")),
        ]

    seen = compare(stores, aliases)
    assert seen[1] == ("error", "collection_not_found") and seen[5] == ("d", 0, N)
