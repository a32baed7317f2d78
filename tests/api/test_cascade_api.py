"""Cascades and named plans through HTTP: `rerank`, `candidates`, `plan`, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from app.container import Services
from app.domain.profiles import RankingProfile


def search(client: TestClient, **body: Any) -> Any:
    return client.post("/search", json={"query": "bread and fermented vegetables", **body})


def test_rerank_and_candidates_run_a_cascade_explained_stage_by_stage(seeded: TestClient) -> None:
    r = search(seeded, fields=["document", "keywords"], rerank=["body"], candidates=5, limit=3, explain=True)
    assert r.status_code == 200, r.text
    body = r.json()
    plan = body["plan"]
    # staged: the service fuses stage 1 and computes the final formula
    assert plan["fused_in"] == "client" and plan["candidates"] == 5 and plan["requests"] == "staged"
    assert [s["space"] for s in plan["rerank"]] == ["body"]
    assert [s["stage"] for s in plan["stages"]] == ["candidates", "rerank", "final"]
    assert plan["stages"][-1]["formula"] == "score(body)"  # body's own score orders the hits
    hits = body["hits"]
    assert {h["id"] for h in hits[:2]} == {"cook-1", "cook-2"}
    for rank, hit in enumerate(hits, start=1):
        assert hit["stages"]["final"]["rank"] == rank
        assert hit["stages"]["candidates"]["rank"] <= 5  # every hit was a candidate
        assert hit["stages"]["body"]["score"] == hit["score"] == hit["explain"]["body"]["score"]
    assert [h["stages"]["body"]["rank"] for h in hits] == [1, 2, 3]


def test_fewer_candidates_change_what_can_come_back(seeded: TestClient) -> None:
    deep = search(seeded, fields=["document"], rerank=["body"], candidates=10, limit=10).json()["hits"]
    shallow = search(seeded, fields=["document"], rerank=["body"], candidates=2, limit=2).json()["hits"]
    document_top2 = search(seeded, fields=["document"], limit=2).json()["hits"]
    assert {h["id"] for h in shallow} == {h["id"] for h in document_top2}  # only document's top 2 are rescored
    assert len(deep) == 10


def test_a_named_plan_runs_its_settings(seeded: TestClient) -> None:
    body = search(seeded, plan="cascade", explain=True).json()
    assert [s["space"] for s in body["plan"]["spaces"]] == ["document", "keywords"]
    assert [s["space"] for s in body["plan"]["rerank"]] == ["body"]
    keyword = search(seeded, plan="keyword", explain=True).json()["plan"]
    assert {s["space"]: s["weight"] for s in keyword["spaces"]} == {"keywords": 2.0, "document": 1.0}
    assert "rerank" not in keyword
    # `rerank: []` turns a cascade plan's rerank off
    plain = search(seeded, plan="cascade", rerank=[], explain=True).json()["plan"]
    assert "rerank" not in plain and [s["space"] for s in plain["spaces"]] == ["document", "keywords"]


@pytest.mark.parametrize(("body", "status", "code", "names"), [
    ({"plan": "nope"}, 422, "unknown_plan", "'nope'"),
    ({"plan": ""}, 422, "invalid_input", "plan"),
    ({"plan": 3}, 422, "invalid_input", "plan"),
    ({"rerank": ["nope"]}, 422, "unknown_space", "'nope'"),
    ({"rerank": "body"}, 422, "invalid_input", "rerank"),
    ({"rerank": ["body", "body"]}, 422, "invalid_input", "rerank lists a space twice"),
    ({"candidates": 0}, 422, "invalid_input", "candidates"),
    ({"candidates": 1001}, 422, "invalid_input", "candidates 1001 is over the maximum of 1000"),
    ({"candidates": "50"}, 422, "invalid_input", "candidates"),
    ({"rerank": ["body"], "weights": {"body": -1}}, 422, "invalid_input", "weight of 'body' is negative"),
    ({"plan": "cascade", "weights": {"document": 0, "keywords": 0}}, 422, "invalid_input",
     "zero for every space that finds the candidates to rescore (document, keywords)"),
    # the same kind, reached through the default first stage: the request's zeros hold there too
    ({"plan": "cascade", "fields": ["body"], "weights": {"document": 0, "keywords": 0}}, 422, "invalid_input",
     "no space left to find candidates for ['body'] to rescore"),
    # (the plan's first stage, document and keywords, all reranking; named in `fields` too, it is the 422
    # below, a space named in both)
    ({"plan": "cascade", "rerank": ["document", "keywords"]}, 422,
     "invalid_input", "no space left to find candidates for ['document', 'keywords'] to rescore"),
    ({"plan": "fused", "rerank": ["document", "keywords", "body"]}, 422, "invalid_input",
     "with document, keywords, body: give one of them a weight above 0, or rerank with fewer spaces"),
    ({"fields": ["document"] * 65}, 422, "invalid_input", "fields"),
    # a space named to find candidates and to rescore them: candidates came from keywords, which nobody named
    ({"fields": ["document"], "rerank": ["document"]}, 422, "invalid_input",
     "'document' named in both fields and rerank"),
    ({"fields": ["document", "keywords", "body"], "rerank": ["entities", "body"]}, 422, "invalid_input",
     "'body' named in both fields and rerank"),
    ({"plan": "fused", "fields": ["title", "keywords"], "rerank": ["keywords", "title"], "fanout": True}, 422,
     "invalid_input", "'title', 'keywords' named in both fields and rerank"),
])
def test_bad_cascade_input_is_a_422_naming_it(seeded: TestClient, body: dict[str, Any], status: int, code: str,
                                              names: str) -> None:
    r = search(seeded, **body)
    assert r.status_code == status, r.text
    err = r.json()
    assert err["code"] == code and names in err["message"] + str(err["detail"]), err
    if code == "unknown_plan":
        assert err["detail"]["known"] == ["all", "cascade", "dense", "fused", "keyword", "auto"]
        assert "'auto'" in err["message"]


def test_a_named_plan_may_not_name_a_space_in_both_fields_and_rerank() -> None:
    """The same contradiction in settings (`MULTIVEC_SEARCH__PLANS`) fails the start, naming the plan's space."""
    from pydantic import ValidationError

    from app.settings import PlanSettings

    with pytest.raises(ValidationError, match="'body' named in both fields and rerank"):
        PlanSettings(fields=["document", "body"], rerank=["body"])


