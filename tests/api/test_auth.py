"""API keys on Qdrant's pattern: writes need the read-write key, reads either key; admin keeps its token.

Every refused write is checked to have changed nothing that is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services
from tests.fixtures import DOCS

RW, RO, ADMIN = "rw-secret", "ro-secret", "admin-secret"
NEW = {"id": "auth-new", "title": "Keys for writes", "body": "Only the read-write key may write."}
KEPT = DOCS[0]["id"]


def key(secret: str) -> dict[str, str]:
    return {"api-key": secret}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def keyed(app_services: Services) -> Iterator[TestClient]:
    """The app with both API keys and an admin token, over the module's store with the fixtures loaded."""
    settings = app_services.settings.model_copy(update={"api_key": RW, "read_only_api_key": RO, "admin_token": ADMIN})
    with TestClient(create_app(settings, services=app_services)) as client:
        r = client.post("/documents", json={"documents": DOCS}, headers=key(RW))
        assert r.status_code == 200, r.text
        yield client


def stored(services: Services) -> tuple[int, dict[str, Any]]:
    return services.ingest.count(), services.ingest.get(KEPT)


def assert_refused(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == code and body["message"]


WRITES = [("POST", "/documents", {"documents": [NEW]}), ("DELETE", f"/documents/{KEPT}", None)]
READS = [("POST", "/search", {"query": "gene editing"}), ("GET", f"/documents/{KEPT}", None)]


def call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=["upsert", "delete"])
@pytest.mark.parametrize("headers", [{}, key("wrong"), bearer("wrong"), bearer(ADMIN), {"Authorization": RW}],
                         ids=["no key", "wrong key", "wrong bearer", "admin token", "no scheme"])
def test_a_write_without_the_key_is_401_and_changes_nothing(keyed: TestClient, app_services: Services, method: str,
                                                           path: str, body: Any, headers: dict[str, str]) -> None:
    before = stored(app_services)
    assert_refused(call(keyed, method, path, body, headers), 401, "unauthorized")
    assert stored(app_services) == before


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=["upsert", "delete"])
@pytest.mark.parametrize("headers", [key(RO), bearer(RO)], ids=["api-key", "bearer"])
def test_a_write_with_the_read_only_key_is_403_and_changes_nothing(
    keyed: TestClient, app_services: Services, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    before = stored(app_services)
    r = call(keyed, method, path, body, headers)
    assert_refused(r, 403, "forbidden")
    assert "read-only" in r.json()["message"]
    assert stored(app_services) == before


@pytest.mark.parametrize("headers", [key(RW), bearer(RW)], ids=["api-key", "bearer"])
def test_the_read_write_key_writes_and_deletes(keyed: TestClient, headers: dict[str, str]) -> None:
    assert keyed.post("/documents", json={"documents": [NEW]}, headers=headers).status_code == 200
    assert keyed.get(f"/documents/{NEW['id']}", headers=headers).json()["title"] == NEW["title"]
    assert keyed.delete(f"/documents/{NEW['id']}", headers=headers).status_code == 204
    assert keyed.get(f"/documents/{NEW['id']}", headers=headers).status_code == 404


@pytest.mark.parametrize(("method", "path", "body"), READS, ids=["search", "get"])
@pytest.mark.parametrize("headers", [key(RO), bearer(RO), key(RW), bearer(RW)],
                         ids=["ro api-key", "ro bearer", "rw api-key", "rw bearer"])
def test_reads_take_either_key(keyed: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> None:
    assert call(keyed, method, path, body, headers).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), READS, ids=["search", "get"])
@pytest.mark.parametrize("headers", [{}, key("wrong"), bearer(ADMIN)], ids=["no key", "wrong key", "admin token"])
def test_reads_without_a_key_are_401(keyed: TestClient, method: str, path: str, body: Any,
                                     headers: dict[str, str]) -> None:
    assert_refused(call(keyed, method, path, body, headers), 401, "unauthorized")


def test_probes_stay_open_for_liveness_and_readiness(keyed: TestClient) -> None:
    assert keyed.get("/health").status_code == 200
    assert keyed.get("/ready").json()["status"] == "ready"


@pytest.mark.parametrize("headers", [{}, key(RW), bearer(RW), bearer("wrong")],
                         ids=["none", "rw api-key", "rw bearer", "wrong token"])
def test_admin_takes_only_its_own_token(keyed: TestClient, headers: dict[str, str]) -> None:
    assert_refused(keyed.get("/admin/migrations", headers=headers), 401, "unauthorized")
    assert keyed.get("/admin/migrations", headers=bearer(ADMIN)).status_code == 200


def test_without_an_admin_token_admin_answers_only_loopback_clients(client: TestClient) -> None:
    # Litestar's test client calls from the host "testclient": not this machine's loopback, so refused.
    r = client.post("/admin/optimize")
    assert_refused(r, 401, "unauthorized")
    assert "MULTIVEC_ADMIN_TOKEN" in r.json()["message"]


def test_without_keys_data_routes_stay_open(client: TestClient) -> None:
    assert client.post("/search", json={"query": "gene editing"}).status_code == 200
