"""Cascade plans on every adapter: one request, the same ranking as the stages computed from each space's own scores.

Every test here only reads: they share one loaded store per adapter (`shared_loaded`, `rerank_only`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.container import Services
from app.domain.cascade import CANDIDATES, FINAL, cascade_stages
from app.domain.plan import QueryPlan
from app.encoders.fastembed_encoder import EncoderPool
from app.services.search import SearchRequest
from app.settings import SpaceSettings, default_spaces
from app.store.cascade import Search, cascade_tree
from tests.conftest import shared_corpus

QUERIES = ["gene editing with CRISPR", "bread and fermented vegetables", "planets around other stars"]
# (request overrides, final-formula weight of stage 1[, its max_demotion: else the default plan's])
CASCADES: dict[str, tuple[Any, ...]] = {
    "weighted dbsf -> body": ({"fields": ["document", "keywords"], "weights": {"keywords": 1.5},
                               "rerank": ["body"]}, 0.0),
    "weighted dbsf -> body, formula": ({"fields": ["document", "keywords"], "weights": {"keywords": 1.5},
                                        "rerank": ["body"]}, 1.0),
    "dbsf -> body + entities, formula": ({"fields": ["document", "keywords"], "rerank": ["body", "entities"],
                                          "weights": {"entities": 0.5}}, 0.7),
    "rrf -> body, formula": ({"fields": ["title", "document", "keywords"], "fusion": "rrf", "rrf_k": 10,
                              "weights": {"keywords": 2.0}, "rerank": ["body"]}, 1.5),
    "one space -> entities": ({"fields": ["document"], "rerank": ["entities"]}, 0.0),
    # the final formula's bound (the default plan's 0.7 above; here tight, so that it binds, and none)
    "rrf -> body + entities, bound 0.1, stage 1 not weighed": (
        {"fields": ["document", "keywords"], "fusion": "rrf", "rerank": ["body", "entities"]}, 0.0, 0.1),
    "rrf -> body, formula, unbounded": ({"fields": ["document", "keywords"], "fusion": "rrf", "rerank": ["body"]},
                                        1.0, None),
}


def own_scores(svc: Services, plan: QueryPlan, query: str, *, rerank: bool = True
               ) -> tuple[dict[str, list[tuple[str, float]]], dict[str, dict[str, float]]]:
    """Each stage-1 space's own ranked list and (with `rerank`) each rerank space's own score of every
    point: plain one-space searches, nothing cascaded."""
    lists, scores = {}, {}
    for s in plan.spaces + (plan.rerank if rerank else ()):
        alone = svc.search.plan(SearchRequest(query=query, fields=[s.space], limit=100))
        hits = svc.search.run(replace(alone, prefetch_limit=plan.prefetch_limit), query)[0].hits
        lists[s.space] = [(h.id, h.score) for h in sorted(hits, key=lambda h: (-h.score, h.id))]
        scores[s.space] = dict(lists[s.space])
    return lists, scores


def cascade_plan(svc: Services, name: str, query: str, candidates: int, *, explain: bool = False,
                 limit: int = 3) -> QueryPlan:
    overrides, weight, *bound = CASCADES[name]
    plan = svc.search.plan(SearchRequest(query=query, limit=limit, candidates=candidates, explain=explain,
                                         **overrides))
    return replace(plan, candidates_weight=weight, **({"max_demotion": bound[0]} if bound else {}))


def no_tie_at_the_cut(stage: list[tuple[str, float]], candidates: int, everything: int) -> bool:
    return candidates >= everything or stage[candidates - 1][1] != stage[candidates][1]


@pytest.mark.parametrize("staged", [True, False], ids=["staged", "nested"])
@pytest.mark.parametrize("candidates", [4, 100])
@pytest.mark.parametrize("name", list(CASCADES))
def test_a_cascade_ranks_as_its_stages_computed_from_each_space_s_own_scores(
        shared_loaded: Services, name: str, candidates: int, staged: bool) -> None:
    for query in QUERIES:
        plan = replace(cascade_plan(shared_loaded, name, query, candidates), staged=staged)
        staged_here = plan.staged or plan.normalises_sparse  # stage 1 and the final formula in the service
        assert plan.cascade and shared_loaded.search.fused_in(plan) == ("client" if staged_here else "store")
        lists, scores = own_scores(shared_loaded, plan, query)
        expected = cascade_stages(plan, lists, scores)
        # stage 1 cut where no two candidates tie (the engine cuts a tie in its own order)
        deep = cascade_stages(replace(plan, candidates=100), lists, scores)[CANDIDATES]
        assert no_tie_at_the_cut(deep, plan.candidates, len(deep)), (name, query)
        vectors = shared_loaded.search.encode_query(plan, query)
        hits = shared_loaded.store.query(shared_loaded.registry.alias, plan, vectors).hits
        assert [h.id for h in hits] == [pid for pid, _ in expected[FINAL][: plan.limit]], (name, query)
        assert [h.score for h in hits] == pytest.approx([s for _, s in expected[FINAL][: plan.limit]], abs=1e-5)
        assert all(h.payload and h.payload["doc_id"] for h in hits)


@pytest.mark.parametrize("name", list(CASCADES))
def test_staged_and_nested_requests_answer_the_same_hits_and_stages(shared_loaded: Services, name: str) -> None:
    for query in QUERIES:
        plan = cascade_plan(shared_loaded, name, query, 12, explain=True, limit=8)
        vectors = shared_loaded.search.encode_query(plan, query)
        staged, nested = (shared_loaded.store.query(shared_loaded.registry.alias, replace(plan, staged=s), vectors)
                          for s in (True, False))
        assert [h.id for h in staged.hits] == [h.id for h in nested.hits], (name, query)
        assert [h.score for h in staged.hits] == pytest.approx([h.score for h in nested.hits], abs=1e-5)
        assert [h.payload for h in staged.hits] == [h.payload for h in nested.hits]
        assert set(staged.stages) == set(nested.stages) == {CANDIDATES, *(s.space for s in plan.rerank)}
        for stage, hits in staged.stages.items():
            assert [h.id for h in hits] == [h.id for h in nested.stages[stage]], (name, stage)
            assert [h.score for h in hits] == pytest.approx([h.score for h in nested.stages[stage]], abs=1e-5)
        assert {s: [h.id for h in hits] for s, hits in staged.per_space.items()} == \
            {s: [h.id for h in hits] for s, hits in nested.per_space.items()}


def test_explain_shows_each_stage_and_every_hit_s_rank_and_score_at_each(shared_loaded: Services) -> None:
    query = QUERIES[0]
    plan = cascade_plan(shared_loaded, "dbsf -> body + entities, formula", query, 6, explain=True)
    lists, scores = own_scores(shared_loaded, plan, query)
    expected = cascade_stages(plan, lists, scores)
    answer = shared_loaded.search.search(SearchRequest(query=query, limit=5, candidates=6, explain=True,
                                                **CASCADES["dbsf -> body + entities, formula"][0]))
    stages = answer.plan["stages"]  # type: ignore[index]
    assert [s["stage"] for s in stages] == ["candidates", "rerank", "rerank", "final"]
    assert stages[0] == {"stage": "candidates", "spaces": ["document", "keywords"], "limit": 6, "fusion": "dbsf"}
    assert "norm(body)" in stages[-1]["formula"] and "norm(entities)" in stages[-1]["formula"]
    assert len(answer.hits) == 5
    for position, hit in enumerate(answer.hits, start=1):
        pid, at = hit["point_id"], hit["stages"]
        assert at[FINAL] == {"rank": position, "score": hit["score"]}
        # each stage's term of the final formula: together they are the final score
        assert sum(at[stage]["contribution"] for stage in (CANDIDATES, "body", "entities")) == \
            pytest.approx(hit["score"], abs=1e-9)
        assert at["body"]["contribution"] == hit["explain"]["body"]["contribution"]
        ranks = {name: {p: i + 1 for i, (p, _) in enumerate(ranked)} for name, ranked in expected.items()}
        assert at[CANDIDATES]["rank"] == ranks[CANDIDATES][pid]
        for space in ("body", "entities"):
            assert at[space]["rank"] == ranks[space].get(pid)
            assert hit["explain"][space]["stage"] == "rerank"
            assert hit["explain"][space]["score"] == pytest.approx(scores[space].get(pid), abs=1e-5)
        assert hit["explain"]["document"]["stage"] == "candidates"


@pytest.fixture(scope="module")
def rerank_only(module_store_kind: str, tmp_path_factory: pytest.TempPathFactory, model_cache: Path,
                encoders: EncoderPool) -> Iterator[Services]:
    """The fixture corpus with `body` and `entities` stored without an HNSW graph, shared by the module's
    tests of it (they only read)."""
    spaces = [SpaceSettings(**{**s.model_dump(), "index": "rerank" if s.name in ("body", "entities") else "hnsw"})
              for s in default_spaces()]
    with shared_corpus(module_store_kind, tmp_path_factory.mktemp("rerank-only"), model_cache, encoders,
                       spaces=spaces) as svc:
        yield svc


def test_rerank_only_spaces_are_stored_without_a_graph(rerank_only: Services) -> None:
    specs = rerank_only.store.vector_specs(rerank_only.registry.physical())
    assert {n.split(".")[0]: s.index for n, s in specs.items()} == {
        "title": "hnsw", "body": "rerank", "summary": "hnsw", "entities": "rerank", "document": "hnsw",
        "keywords": "hnsw"}
    assert rerank_only.registry.get().live_version("body").index == "rerank"


def test_entities_alone_in_the_default_layout_rescores_the_default_plan_s_first_stage(shared_loaded: Services) -> None:
    # the default layout stores entities rerank-only; a request naming it alone fuses its `fields` (the `fused`
    # plan), but its candidates are the default plan's (document + keywords*1.5), as the note says
    answer = shared_loaded.search.search(SearchRequest(query=QUERIES[0], fields=["entities"], explain=True))
    plan = shared_loaded.search.plan(SearchRequest(query=QUERIES[0], fields=["entities"]))
    assert [(s.space, s.weight) for s in plan.spaces] == [("document", 1.0), ("keywords", 1.5)]
    assert [s.space for s in plan.rerank] == ["entities"]
    assert "candidates from the default first stage: document, keywords" in answer.plan["notes"]  # type: ignore[index]
    named = shared_loaded.search.plan(SearchRequest(query=QUERIES[0], fields=["entities"], plan="dense"))
    assert [s.space for s in named.spaces] == ["document", "body"]  # a plan it names lends its own first stage
    assert "candidates from the first stage of plan 'dense': document, body" in named.notes


def test_a_rerank_only_space_alone_rescores_the_default_first_stage_never_a_full_scan(rerank_only: Services) -> None:
    query = QUERIES[2]
    answer = rerank_only.search.search(SearchRequest(query=query, fields=["body"], explain=True))
    plan = rerank_only.search.plan(SearchRequest(query=query, fields=["body"]))
    assert [s.space for s in plan.rerank] == ["body"]
    # the default plan's first stage (document + keywords*1.5; body and entities cannot search alone)
    assert [(s.space, s.weight) for s in plan.spaces] == [("document", 1.0), ("keywords", 1.5)]
    assert not plan.formula  # body's own score orders the hits
    searched = _searches(cascade_tree(plan, plan.limit))
    assert "body" not in searched and searched == {"document", "keywords"}
    notes = " ".join(answer.plan["notes"])  # type: ignore[index]
    assert "body is rerank-only" in notes and "default first stage: document, keywords" in notes
    assert answer.hits[0]["id"] == "astro-1"
    lists, _ = own_scores(rerank_only, plan, query, rerank=False)  # body alone would be a cascade too
    assert [h["point_id"] for h in answer.hits] == [p for p, _ in cascade_stages(plan, lists, _full_body(
        rerank_only, query))[FINAL][: plan.limit]]


def test_the_fused_plan_cascades_a_rerank_only_space_it_fuses(rerank_only: Services) -> None:
    plan = rerank_only.search.plan(SearchRequest(query=QUERIES[1], explain=True, plan="fused"))
    assert [s.space for s in plan.spaces] == ["document", "keywords"] and [s.space for s in plan.rerank] == ["body"]
    assert plan.candidates_weight == 2.5  # stage 1 keeps the weight it had in the fusion: document 1 + keywords 1.5
    assert "entities" not in {s.space for s in plan.listed}  # weighted 0, rerank-only: not searched to explain
    hits = rerank_only.search.search(SearchRequest(query=QUERIES[1], plan="fused")).hits
    assert {h["id"] for h in hits[:2]} == {"cook-1", "cook-2"}
    default = rerank_only.search.search(SearchRequest(query=QUERIES[1])).hits  # the cascade: body rescores too
    assert {h["id"] for h in default[:2]} == {"cook-1", "cook-2"}


def _searches(node: Any) -> set[str]:
    """The spaces a request tree searches through their index (app.store.cascade.Search nodes)."""
    if isinstance(node, Search):
        return {node.space.space}
    kids = [node.child] if hasattr(node, "child") else list(getattr(node, "children", ()))
    return set().union(*(_searches(k) for k in kids)) if kids else set()


def _full_body(svc: Services, query: str) -> dict[str, dict[str, float]]:
    """body's own score of every point, from the stored vectors (MaxSim of cosines), not the engine."""
    return {"body": _exact_scores(svc, query, "body")}


