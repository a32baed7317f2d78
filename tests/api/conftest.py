"""HTTP fixtures: the real app through Litestar's test client, on the embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from tests.conftest import make_settings
from tests.fixtures import DOCS


@pytest.fixture(scope="module")
def app_services(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, encoders: EncoderPool
                 ) -> Iterator[Services]:
    """One store per test module; tests that change data use their own ids or `fresh_client`."""
    svc = build_services(make_settings("edge", tmp_path_factory.mktemp("api"), model_cache), encoders=encoders)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def client(app_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(app_services.settings, services=app_services)) as c:
        yield c


@pytest.fixture(scope="module")
def seeded(client: TestClient) -> TestClient:
    r = client.post("/documents", json={"documents": DOCS})
    assert r.status_code == 200, r.text
    return client
