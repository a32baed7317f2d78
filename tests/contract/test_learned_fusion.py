"""Learned scoring on every store adapter: `fusion: "learned"` ranks as a reference computed by hand from
the spaces' own lists, shows each hit's features and terms in `explain`, and is refused without a
scorer for the searched vector versions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.container import Services, build_services
from app.domain.fusion import dbsf_normalize
from app.domain.profiles import RankingProfile
from app.domain.scorer import LearnedScorer
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import NoLearnedScorer
from app.services.search import SearchRequest
from tests.conftest import STORE_KINDS, make_settings, to_documents
from tests.fixtures import DOCS

SPACES = ("document", "body", "keywords")
TERMS = {"document:dbsf": 2.0, "body:rr": 1.0, "keywords:found": 0.5, "keywords:minmax": 1.5,
         "document:dbsf*keywords:found": 0.7}
QUERIES = ["CRISPR Cas9 guide RNA cuts DNA", "immune cells and bacteria in the gut", "rare orchid in grassland"]


@pytest.fixture(scope="module", params=STORE_KINDS)
def svc(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_cache: Path,
        encoders: EncoderPool) -> Iterator[Services]:
    """One loaded store per adapter (edge, memory) for the module; each test stores the profile it needs."""
    kind = str(request.param)
    services = build_services(make_settings(kind, tmp_path_factory.mktemp(f"learned-{kind}"), model_cache),
                              encoders=encoders)
    services.ingest.upsert(to_documents(DOCS))
    services.store.optimize(services.registry.physical())
    yield services
    services.close()


def live(services: Services) -> dict[str, str]:
    reg = services.registry.get()
    return {s: reg.live_version(s).name for s in reg.live_spaces()}


def store_profile(services: Services, *, scorer: LearnedScorer | None, versions: dict[str, str] | None = None
                  ) -> RankingProfile:
    versions = versions or live(services)
    profile = RankingProfile(name="fitted", version=1, fusion="dbsf", rrf_k=60,
                             weights={s: 0.0 for s in versions} | {"document": 1.0, "keywords": 2.0},
                             vector_versions=versions, scorer=scorer.to_dict() if scorer else None)
    return services.search.profiles.save_profile(profile)


def make_scorer(versions: dict[str, str], *, default: bool = False) -> LearnedScorer:
    return LearnedScorer(spaces=SPACES, terms=tuple(TERMS), coefficients=tuple(TERMS.values()), depth=100,
                         vector_versions=tuple((s, versions[s]) for s in SPACES), model="test", default=default)


def reference(lists: dict[str, list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """TERMS computed by hand from each space's own list: the formulas of the feature table, no scorer code."""
    norm = dict(dbsf_normalize(lists["document"]))
    body_rank = {pid: i + 1 for i, (pid, _) in reversed(list(enumerate(lists["body"])))}
    kw = dict(lists["keywords"])
    low, high = min(kw.values(), default=0.0), max(kw.values(), default=0.0)
    scores = {}
    for pid in {p for ranked in lists.values() for p, _ in ranked}:
        found = 1.0 if pid in kw else 0.0
        minmax = ((kw[pid] - low) / (high - low) if high > low else 1.0) if pid in kw else 0.0
        body_rr = 1.0 / body_rank[pid] if pid in body_rank else 0.0
        dense = norm.get(pid, 0.0)
        scores[pid] = 2.0 * dense + 1.0 * body_rr + 0.5 * found + 1.5 * minmax + 0.7 * dense * found
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def own_lists(services: Services, query: str) -> dict[str, list[tuple[str, float]]]:
    """Each space's own top 100, as the store answers a plan that lists them (point ids, raw scores)."""
    plan = services.search.plan(SearchRequest(query=query, fields=list(SPACES), fusion="dbsf", explain=True,
                                              limit=100))
    result, _ = services.search.run(plan, query)
    return {s: [(h.id, h.score) for h in hits] for s, hits in result.per_space.items()}