def test_every_plan_the_unknown_plan_error_lists_is_one_a_request_may_name(seeded: TestClient) -> None:
    known = search(seeded, plan="nope").json()["detail"]["known"]
    assert "auto" in known
    for name in known:  # complete and true: each runs (`auto` with no router stored: the default plan)
        r = search(seeded, plan=name)
        assert r.status_code == 200, (name, r.text)


def test_a_stored_profile_keeps_ranking_bare_searches_and_a_named_plan_overrides_it(
        seeded: TestClient, app_services: Services) -> None:
    repo = app_services.search.profiles
    reg = app_services.registry.get()
    live = {s: reg.live_version(s).name for s in reg.live_spaces()}
    repo.save_profile(RankingProfile(name="t", version=1, fusion="dbsf", rrf_k=60,
                                     weights={"title": 1.0, "keywords": 1.0}, vector_versions=live))
    try:
        bare = search(seeded, explain=True).json()["plan"]
        assert bare["profile"]["id"].startswith("t.v") and {s["space"] for s in bare["spaces"]} == {"title", "keywords"}
        # rerank adjusts the profile's plan: its spaces find the candidates
        cascaded = search(seeded, rerank=["body"], explain=True).json()["plan"]
        assert cascaded["profile"]["id"].startswith("t.v") and [s["space"] for s in cascaded["rerank"]] == ["body"]
        named = search(seeded, plan="cascade", explain=True).json()["plan"]
        assert named["profile"] is None and [s["space"] for s in named["spaces"]] == ["document", "keywords"]
    finally:
        repo._write(repo.profile_key, {})  # no profile again, for the module's other tests


