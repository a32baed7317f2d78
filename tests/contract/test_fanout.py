"""Fan-out searches on both store adapters: a request per space under deadlines, what arrives fused.

Each test runs on the real engine (edge shard, qdrant-client in memory) with the real models. A slow
space sleeps until the test ends (30 s at most) against a 50 ms deadline, so "missed" cannot flake;
nothing else here is timed. Every test only reads: they share one loaded store per adapter (`shared_loaded`).
"""

from __future__ import annotations

from typing import Any

import pytest

from app.container import Services
from app.errors import SearchDeadline
from app.services.search import SearchRequest, SearchResponse
from tests.slow import slow_search

QUERY = "bacteria in fermented food"
WIDE = 30_000  # ms: the budget, so that only the slow space can miss on a loaded machine


def scored(response: SearchResponse) -> list[tuple[str, float]]:
    return [(h["id"], h["score"]) for h in response.hits]


def assert_same_hits(a: SearchResponse, b: SearchResponse) -> None:
    """Same ids in the same order, same scores: to float32's precision, since qdrant-client's in-memory
    mode gives the same request scores that differ in the 7th digit from one call to the next."""
    assert [i for i, _ in scored(a)] == [i for i, _ in scored(b)] and a.hits
    assert [s for _, s in scored(a)] == pytest.approx([s for _, s in scored(b)], rel=1e-6)


def assert_same_explain(a: SearchResponse, b: SearchResponse) -> None:
    """Each hit's explain: the same spaces and ranks, the same contributions (to float32's precision)."""
    for x, y in zip(a.hits, b.hits, strict=True):
        assert {sp: e["rank"] for sp, e in x["explain"].items()} == {sp: e["rank"] for sp, e in y["explain"].items()}
        for space, e in x["explain"].items():
            assert e["contribution"] == pytest.approx(y["explain"][space]["contribution"], rel=1e-6)


@pytest.mark.parametrize("request_kw", [
    {},  # the default plan: the cascade (stage 1 document + keywords*1.5 fused, body rescoring the candidates)
    {"plan": "fused"},  # weighted DBSF of document, body, keywords (fused by the service in both modes)
    {"fusion": "rrf", "weights": {"title": 2.0, "body": 1.0, "keywords": 0.5}, "rrf_k": 10},
    {"fields": ["keywords"]},  # one space: its own scores
], ids=["default", "fused", "weighted-rrf", "one-space"])
def test_fanout_with_no_slow_space_answers_as_the_batch_request(shared_loaded: Services,
                                                               request_kw: dict[str, Any]) -> None:
    batch = shared_loaded.search.search(SearchRequest(query=QUERY, explain=True, limit=8, fanout=False, **request_kw))
    fanned = shared_loaded.search.search(SearchRequest(query=QUERY, explain=True, limit=8, fanout=True, **request_kw))
    assert_same_hits(fanned, batch)
    assert_same_explain(fanned, batch)
    assert [h["title"] for h in fanned.hits] == [h["title"] for h in batch.hits]  # payloads of the winners
    assert fanned.degraded == [] and batch.degraded == []
    assert batch.plan is not None and fanned.plan is not None
    assert (batch.plan["execution"], fanned.plan["execution"]) == ("batch", "fanout")
    assert {o["status"] for o in fanned.plan["fanout"].values()} == {"answered"}


def test_fanout_fuses_unweighted_dbsf_as_the_engine_does(shared_loaded: Services) -> None:
    """Unweighted DBSF is fused by the engine in a batch request, by app.domain.fusion in fan-out."""
    kw: dict[str, Any] = {"query": QUERY, "fields": ["title", "body", "keywords"], "fusion": "dbsf", "limit": 8}
    batch = shared_loaded.search.search(SearchRequest(**kw, fanout=False))
    fanned = shared_loaded.search.search(SearchRequest(**kw, fanout=True))
    assert [i for i, _ in scored(fanned)] == [i for i, _ in scored(batch)]
    assert [s for _, s in scored(fanned)] == pytest.approx([s for _, s in scored(batch)], rel=1e-5)


def test_a_slow_space_is_left_out_and_the_answer_is_flagged_degraded(shared_loaded: Services) -> None:
    with slow_search(shared_loaded.search, slow={"body"}, deadlines_ms={"body": 50}, budget_ms=WIDE) as (search, store):
        fanned = search.search(SearchRequest(query=QUERY, limit=8, fanout=True, explain=True))
        assert {"body"} in store.queried  # the slow space was asked, on its own request
        assert {"body"} not in store.finished  # and the answer did not wait for it
    # the others' hits, fused exactly as a batch search of the default plan without body fuses them
    without_body = shared_loaded.search.search(SearchRequest(query=QUERY, limit=8, weights={"body": 0.0}, fanout=False))
    assert fanned.degraded == ["body"]
    assert_same_hits(fanned, without_body)
    assert fanned.plan is not None
    assert fanned.plan["degraded"] == ["body"]
    body = fanned.plan["fanout"]["body"]
    assert body["status"] == "timeout" and body["deadline_ms"] == 50 and body["ms"] >= 50
    assert {fanned.plan["fanout"][s]["status"] for s in ("document", "keywords")} == {"answered"}
    # explain shows only the spaces that answered: a missing list is not a space that found nothing
    assert all("body" not in h["explain"] and "keywords" in h["explain"] for h in fanned.hits)


