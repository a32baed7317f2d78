"""What API users do: upsert, read, search with explain, delete, health and readiness, OpenAPI."""

from __future__ import annotations

from litestar.testing import TestClient

from tests.fixtures import DOCS


def test_upsert_answers_with_the_ids_written(seeded: TestClient) -> None:
    r = seeded.post("/documents", json={"documents": DOCS[:3]})
    assert r.status_code == 200
    body = r.json()
    assert body["ids"] == [d["id"] for d in DOCS[:3]]
    assert body["count"] == 3
    assert "title.minilm-l6-int8-shared.v3" in body["vector_versions"]  # the shared mode: new installs


def test_get_returns_the_document_with_derived_fields_marked(seeded: TestClient) -> None:
    r = seeded.get("/documents/astro-1")
    assert r.status_code == 200
    doc = r.json()
    assert doc["id"] == "astro-1" and doc["metadata"] == {"topic": "astronomy", "year": 2023}
    assert doc["derived"] == {"summary": True, "entities": True}
    assert doc["summary"] and doc["entities"]


def test_search_with_explain_shows_every_space_the_plan_and_timings(seeded: TestClient) -> None:
    r = seeded.post("/search", json={"query": "James Webb telescope planet atmosphere", "explain": True, "limit": 3,
                                     "plan": "fused"})  # the plan that fuses three spaces and observes the others
    assert r.status_code == 200
    body = r.json()
    top = body["hits"][0]
    assert top["id"] == "astro-1" and top["title"].startswith("Exoplanet")
    spaces = {"title", "body", "summary", "entities", "document", "keywords"}
    assert set(top["explain"]) == spaces
    assert all(top["explain"][s]["rank"] is not None for s in spaces)
    # the default fuses the spaces evaluation chose; the others are still explained
    # the others are explained from their own lists, or (entities: rerank-only, no list) by scoring the hits
    assert {s["space"] for s in body["plan"]["spaces"]} | set(body["plan"]["observed_only"]) \
        | set(body["plan"]["scored_only"]) == spaces
    assert body["plan"]["scored_only"] == ["entities"] and top["explain"]["entities"]["ranked_among"] == "hits"
    assert {s["space"] for s in body["plan"]["spaces"]} == {"document", "body", "keywords"}
    assert {"encode", "store", "total"} <= set(body["timings_ms"])


def test_search_without_explain_is_lean(seeded: TestClient) -> None:
    body = seeded.post("/search", json={"query": "sauerkraut", "limit": 2}).json()
    assert body["plan"] is None and "explain" not in body["hits"][0]
    assert body["hits"][0]["id"] == "cook-2"


def test_search_fields_fusion_weights_and_filter(seeded: TestClient) -> None:
    body = seeded.post("/search", json={
        "query": "bacteria", "fields": ["title", "keywords"], "fusion": "rrf", "rrf_k": 20,
        "weights": {"title": 1.0, "keywords": 2.0}, "filter": {"topic": "biology"}, "explain": True,
    }).json()
    assert {h["metadata"]["topic"] for h in body["hits"]} == {"biology"}
    assert body["plan"]["fusion"] == "rrf" and body["plan"]["rrf_k"] == 20
    assert [s["weight"] for s in body["plan"]["spaces"]] == [1.0, 2.0]


def test_delete_then_get_is_404(seeded: TestClient) -> None:
    doc = {"id": "temp-1", "title": "Temporary", "body": "Deleted soon."}
    assert seeded.post("/documents", json={"documents": [doc]}).status_code == 200
    assert seeded.get("/documents/temp-1").status_code == 200
    assert seeded.delete("/documents/temp-1").status_code == 204
    r = seeded.get("/documents/temp-1")
    assert r.status_code == 404 and r.json()["code"] == "document_not_found"
    assert seeded.delete("/documents/temp-1").status_code == 404


def test_health_ready_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["store"] == "edge"
    assert ready["live"]["body"] == "body.minilm-l6-int8-shared.v2"
    schema = client.get("/schema/openapi.json").json()
    assert {"/documents", "/search", "/documents/{doc_id}"} <= set(schema["paths"])


def test_explain_lists_spaces_weighted_out_of_the_fusion(seeded: TestClient) -> None:
    body = seeded.post("/search", json={
        "query": "CRISPR gene editing", "explain": True,
        "weights": {"title": 1.0, "keywords": 1.0, "body": 0, "summary": 0, "entities": 0, "document": 0},
    }).json()
    assert [s["space"] for s in body["plan"]["spaces"]] == ["title", "keywords"]
    assert set(body["plan"]["observed_only"]) | set(body["plan"]["scored_only"]) == {"body", "summary", "entities",
                                                                                      "document"}
    top = body["hits"][0]
    assert top["id"] == "bio-1"
    assert set(top["explain"]) == {"title", "body", "summary", "entities", "document", "keywords"}
    assert top["explain"]["body"]["rank"] == 1 and top["explain"]["body"]["contribution"] == 0.0
    assert top["explain"]["title"]["contribution"] > 0