@pytest.mark.parametrize("query", QUERIES)
def test_learned_fusion_ranks_as_the_reference_from_the_spaces_own_lists(svc: Services, query: str) -> None:
    store_profile(svc, scorer=make_scorer(live(svc)))
    out = svc.search.search(SearchRequest(query=query, fusion="learned", explain=True, limit=8))
    expected = reference(own_lists(svc, query))[:8]
    assert [h["point_id"] for h in out.hits] == [pid for pid, _ in expected]
    assert [h["score"] for h in out.hits] == pytest.approx([score for _, score in expected])
    assert out.plan is not None
    assert out.plan["fusion"] == "learned" and out.plan["fused_in"] == "client"
    assert [s["space"] for s in out.plan["spaces"]] == list(SPACES)
    assert out.plan["scorer"]["coefficients"] == TERMS and out.plan["profile"]["id"].startswith("fitted.v")
    for hit in out.hits:
        explained: dict[str, Any] = hit["explain"]
        assert sum(explained[s]["contribution"] for s in SPACES) == pytest.approx(hit["score"])
        doc = explained["document"]
        assert set(doc["terms"]) == {"document:dbsf", "document:dbsf*keywords:found"}
        assert doc["terms"]["document:dbsf"] == pytest.approx(2.0 * doc["features"]["dbsf"])
        assert explained["keywords"]["features"]["found"] == (0.0 if explained["keywords"]["rank"] is None else 1.0)
        # the other live spaces are listed to be explained, and add nothing
        assert {"title", "summary", "entities"} <= set(explained)
        assert explained["title"]["contribution"] == 0.0


def test_learned_fusion_fanned_out_ranks_as_one_batch_request(svc: Services) -> None:
    """A request per space (fan-out mode) fuses the lists that answered with the same scorer."""
    store_profile(svc, scorer=make_scorer(live(svc)))
    for query in QUERIES:
        batch = svc.search.search(SearchRequest(query=query, fusion="learned", limit=8))
        fanned = svc.search.search(SearchRequest(query=query, fusion="learned", limit=8, fanout=True, explain=True))
        assert [h["point_id"] for h in fanned.hits] == [h["point_id"] for h in batch.hits]
        # the in-memory client scores a one-query request and a batch through different numpy paths (1e-9 apart)
        assert [h["score"] for h in fanned.hits] == pytest.approx([h["score"] for h in batch.hits], rel=1e-7)
        assert fanned.plan is not None and fanned.plan["fusion"] == "learned"


def test_the_learned_scorer_is_the_default_only_when_evaluation_made_it_so(svc: Services) -> None:
    versions = live(svc)
    store_profile(svc, scorer=make_scorer(versions, default=False))
    bare = svc.search.search(SearchRequest(query=QUERIES[0], explain=True))
    assert bare.plan is not None and bare.plan["fusion"] == "dbsf" and bare.plan["profile"]["scorer"] == {
        "model": "test", "default": False}

    store_profile(svc, scorer=make_scorer(versions, default=True))
    learned = svc.search.search(SearchRequest(query=QUERIES[0], explain=True, limit=5))
    assert learned.plan is not None and learned.plan["fusion"] == "learned"
    expected = reference(own_lists(svc, QUERIES[0]))[:5]
    assert [h["point_id"] for h in learned.hits] == [pid for pid, _ in expected]
    # weights belong to the profile's weighted fusion: a request adjusting them gets that
    weighted = svc.search.search(SearchRequest(query=QUERIES[0], explain=True, weights={"body": 1.0}))
    assert weighted.plan is not None and weighted.plan["fusion"] == "dbsf"
    assert {s["space"]: s["weight"] for s in weighted.plan["spaces"]} == {"document": 1.0, "body": 1.0,
                                                                          "keywords": 2.0}


def test_learned_fusion_without_a_scorer_for_the_searched_versions_is_refused(svc: Services) -> None:
    store_profile(svc, scorer=None)
    with pytest.raises(NoLearnedScorer, match="none is stored"):
        svc.search.search(SearchRequest(query=QUERIES[0], fusion="learned"))
    stale = live(svc) | {"keywords": "keywords.other-bm25.v9"}
    store_profile(svc, scorer=make_scorer(stale), versions=stale)
    with pytest.raises(NoLearnedScorer, match=r"keywords: keywords.other-bm25.v9 \(searched keywords\."):
        svc.search.search(SearchRequest(query=QUERIES[0], fusion="learned"))
    # the stale profile is not the default either: the settings' fusion applies, and says why
    out = svc.search.search(SearchRequest(query=QUERIES[0], explain=True))
    assert out.plan is not None and out.plan["profile"] is None and "keywords.other-bm25.v9" in out.plan[
        "profile_skipped"]