def _exact_scores(svc: Services, query: str, space: str) -> dict[str, float]:
    """A multivector space's score of every point that has it, from the stored vectors (MaxSim of cosines)."""
    import numpy as np

    version = svc.registry.get().live_version(space)
    qv = np.asarray(svc.encoders.get(version.model).embed_query(query), dtype=np.float64)
    out: dict[str, float] = {}
    points, _ = svc.store.scroll(svc.registry.alias, filter=None, limit=100, offset=None, with_vectors=[version.name])
    for p in points:
        if p.vectors.get(version.name) is None:
            continue
        m = np.asarray(p.vectors[version.name], dtype=np.float64)
        out[p.id] = float(np.max(m @ qv / (np.linalg.norm(m, axis=1) * np.linalg.norm(qv))))
    return out


# float16 storage (the default): the engine scores the stored vector, normalised then rounded to 11 significant bits,
# where `_exact_scores` renormalises what it reads back; they agree to ~2e-5
F16 = 1e-4


@pytest.mark.parametrize("plan", ["fused", "all"])
def test_by_default_entities_has_no_graph_and_explain_scores_the_hits_with_it(shared_loaded: Services,
                                                                                  plan: str) -> None:
    """A new install stores `entities` rerank-only: it rescores when weighted (plan `all`), and weighted 0
    (plan `fused`) explain still shows its exact score of each hit, ranked among the hits."""
    specs = shared_loaded.store.vector_specs(shared_loaded.registry.physical())
    assert {n.split(".")[0]: s.index for n, s in specs.items()} == {
        "title": "hnsw", "body": "hnsw", "summary": "hnsw", "entities": "rerank", "document": "hnsw",
        "keywords": "hnsw"}
    query = QUERIES[1]
    answer = shared_loaded.search.search(SearchRequest(query=query, plan=plan, explain=True))
    exact = _exact_scores(shared_loaded, query, "entities")
    assert answer.hits and exact
    if plan == "all":  # weighted 1: it rescores the candidates of the five indexed spaces
        assert [s["space"] for s in answer.plan["rerank"]] == ["entities"]  # type: ignore[index]
        for hit in answer.hits:
            assert hit["explain"]["entities"]["stage"] == "rerank"
            assert hit["explain"]["entities"]["score"] == pytest.approx(exact[hit["point_id"]], abs=F16)
        return
    assert answer.plan["scored_only"] == ["entities"]  # type: ignore[index]
    among = sorted((h["point_id"] for h in answer.hits if h["point_id"] in exact), key=lambda p: (-exact[p], p))
    for hit in answer.hits:
        entry = hit["explain"]["entities"]
        assert entry["contribution"] == 0.0 and entry["weight"] == 0.0 and entry["ranked_among"] == "hits"
        assert entry["score"] == pytest.approx(exact[hit["point_id"]], abs=F16)
        assert entry["rank"] == among.index(hit["point_id"]) + 1


