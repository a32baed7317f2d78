"""OPTIONS on every path of the contract: `Allow` lists every method the path answers, as its 405 does."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services


def methods(header: str | None) -> set[str]:
    return {m.strip() for m in (header or "").split(",") if m.strip()}


def concrete(path: str) -> str:
    """A request path for a path template of the schema (any value for its parameter)."""
    return path.replace("{doc_id}", "some-id").replace("{step}", "no-such-step")


def test_options_lists_every_method_of_every_path_in_the_schema(client: TestClient) -> None:
    """`OPTIONS /documents/{id}` said `DELETE, OPTIONS` (Litestar kept the answer of the handler registered first,
    found by a tester), while a PUT's 405 listed all four; admin paths answered OPTIONS 401 without `Allow`."""
    paths = client.get("/schema/openapi.json").json()["paths"]
    wrong = {}
    for template, item in paths.items():
        declared = {m.upper() for m in item if m in {"get", "post", "put", "patch", "delete"}}
        expected = declared | {"OPTIONS"} | ({"HEAD"} if "GET" in declared else set())
        options = client.options(concrete(template))
        refused = client.request("PATCH" if "PATCH" not in declared else "PUT", concrete(template))
        got = (options.status_code, methods(options.headers.get("allow")), methods(refused.headers.get("allow")))
        if got != (204, expected, expected):
            wrong[template] = got
    assert len(paths) > 10 and not wrong, wrong


@pytest.mark.parametrize(("keys", "guarded"), [({"api_key": "rw-key"}, "/search"),
                                               ({"admin_token": "admin-token"}, "/admin/optimize")])
def test_options_is_answered_without_a_key_as_the_405_is(app_services: Services, keys: dict[str, str],
                                                         guarded: str) -> None:
    settings = app_services.settings.model_copy(update=keys)
    with TestClient(create_app(settings, services=app_services)) as c:
        for path in ("/search", "/documents/some-id", "/admin/backup"):
            options = c.options(path)
            assert options.status_code == 204 and "OPTIONS" in methods(options.headers.get("allow")), path
        assert c.post(guarded, json={"query": "x"}).status_code == 401  # the route itself still needs the key