def test_a_slow_rerank_only_space_that_only_explains_is_left_out_of_explain_not_of_the_answer(
        shared_loaded: Services) -> None:
    """`entities` (rerank-only by default, weighted 0 in plan `fused`) scores the hits for `explain` only: in
    fan-out it does so under its own deadline, and missing it leaves the answer whole (not degraded)."""
    batch = shared_loaded.search.search(SearchRequest(query=QUERY, limit=8, plan="fused", explain=True))
    with slow_search(shared_loaded.search, slow={"entities"}, deadlines_ms={"entities": 50}, budget_ms=WIDE) as (
            search, store):
        fanned = search.search(SearchRequest(query=QUERY, limit=8, plan="fused", fanout=True, explain=True))
        assert {"entities"} in store.queried and {"entities"} not in store.finished
    assert_same_hits(fanned, batch)
    assert fanned.degraded == [] and fanned.plan is not None
    assert fanned.plan["fanout"]["entities"]["status"] == "timeout"
    assert all("entities" in h["explain"] for h in batch.hits)
    assert all("entities" not in h["explain"] and "title" in h["explain"] for h in fanned.hits)


def test_a_failing_space_counts_as_missed_not_as_a_failed_search(shared_loaded: Services) -> None:
    with slow_search(shared_loaded.search, failing={"keywords"}, budget_ms=WIDE) as (search, _):
        fanned = search.search(SearchRequest(query=QUERY, limit=8, fanout=True, explain=True))
    alone = shared_loaded.search.search(SearchRequest(query=QUERY, limit=8, weights={"keywords": 0.0}, fanout=False))
    assert fanned.degraded == ["keywords"]
    assert_same_hits(fanned, alone)
    assert fanned.plan is not None
    outcome = fanned.plan["fanout"]["keywords"]
    assert outcome["status"] == "failed" and "is down" in outcome["error"]


def test_one_space_left_is_ranked_by_its_own_scores(shared_loaded: Services) -> None:
    with slow_search(shared_loaded.search, slow={"body", "document"}, deadlines_ms={"body": 50, "document": 50},
                     budget_ms=WIDE) as (search, _):
        fanned = search.search(SearchRequest(query=QUERY, limit=8, fanout=True, plan="fused"))
    keywords = shared_loaded.search.search(SearchRequest(query=QUERY, limit=8, fields=["keywords"], fanout=False))
    assert fanned.degraded == ["body", "document"]
    assert_same_hits(fanned, keywords)


def test_with_every_space_slow_the_search_fails_naming_them_and_the_budget(shared_loaded: Services) -> None:
    with slow_search(shared_loaded.search, slow={"body", "document", "keywords"}) as (search, _), \
            pytest.raises(SearchDeadline) as caught:
        search.search(SearchRequest(query=QUERY, budget_ms=50, plan="fused"))
    message = caught.value.message
    assert "no space answered within the search's 50 ms budget" in message
    assert all(f"{space} timed out after 50 ms" in message for space in ("body", "document", "keywords"))
    assert caught.value.detail["spaces"]["body"]["status"] == "timeout"


def test_a_cascade_whose_rerank_space_is_slow_answers_its_candidates_flagged_degraded(shared_loaded: Services) -> None:
    """Stage 1 answered, `body` (the rerank space) missed its deadline: the candidates in stage-1 order,
    the same as a batch search of stage 1's spaces, and `body` named in `degraded`."""
    with slow_search(shared_loaded.search, slow={"body"}, deadlines_ms={"body": 50}, budget_ms=WIDE,
                     cascade_requests="nested") as (search, _):
        fanned = search.search(SearchRequest(query=QUERY, limit=8, fanout=True, plan="cascade", explain=True))
    stage1 = shared_loaded.search.search(SearchRequest(query=QUERY, limit=8, fields=["document", "keywords"],
                                                weights={"keywords": 1.5}, fanout=False))
    assert fanned.degraded == ["body"]
    assert fanned.plan is not None and fanned.plan["fanout"]["body"]["status"] == "timeout"
    assert fanned.plan["requests"] == "staged"  # whatever search.cascade_requests says: fan-out runs stage by stage
    assert_same_hits(fanned, stage1)
