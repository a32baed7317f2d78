"""The inspection page names what is wrong with an odd parameter instead of showing nothing (found by a tester:
an unknown version showed 0 points, a key with no value matched nothing, `limit=-5` was "not a whole number",
an unknown page was a bare "Not Found"); the playground runs a named plan."""

from __future__ import annotations

import html

import pytest
from litestar.testing import TestClient

from app.services.plans import requestable_plans


def error_of(page: str) -> str:
    assert 'id="error"' in page, page[:1500]
    return html.unescape(page.split('id="error">', 1)[1].split("</div>", 1)[0])


@pytest.mark.parametrize(("params", "says"), [
    ({"version": "nope"}, "has version: no vector version named 'nope'"),
    ({"missing": "nope"}, "lacks version: no vector version named 'nope'"),
    ({"version": "v" * 256}, f"no vector version named {'v' * 60!r}…"),
    ({"key": "topic"}, "metadata key 'topic' has no value"),
    ({"key": "", "value": "biology"}, "value 'biology' has no metadata key"),
    ({"collection": "nope"}, "no collection or alias named 'nope'"),
])
def test_the_point_browser_names_an_odd_parameter(seeded: TestClient, params: dict[str, str], says: str) -> None:
    page = seeded.get("/inspect/points", params=params)
    assert page.status_code == 200 and says in error_of(page.text)
    assert 'class="point hit"' not in page.text


def test_a_known_version_still_filters(seeded: TestClient, app_services: object) -> None:
    page = seeded.get("/inspect/points", params={"version": "body.minilm-l6-int8-shared.v2", "limit": 2})
    assert 'id="error"' not in page.text and page.text.count('class="point hit"') == 2


@pytest.mark.parametrize("limit", ["-5", "0", "101", "1.5", "x", "²"])
def test_the_playground_gives_the_bounds_of_limit(seeded: TestClient, limit: str) -> None:
    page = seeded.get("/inspect/search", params={"q": "gene editing", "limit": limit})
    assert page.status_code == 200
    assert f"limit: a whole number from 1 to 100, not {limit!r}" in error_of(page.text)


def test_the_playground_runs_a_named_plan(seeded: TestClient, app_services: object) -> None:
    page = seeded.get("/inspect/search", params={"q": "gene editing with guide RNA", "limit": "2"})
    for name in requestable_plans(app_services.settings.search):  # type: ignore[attr-defined]
        assert f"<option >{name}</option>" in page.text or f"<option>{name}</option>" in page.text, name
    fused = seeded.get("/inspect/search", params={"q": "gene editing with guide RNA", "limit": "2", "plan": "fused"})
    assert fused.status_code == 200 and 'id="error"' not in fused.text
    assert "plan fused · fusion" in fused.text and "<option selected>fused</option>" in fused.text
    unknown = seeded.get("/inspect/search", params={"q": "gene editing", "plan": "nope"})
    assert "unknown plan 'nope'" in error_of(unknown.text)


@pytest.mark.parametrize("path", ["/inspect/nope", "/nope", "/documents"])
def test_an_unknown_path_is_named_in_its_404(seeded: TestClient, path: str) -> None:
    r = seeded.get(path)
    if path == "/documents":  # a path that exists, for another method: the 405 names the method and the path
        assert r.status_code == 405 and "GET is not a method of '/documents'" in r.json()["message"]
        return
    assert r.status_code == 404 and r.json()["code"] == "http_error"
    assert f"no route at {path!r}" in r.json()["message"]


def test_a_long_unknown_path_is_named_by_its_start(seeded: TestClient) -> None:
    r = seeded.get("/inspect/" + "n" * 20_000)
    assert r.status_code == 404 and len(r.content) < 400 and "no route at '/inspect/nnn" in r.json()["message"]