def test_a_filter_holds_at_every_stage(shared_loaded: Services) -> None:
    from app.domain.plan import metadata_filter

    req = SearchRequest(query=QUERIES[0], fields=["document", "keywords"], rerank=["body", "entities"],
                        candidates=3, filter=metadata_filter({"topic": "biology"}), explain=True)
    answer = shared_loaded.search.search(req)
    assert {h["id"] for h in answer.hits} == {"bio-1", "bio-2", "bio-3"}
    for hit in answer.hits:  # every stage saw only biology: the 3 candidates are the 3 biology abstracts
        assert all(at["rank"] is not None and at["rank"] <= 3 for at in hit["stages"].values())


def test_a_rerank_space_the_request_names_rescores_even_if_its_default_weight_is_0(shared_loaded: Services) -> None:
    query = QUERIES[0]
    plan = shared_loaded.search.plan(SearchRequest(query=query, rerank=["entities"], candidates=10, explain=True))
    assert [(s.space, s.weight) for s in plan.rerank] == [("entities", 1.0)]  # weighted 0 by default settings
    both = shared_loaded.search.plan(SearchRequest(query=query, rerank=["body", "entities"], candidates=10))
    assert [(s.space, s.weight) for s in both.rerank] == [("body", 1.0), ("entities", 1.0)]
    answer = shared_loaded.search.search(SearchRequest(query=query, rerank=["entities"], candidates=10, explain=True))
    assert answer.hits and all("entities" in hit["stages"] for hit in answer.hits)
    # weighted 0 by the request itself: it does not rescore, and the plan says so
    off = shared_loaded.search.plan(SearchRequest(query=query, rerank=["body", "entities"], weights={"entities": 0.0},
                                           explain=True))
    assert [s.space for s in off.rerank] == ["body"] and "entities is weighted 0: it does not rescore" in off.notes


