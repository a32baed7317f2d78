"""The inspection page over HTTP: what each part shows, escaping, the read key, no raw vectors by default."""

from __future__ import annotations

import re
from dataclasses import replace

from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services
from app.services.inspect import dashboard_url, vector_shape
from app.services.playground import explain_charts
from app.versioning.declare import Migration
from app.versioning.engine import Migrator
from tests.migrations.conftest import NEW, QUERIES


def test_overview_shows_collections_aliases_registry_and_coverage(seeded: TestClient, app_services: Services) -> None:
    page = seeded.get("/inspect/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    physical = app_services.registry.physical()
    assert physical in page.text and app_services.registry.alias in page.text
    reg = app_services.registry.get()
    for space in reg.spaces.values():
        assert space.live is not None and space.live in page.text
    assert "11/11 (100.0 %)" in page.text  # every point tagged with every live version
    # each version's storage as the collection holds it: float16 (the default), entities without a graph
    storage = re.findall(r'<td class="storage">(.*?)</td>', page.text)
    assert storage.count('float16 · <span class="tag">rerank-only</span>') == 1 and "float16" in storage
    assert "\u2013" in storage  # keywords: sparse, no datatype (an en dash)
    assert "None applied." in page.text
    assert "/dashboard" not in page.text  # the embedded store has no Qdrant dashboard


def test_point_browser_shows_shapes_and_tags_but_not_the_vectors(seeded: TestClient) -> None:
    page = seeded.get("/inspect/points", params={"key": "topic", "value": "biology", "limit": 2})
    assert page.status_code == 200, page.text
    assert "3 matching point(s)" in page.text
    assert page.text.count('class="point hit"') == 2 and 'id="next"' in page.text
    assert "dense · 384 dims" in page.text and "multivector · " in page.text and "sparse · nnz " in page.text
    assert "body.minilm-l6-int8-shared.v2" in page.text
    assert "<summary>vectors</summary>" not in page.text
    raw = seeded.get("/inspect/points", params={"key": "topic", "value": "biology", "limit": 1, "vectors": 1})
    assert "<summary>vectors</summary>" in raw.text


def test_point_browser_filters_on_derived_flags_and_versions(seeded: TestClient) -> None:
    derived = seeded.get("/inspect/points", params={"derived": "entities", "limit": 4})
    assert derived.text.count('class="point hit"') == 4 and "bio-1" not in derived.text  # bio-1 gave its own
    seen = 4
    while 'id="next"' in derived.text:
        nxt = derived.text.split('id="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        derived = seeded.get(nxt)
        assert "bio-1" not in derived.text
        seen += derived.text.count('class="point hit"')
    assert seen == 10
    assert "0 matching" in seeded.get("/inspect/points", params={"missing": "title.minilm-l6-int8-shared.v3"}).text
    bad = seeded.get("/inspect/points", params={"key": "a b", "value": "x"})
    assert bad.status_code == 200 and 'id="error"' in bad.text and "not a metadata name" in bad.text


def test_playground_draws_one_bar_per_space_for_each_hit(seeded: TestClient) -> None:
    page = seeded.get("/inspect/search", params={"q": "gene editing with guide RNA", "limit": "3"})
    assert page.status_code == 200, page.text
    assert page.text.count('<svg class="explain"') == 3
    assert "bio-1" in page.text and 'class="bar" data-space="keywords"' in page.text
    # the default plan is a cascade: the legend gives its rerank space's weight too, not 0
    assert re.search(r'</i>body <span class="muted">\u00d7 1\.0</span>', page.text), page.text[:2000]
    # and says so, stage by stage (a tester read "fusion dbsf" and bars that did not add up to the score)
    stages = re.search(r'<p class="muted" id="stages">(.*?)</p>', page.text, re.S)
    assert stages and "candidates from document + keywords (dbsf)" in stages[1] and "body rescores them" in stages[1]
    assert "score = " in stages[1] and "norm(body)" in stages[1]
    assert 'id="stages"' not in seeded.get("/inspect/search", params={"q": "gene", "plan": "fused"}).text
    refused = seeded.get("/inspect/search", params={"q": "x", "weights": "title=lots"})
    assert 'id="error"' in refused.text and "space=number" in refused.text


def test_user_data_is_escaped(client: TestClient) -> None:
    doc = {"id": "<b>x</b>", "title": "<script>alert(1)</script>", "body": "a <img src=x onerror=alert(2)> body",
           "metadata": {"topic": "<i>t</i>"}}
    assert client.post("/documents", json={"documents": [doc]}).status_code == 200
    try:
        page = client.get("/inspect/points", params={"key": "topic", "value": "<i>t</i>"}).text
        assert "1 matching" in page
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<img src=x" not in page and "<b>x</b>" not in page and "<i>t</i>" not in page
        search = client.get("/inspect/search", params={"q": "<script>alert(1)</script>"}).text
        assert "<script>alert(1)</script>" not in search
    finally:
        client.delete("/documents/%3Cb%3Ex%3C%2Fb%3E")


def test_the_page_needs_the_read_key_when_keys_are_set(app_services: Services) -> None:
    settings = app_services.settings.model_copy(update={"api_key": "rw-secret", "read_only_api_key": "ro-secret"})
    with TestClient(create_app(settings, services=app_services)) as c:
        assert c.get("/inspect/").status_code == 401
        assert c.get("/inspect/points", headers={"api-key": "wrong"}).status_code == 401
        assert c.get("/inspect/", headers={"api-key": "ro-secret"}).status_code == 200
        assert c.get("/inspect/search", headers={"Authorization": "Bearer rw-secret"}).status_code == 200


def test_view_model_helpers() -> None:
    assert dashboard_url("http://qdrant:6333/") == "http://qdrant:6333/dashboard"
    assert dashboard_url(None) is None and dashboard_url(":memory:") is None
    assert vector_shape([0.1] * 4) == "dense · 4 dims"
    assert vector_shape([[0.1] * 4] * 3) == "multivector · 3 x 4"
    assert vector_shape({"indices": [1, 5], "values": [0.2, 0.3]}) == "sparse · nnz 2"
    hits = [{"explain": {"a": {"rank": 1, "score": 0.9, "weight": 1.0, "contribution": 0.5},
                         "b": {"rank": None, "score": None, "weight": 0.0, "contribution": 0.0}}},
            {"explain": {"a": {"rank": 2, "score": 0.5, "weight": 1.0, "contribution": 0.25},
                         "b": {"rank": 1, "score": 0.7, "weight": 0.0, "contribution": 0.0}}}]
    charts = explain_charts(hits, [{"space": "a", "weight": 1.0}])
    first, second = charts["charts"]
    assert [r["space"] for r in first["rows"]] == ["a", "b"]
    assert first["rows"][0]["width"] == 2 * second["rows"][0]["width"] > 0  # one scale for every hit
    assert first["rows"][1]["width"] == 0 and first["rows"][1]["rank"] == "not ranked"
    assert second["rows"][1]["rank"] == "rank 1" and second["rows"][1]["value"] == "weight 0"
    # a rerank-only space weighted 0 ranks the hits it scored, not the collection: the chart says so
    scored = [{"explain": {"a": {"rank": 1, "score": 0.9, "weight": 1.0, "contribution": 0.5},
                           "e": {"rank": 2, "score": 0.4, "weight": 0.0, "contribution": 0.0, "ranked_among": "hits"}}}]
    row = explain_charts(scored, [{"space": "a", "weight": 1.0}])["charts"][0]["rows"][1]
    assert row["rank"] == "rank 2 of these hits" and "rank 2 of these hits, score 0.4000" in row["title"]


def test_every_part_renders_on_both_stores(loaded: Services) -> None:
    """Edge and qdrant-client in memory (the server adapter): the same page, the same numbers."""
    with TestClient(create_app(loaded.settings, services=loaded)) as c:
        overview = c.get("/inspect/").text
        assert f"{loaded.registry.physical()}" in overview and "11/11 (100.0 %)" in overview
        points = c.get("/inspect/points", params={"version": "keywords.bm25-multilingual-scripts.v4", "limit": 20}).text
        assert "11 matching point(s)" in points and "sparse · nnz " in points
        search = c.get("/inspect/search", params={"q": "sourdough starter", "limit": "2"}).text
        assert search.count('<svg class="explain"') == 2 and "cook-1" in search


def test_overview_follows_a_migration_from_shadow_to_its_verdict(corpus: Services, migrator: Migrator,
                                                                 migration: Migration) -> None:
    with TestClient(create_app(corpus.settings, services=corpus)) as c:
        migrator.apply(migration)
        page = c.get("/inspect/").text
        assert NEW in page and "0001_title_paraphrase_l3" in page and "not validated" in page
        assert "0/11 (0.0 %)" in page and f"missing={NEW}" in page.replace("%2E", ".")
        migrator.backfill(None, batch=4, max_points=4)
        assert "4/11 (36.4 %)" in c.get("/inspect/").text
        migrator.backfill(None)
        migrator.validate(None, QUERIES)
        page = c.get("/inspect/").text
        assert "11/11 (100.0 %)" in page and "fused nDCG@10" in page and "4 queries" in page
        assert "worse than the margin" in page  # paraphrase-L3 ranks titles alone worse (tests.migrations)


def test_a_server_store_links_to_qdrant_dashboard(seeded: TestClient, app_services: Services) -> None:
    store = app_services.settings.store.model_copy(update={"url": "http://qdrant.example:6333"})
    server = replace(app_services, settings=app_services.settings.model_copy(update={"store": store}))
    with TestClient(create_app(server.settings, services=server)) as c:
        assert 'href="http://qdrant.example:6333/dashboard"' in c.get("/inspect/").text