def test_the_openapi_document_declares_the_cascade_fields(seeded: TestClient) -> None:
    props = seeded.get("/schema/openapi.json").json()["components"]["schemas"]["SearchIn"]["properties"]
    assert props["candidates"]["maximum"] == 1000
    assert {"plan", "rerank", "candidates"} <= set(props)


def test_a_space_named_to_rerank_leaves_stage_1_and_the_plan_says_so(seeded: TestClient) -> None:
    r = search(seeded, plan="cascade", rerank=["document"], explain=True)
    assert r.status_code == 200, r.text
    plan = r.json()["plan"]
    assert [s["space"] for s in plan["spaces"]] == ["keywords"] and [s["space"] for s in plan["rerank"]] == ["document"]
    assert "document is a rerank space here: it rescored the candidates, it did not find them" in plan["notes"]


@pytest.mark.parametrize(("body", "unsearched"), [
    ({"plan": "cascade", "weights": {"title": 1000}}, "title"),
    ({"plan": "dense", "weights": {"keywords": 5}}, "keywords"),
    ({"fields": ["document"], "weights": {"keywords": 5, "title": 0}}, "keywords"),
])
def test_a_weight_on_a_space_the_plan_does_not_search_is_named_in_the_notes(
        seeded: TestClient, body: dict[str, Any], unsearched: str) -> None:
    """A weight adjusts a space the plan searches; one the plan leaves out was ignored without a word (found by
    a break test): explain's notes now name it (and not a space weighed 0)."""
    r = seeded.post("/search", json={"query": "galaxy", "explain": True, **body})
    assert r.status_code == 200, r.text
    notes = [n for n in r.json()["plan"].get("notes", []) if n.startswith("weighted but not searched")]
    assert len(notes) == 1 and f": {unsearched} (" in notes[0], notes
    plain = seeded.post("/search", json={"query": "galaxy", "explain": True, "plan": "cascade"}).json()["plan"]
    assert not any(n.startswith("weighted but not searched") for n in plain.get("notes", []))


@pytest.mark.parametrize(("body", "note"), [
    ({"fusion": "dbsf", "rrf_k": 5}, "rrf_k 5 is not used: fusion is dbsf"),
    ({"plan": "cascade", "rrf_k": 5}, "rrf_k 5 is not used: fusion is dbsf"),
    ({"fields": ["document"], "rrf_k": 7}, "rrf_k 7 is not used: fusion is"),
    ({"fields": ["document"], "fusion": "rrf", "rrf_k": 7}, "rrf_k 7 is not used: one space finds the candidates"),
    ({"plan": "fused", "candidates": 5}, "candidates 5 is not used: nothing is reranked"),
    ({"rerank": [], "candidates": 5}, "candidates 5 is not used: nothing is reranked"),
])
def test_an_option_the_plan_does_not_use_is_named_in_the_notes(seeded: TestClient, body: dict[str, Any],
                                                              note: str) -> None:
    """A tester found `rrf_k` dropped without a word under another fusion, and `candidates` where nothing is
    reranked; each is now named, as a weight on a space the plan does not search is."""
    r = seeded.post("/search", json={"query": "galaxy", "explain": True, **body})
    assert r.status_code == 200, r.text
    assert any(n.startswith(note) for n in r.json()["plan"].get("notes", [])), r.json()["plan"].get("notes")
    used = seeded.post("/search", json={"query": "galaxy", "explain": True, "fusion": "rrf", "rrf_k": 5,
                                        "fields": ["document", "keywords"], "rerank": ["body"], "candidates": 20})
    assert not any(" is not used: " in n for n in used.json()["plan"].get("notes", []))


def test_a_rerank_space_weighted_0_gets_one_true_note(seeded: TestClient) -> None:
    """It was told both "it rescored the candidates" and "it does not rescore" (a tester)."""
    r = seeded.post("/search", json={"query": "galaxy", "explain": True, "rerank": ["body"], "weights": {"body": 0}})
    assert r.status_code == 200, r.text
    notes = [n for n in r.json()["plan"].get("notes", []) if n.startswith("body ")]
    assert notes == ["body is weighted 0: it does not rescore"], notes