@pytest.mark.parametrize("request_kw", [{}, {"fanout": True}, {"plan": "cascade"},
                                        *({**kw, "candidates": 8} for kw, *_ in CASCADES.values())],
                         ids=["default", "default-fanout", "named", *CASCADES])
def test_every_spaces_contribution_adds_up_to_the_score_in_a_cascade(shared_loaded: Services,
                                                                      request_kw: dict[str, Any]) -> None:
    """As in every other plan (a tester: the stage-1 spaces' numbers were contributions to the candidates'
    score, so document + keywords + body came to 3.58 beside a score of 1.96). A stage-1 space's
    `contribution` is its share of the candidates' term; `stage_contribution` what it added to their score."""
    for query in QUERIES[:2]:
        answer = shared_loaded.search.search(SearchRequest(query=query, limit=5, explain=True, **request_kw))
        assert answer.hits and answer.plan is not None and answer.plan.get("stages")
        for hit in answer.hits:
            entries, at = hit["explain"], hit["stages"]
            assert sum(e["contribution"] for e in entries.values()) == pytest.approx(hit["score"], abs=1e-9)
            first = [e for e in entries.values() if e["stage"] == CANDIDATES]
            assert first and sum(e["contribution"] for e in first) == pytest.approx(at[CANDIDATES]["contribution"],
                                                                                   abs=1e-9)
            assert all("stage_contribution" in e for e in first)
