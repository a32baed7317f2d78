"""Issue 9 case 7: equal scores come back in one order, by point id, on every adapter."""

from __future__ import annotations

import pytest

from app.container import Services
from app.domain.documents import point_id
from app.services.search import SearchRequest
from tests.conftest import to_documents

TWINS = [{"id": f"twin-{i}", "title": "Identical twins", "body": "The same words in the same order, four times over.",
          "metadata": {"group": "twins"}} for i in range(4)]
OTHER = [{"id": "other", "title": "Something else", "body": "Unrelated text about ferns.", "metadata": {}}]

PLANS = {
    "dbsf fused in the store": {"fields": ["document", "keywords"], "fusion": "dbsf"},
    "weighted dbsf fused here": {"weights": {"keywords": 2.0}},
    "rrf fused in the store": {"fields": ["document", "body", "keywords"], "fusion": "rrf"},
    "one space": {"fields": ["document"]},
}


@pytest.mark.parametrize("plan", list(PLANS))
def test_ties_are_ordered_by_point_id_every_time(services: Services, plan: str) -> None:
    services.ingest.upsert(to_documents(TWINS + OTHER))
    by_pid = sorted(point_id(d["id"]) for d in TWINS)
    for limit in (10, 2):
        orders = set()
        for _ in range(15):
            hits = services.search.search(SearchRequest(query="identical twins same words", limit=limit,
                                                        **PLANS[plan])).hits  # type: ignore[arg-type]
            twins = [h for h in hits if h["id"].startswith("twin-")]
            if PLANS[plan].get("fusion") != "rrf":  # RRF ranks a tie: the scores differ by rank
                assert len({h["score"] for h in twins}) == 1, [h["score"] for h in twins]
            orders.add(tuple(h["point_id"] for h in twins))
        assert orders == {tuple(by_pid[:limit])}, (plan, limit, orders)
