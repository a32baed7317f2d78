"""A document deleted while a search runs, between ranking its point and fetching the winners' payloads (the
paths where the service fuses and then retrieves: the default cascade staged, a plan fused by the service,
fan-out), on both adapters with the real engine and models. The answer skips it and the next document
ranked takes its place; before, it was a hit without a document (`"id": null`, no title), found by a tester
searching in fan-out while another client deleted and rewrote the same documents."""

from __future__ import annotations

from typing import Any

import pytest

from app.container import Services
from app.domain.documents import point_id
from app.services.search import SearchRequest
from app.store.retrying import RetryingStore

QUERY = "bacteria in fermented food"
PATHS = {"default": {}, "fused": {"plan": "fused"}, "weighted-rrf": {"fusion": "rrf", "weights": {"title": 2.0,
         "body": 1.0, "keywords": 0.5}}, "default-fanout": {"fanout": True}, "fused-fanout": {"plan": "fused",
         "fanout": True}}


@pytest.mark.parametrize("request_kw", list(PATHS.values()), ids=list(PATHS))
def test_a_document_deleted_between_ranking_and_fetching_is_skipped_and_the_next_takes_its_place(
        loaded: Services, request_kw: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    before = loaded.search.search(SearchRequest(query=QUERY, limit=4, **request_kw)).hits
    assert len(before) == 4 and all(h["id"] for h in before)
    store = loaded.store.inner if isinstance(loaded.store, RetryingStore) else loaded.store
    original, deleted = store.retrieve, []

    best = point_id(before[0]["id"])

    def delete_first_then_retrieve(collection: str, ids: Any, *args: Any, **kw: Any) -> Any:
        if not deleted and best in ids:  # the fetch of the winners' payloads: another client deletes the best
            deleted.append(before[0]["id"])  # hit just before it
            loaded.ingest.delete(before[0]["id"])
        return original(collection, ids, *args, **kw)

    monkeypatch.setattr(store, "retrieve", delete_first_then_retrieve)
    hits = loaded.search.search(SearchRequest(query=QUERY, limit=4, **request_kw)).hits
    assert deleted == [before[0]["id"]]  # the winners' fetch came after the ranking, and held it
    assert all(h["id"] and h["title"] for h in hits), hits
    assert [h["id"] for h in hits][:3] == [h["id"] for h in before[1:]] and len(hits) == 4
