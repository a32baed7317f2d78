"""`POST /search` with `fusion: "learned"` through Litestar: the stored scorer ranks and is explained, and a
missing or stale scorer is a 422 saying what to do."""

from __future__ import annotations

from litestar.testing import TestClient

from app.container import Services
from tests.contract.test_learned_fusion import QUERIES, SPACES, TERMS, live, make_scorer, store_profile


def test_learned_fusion_through_the_api(seeded: TestClient, app_services: Services) -> None:
    versions = live(app_services)
    store_profile(app_services, scorer=None)
    r = seeded.post("/search", json={"query": QUERIES[0], "fusion": "learned"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "learned_scorer_unavailable" and "none is stored" in body["message"]
    assert "scripts/evaluate --fit" in body["message"]

    stale = versions | {"document": "document.other-model.v4"}
    store_profile(app_services, scorer=make_scorer(stale), versions=stale)
    r = seeded.post("/search", json={"query": QUERIES[0], "fusion": "learned"})
    assert r.status_code == 422 and r.json()["code"] == "learned_scorer_unavailable"
    assert "document: document.other-model.v4 (searched document.minilm" in r.json()["message"]
    assert r.json()["detail"]["fitted_on"]["document"] == "document.other-model.v4"

    store_profile(app_services, scorer=make_scorer(versions))
    r = seeded.post("/search", json={"query": QUERIES[0], "fusion": "learned", "explain": True, "limit": 5})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["plan"]["fusion"] == "learned" and out["plan"]["fused_in"] == "client"
    assert out["plan"]["scorer"]["coefficients"] == TERMS
    assert out["hits"][0]["id"] == "bio-1"
    for hit in out["hits"]:
        assert abs(sum(hit["explain"][s]["contribution"] for s in SPACES) - hit["score"]) < 1e-9
        assert set(hit["explain"]["body"]["features"]) == {"found", "dbsf", "minmax", "rr", "rank", "score"}
    lean = seeded.post("/search", json={"query": QUERIES[0], "fusion": "learned", "limit": 5}).json()
    assert [h["id"] for h in lean["hits"]] == [h["id"] for h in out["hits"]] and lean["plan"] is None

    # what does not fit a learned plan is named, and nothing else is searched
    r = seeded.post("/search", json={"query": QUERIES[0], "fusion": "learned", "weights": {"body": 2.0}})
    assert r.status_code == 422 and "weights do not apply to fusion 'learned'" in r.json()["message"]
    r = seeded.post("/search", json={"query": QUERIES[0], "fusion": "learned", "fields": ["title"]})
    assert r.status_code == 422 and "document, body, keywords" in r.json()["message"]
    r = seeded.post("/search", json={"query": QUERIES[0], "fusion": "learnt"})
    assert r.status_code == 422 and "fusion" in r.text
