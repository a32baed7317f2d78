"""Fan-out's rules on fakes: when a search fans out, deadlines, a full pool, errors that are the request's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.container import Services, build_services
from app.errors import CollectionNotFound, InvalidInput, SearchDeadline
from app.services.fanout import Deadlines, FanOut
from app.services.search import SearchRequest
from app.settings import SearchSettings, Settings, StoreSettings
from tests.conftest import to_documents
from tests.fakes import FakeEncoderPool, FakeStore
from tests.fixtures import DOCS
from tests.slow import slow_search


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Services]:
    settings = Settings(store=StoreSettings(path=tmp_path / "unused"))
    svc = build_services(settings, store=FakeStore(), encoders=FakeEncoderPool())  # type: ignore[arg-type]
    svc.ingest.upsert(to_documents(DOCS))
    yield svc
    svc.close()


def test_a_request_chooses_fanout_and_settings_decide_otherwise() -> None:
    batch = FanOut(SearchSettings())
    fan = FanOut(SearchSettings(execution="fanout", budget_ms=300, deadlines_ms={"body": 80}))
    try:
        assert batch.deadlines(fanout=None, budget_ms=None) is None
        assert batch.deadlines(fanout=True, budget_ms=None) == Deadlines(1000, {})
        assert batch.deadlines(fanout=None, budget_ms=250) == Deadlines(250, {})  # a budget asks for fan-out
        assert fan.deadlines(fanout=False, budget_ms=None) is None
        assert fan.deadlines(fanout=None, budget_ms=None, experiment=True) is None  # validation, A/B: whole answers
        d = fan.deadlines(fanout=None, budget_ms=None)
        assert d is not None and (d.of("body"), d.of("keywords")) == (80, 300)
        d = fan.deadlines(fanout=None, budget_ms=50)
        assert d is not None and (d.of("body"), d.of("keywords")) == (50, 50)  # the budget cuts every deadline
    finally:
        batch.close()
        fan.close()


def test_a_bad_budget_is_refused_naming_it() -> None:
    fan = FanOut(SearchSettings(max_budget_ms=5000))
    try:
        with pytest.raises(InvalidInput, match=r"budget_ms 6000 is outside 1\.\.5000"):
            fan.deadlines(fanout=None, budget_ms=6000)
        with pytest.raises(InvalidInput, match="cannot be given with fanout false"):
            fan.deadlines(fanout=False, budget_ms=100)
    finally:
        fan.close()


def test_settings_read_per_space_deadlines_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTIVEC_SEARCH__EXECUTION", "fanout")
    monkeypatch.setenv("MULTIVEC_SEARCH__DEADLINES_MS__BODY", "150")
    monkeypatch.setenv("MULTIVEC_SEARCH__BUDGET_MS", "400")
    s = Settings().search
    assert (s.execution, s.deadlines_ms, s.budget_ms) == ("fanout", {"body": 150}, 400)
    monkeypatch.setenv("MULTIVEC_SEARCH__DEADLINES_MS__BOODY", "150")
    with pytest.raises(ValidationError, match="deadlines_ms names unknown space 'boody'"):
        Settings()
    with pytest.raises(ValidationError, match=r"over search\.max_budget_ms"):
        SearchSettings(budget_ms=40_000, max_budget_ms=30_000)


def test_a_full_pool_sends_nothing_more_and_the_spaces_not_sent_count_as_missed(fake: Services) -> None:
    """One worker, no queue: the slow first space holds the worker, the others are not sent (`busy`)."""
    with slow_search(fake.search, slow={"body"}, fanout_workers=1, fanout_queue=0) as (search, store):
        with pytest.raises(SearchDeadline) as caught:
            search.search(SearchRequest(query="bacteria", budget_ms=50, plan="fused"))
        assert store.queried == [{"body"}]  # nothing queued behind it
    detail = caught.value.detail["spaces"]
    assert detail["body"]["status"] == "timeout"
    assert detail["document"]["status"] == detail["keywords"]["status"] == "busy"
    assert "keywords was not sent (the fan-out pool is full)" in caught.value.message


def test_an_error_that_is_the_requests_own_fails_the_search_as_a_batch_request_would(fake: Services) -> None:
    with pytest.raises(CollectionNotFound):
        fake.search.search(SearchRequest(query="bacteria", collection="nope", fanout=True))


def test_a_search_fanned_out_from_settings_reports_execution_and_degraded_spaces(fake: Services) -> None:
    with slow_search(fake.search, failing={"document"}, execution="fanout") as (search, _):
        result = search.search(SearchRequest(query="sourdough starter", explain=True))
    assert result.degraded == ["document"]
    assert result.plan is not None and result.plan["execution"] == "fanout" and result.plan["degraded"] == ["document"]
    assert result.plan["fanout"]["document"]["status"] == "failed"
    assert result.hits[0]["id"] == "cook-1"



def test_a_cascade_fans_out_stage_by_stage_and_a_missed_rerank_keeps_the_candidates(fake: Services) -> None:
    """Stage 1's spaces go out one request each, the candidates are fused here, the rerank space scores
    exactly them in its own request: the same answer as the batch cascade. Without the rerank space the
    answer is the candidates in stage-1 order, flagged degraded."""
    whole = fake.search.search(SearchRequest(query="sourdough starter", plan="cascade", explain=True))
    with slow_search(fake.search, execution="fanout") as (search, store):
        fanned = search.search(SearchRequest(query="sourdough starter", plan="cascade", explain=True))
        assert {"body"} in store.queried and {"document"} in store.queried  # a request per space
    assert fanned.plan is not None and fanned.plan["execution"] == "fanout" and fanned.degraded == []
    assert [(h["id"], round(h["score"], 6)) for h in fanned.hits] == [(h["id"], round(h["score"], 6))
                                                                        for h in whole.hits]
    assert [h["stages"] for h in fanned.hits] == [h["stages"] for h in whole.hits]
    assert fanned.plan["fanout"]["body"]["status"] == "answered"
    stage1 = fake.search.search(SearchRequest(query="sourdough starter", fields=["document", "keywords"],
                                              weights={"keywords": 1.5}))
    with slow_search(fake.search, failing={"body"}, execution="fanout") as (search, _):
        missed = search.search(SearchRequest(query="sourdough starter", plan="cascade"))
    assert missed.degraded == ["body"] and [h["id"] for h in missed.hits] == [h["id"] for h in stage1.hits]


def test_a_list_ready_when_its_wait_begins_but_late_for_its_deadline_counts_as_missed() -> None:
    """Waits run one after another, so a space's list can be ready by then although it arrived past its
    deadline: it is a timeout (its arrival time says so), never `answered` with ms over the deadline."""
    import time
    from concurrent.futures import Future

    late: Future = Future()
    late.set_result(([], 50.0))  # arrived 50 ms after the search started
    on_time: Future = Future()
    on_time.set_result(([], 5.0))
    lists: dict = {}
    started = time.perf_counter() - 0.2  # the wait begins 200 ms in
    missed = FanOut._wait("body", late, started, 10, lists)
    assert (missed.status, missed.ms, missed.deadline_ms) == ("timeout", 50.0, 10) and "body" not in lists
    answered = FanOut._wait("document", on_time, started, 10, lists)
    assert answered.status == "answered" and "document" in lists
