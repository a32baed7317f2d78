"""Every payload a store adapter writes is bounded in depth, whoever wrote it: qdrant-edge cannot read back a
payload nested 127 levels or more, and a shard whose WAL holds one cannot be replayed. A break test installed a
ranking profile whose `fitted_on` was nested 130 levels (`scripts/evaluate install --profile`): it was stored,
and the next start could not open the registry's collection, so nothing opened."""

from __future__ import annotations

from typing import Any

import pytest

from app.container import build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import InvalidInput
from app.services.search import SearchRequest
from app.settings import Settings
from app.store.adapter import STORE_MAX_DEPTH
from app.store.base import PointWrite
from tests.conftest import to_documents


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_a_value_nested_past_what_the_store_reads_back_is_refused_and_nothing_is_written(
        settings: Settings, encoders: EncoderPool) -> None:
    services = build_services(settings, encoders=encoders)
    services.ingest.upsert(to_documents([{"id": "keep", "title": "Sourdough bread", "body": "Flour, water, salt."}]))
    physical = services.registry.physical()
    deep = nested(STORE_MAX_DEPTH + 30)
    meta = r"meta value 'profile:deep' is nested more than 100 levels deep \(at value\.fitted_on\.a\.a"
    with pytest.raises(InvalidInput, match=meta):
        services.store.put_meta("profile:deep", {"fitted_on": deep})
    with pytest.raises(InvalidInput, match="point p's payload is nested more than 100 levels deep"):
        services.store.upsert(physical, [PointWrite(id="p", vectors={}, payload={"m": deep})])  # type: ignore[arg-type]
    pid = services.search.search(SearchRequest(query="sourdough", limit=1)).hits[0]["point_id"]
    with pytest.raises(InvalidInput, match="a payload set is nested more than 100 levels deep"):
        services.store.set_payload(physical, [pid], {"m": deep})
    assert services.store.get_meta("profile:deep") is None
    assert services.store.put_meta("profile:fine", {"fitted_on": nested(STORE_MAX_DEPTH - 5)}) is None  # within
    services.close()
    if settings.store.url is not None:  # the in-memory client keeps nothing across a close
        return
    again = build_services(settings, encoders=encoders)  # the store opens: every WAL entry reads back
    try:
        assert again.store.get_meta("profile:fine") is not None
        assert [h["id"] for h in again.search.search(SearchRequest(query="sourdough", limit=1)).hits] == ["keep"]
    finally:
        again.close()
