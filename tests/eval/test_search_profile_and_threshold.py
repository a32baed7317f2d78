"""The API searches with the fitted ranking profile by default, and `threshold: true` drops weak hits."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services
from app.domain.profiles import RankingProfile, VersionThreshold
from app.settings import Settings

QUERY = "CRISPR Cas9 guide RNA cuts DNA"


def live_versions(services: Services) -> dict[str, str]:
    reg = services.registry.get()
    return {s: reg.live_version(s).name for s in reg.live_spaces()}


def profile_for(versions: dict[str, str], **changes: Any) -> RankingProfile:
    weights = {s: 0.0 for s in versions} | {"document": 1.0, "keywords": 2.0}
    return RankingProfile(name="fitted", version=1, fusion="rrf", rrf_k=7, weights=weights,
                          vector_versions=versions, **changes)


def search(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/search", json={"query": QUERY, **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_search_uses_the_profile_when_the_request_names_no_ranking(settings: Settings, loaded: Services) -> None:
    stored = loaded.search.profiles.save_profile(profile_for(live_versions(loaded)))
    with TestClient(create_app(settings, services=loaded)) as client:
        out = search(client, explain=True)
        assert out["plan"]["profile"]["id"] == stored.id == "fitted.v1"
        assert out["plan"]["fusion"] == "rrf" and out["plan"]["rrf_k"] == 7
        assert [(s["space"], s["weight"]) for s in out["plan"]["spaces"]] == [("document", 1.0), ("keywords", 2.0)]
        assert out["hits"][0]["id"] == "bio-1"

        # a request that chooses its own ranking gets exactly that
        own = search(client, explain=True, fusion="dbsf")
        assert own["plan"]["profile"] is None and own["plan"]["fusion"] == "dbsf"
        assert len(own["plan"]["spaces"]) + len(own["plan"]["observed_only"]) + len(own["plan"]["scored_only"]) == 6
        assert search(client, explain=True, fields=["title"])["plan"]["profile"] is None

    # saving again makes the next version
    assert loaded.search.profiles.save_profile(profile_for(live_versions(loaded))).version == 2


def test_a_profile_fitted_on_other_vector_versions_is_not_used(settings: Settings, loaded: Services) -> None:
    versions = live_versions(loaded) | {"document": "document.other-model.v3"}
    loaded.search.profiles.save_profile(profile_for(versions))
    with TestClient(create_app(settings, services=loaded)) as client:
        plan = search(client, explain=True)["plan"]
    assert plan["profile"] is None
    assert "document.other-model.v3" in plan["profile_skipped"]
    assert plan["fusion"] == settings.search.fusion
    default = settings.search.plans[settings.search.plan]  # the default plan runs: the cascade
    assert {s["space"]: s["weight"] for s in plan["spaces"]} == {n: default.weights.get(n, 1.0)
                                                                for n in default.fields or ()}
    assert [s["space"] for s in plan["rerank"]] == default.rerank


def test_threshold_drops_hits_below_it_and_says_so(settings: Settings, loaded: Services) -> None:
    doc_version = live_versions(loaded)["document"]
    with TestClient(create_app(settings, services=loaded)) as client:
        # nothing calibrated yet: hits come back unfiltered, with a note saying why
        plain = search(client, fields=["document"], threshold=True)
        assert len(plain["hits"]) == 10 and "no calibrated threshold" in plain["note"]

        hits = search(client, fields=["document"])["hits"]
        cut = (hits[1]["score"] + hits[2]["score"]) / 2  # between the 2nd and 3rd hit
        loaded.search.profiles.save_thresholds({doc_version: VersionThreshold(
            version=doc_version, threshold=cut, beta=1.0, precision=0.5, recall=0.5, f_beta=0.5)})
        kept = search(client, fields=["document"], threshold=True)
        assert [h["id"] for h in kept["hits"]] == [h["id"] for h in hits[:2]]
        assert "8 hit(s) below the similarity threshold dropped" in kept["note"]

        # the threshold applies to the space's raw score, whatever the fusion: fused hits are kept
        # when their document score clears it (the other spaces have no threshold, so do not vote)
        fused = search(client, threshold=True, fusion="rrf", explain=True)
        assert fused["hits"] and all(h["explain"]["document"]["score"] >= cut for h in fused["hits"])
        assert fused["plan"]["thresholds"] == {doc_version: pytest.approx(cut)}

        # a BM25 threshold does not vote beside a dense one (its raw score grows with the query's length)...
        kw_version = live_versions(loaded)["keywords"]
        loaded.search.profiles.save_thresholds({kw_version: VersionThreshold(
            version=kw_version, threshold=1e6, beta=1.0, precision=1.0, recall=0.1, f_beta=0.2, kind="sparse")})
        both = search(client, fields=["document", "keywords"], threshold=True)
        assert {h["id"] for h in both["hits"]} == {h["id"] for h in hits[:2]}
        # ...but decides a keywords-only search
        assert search(client, fields=["keywords"], threshold=True)["hits"] == []

        # an off-topic query: nothing clears the threshold, so nothing is returned, and the note says so
        loaded.search.profiles.save_thresholds({doc_version: VersionThreshold(
            version=doc_version, threshold=0.99, beta=1.0, precision=1.0, recall=0.1, f_beta=0.2)})
        none = client.post("/search", json={"query": "recipe for sourdough", "fields": ["document"],
                                            "threshold": True}).json()
        assert none["hits"] == [] and "no hit passed the similarity threshold" in none["note"]
        # without `threshold` the same search returns its hits as before
        assert len(search(client, fields=["document"])["hits"]) == 10
