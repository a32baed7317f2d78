"""HTTP fixtures: the real app through Litestar's test client, on the embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from tests.conftest import make_settings
from tests.fixtures import DOCS

if TYPE_CHECKING:
    from tests.api.fuzzing import Fuzzed


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


@pytest.fixture(scope="module")
def live_url(app_services: Services) -> Iterator[str]:
    """The real app served by uvicorn on a loopback port, in a thread: real HTTP, real URL decoding
    (Litestar's TestClient decodes paths its own way)."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(app_services.settings, services=app_services),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def fuzzed(app_services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """The real app over the module's store, seeded and keyed for schemathesis (tests/api/fuzzing.py)."""
    from tests.api.fuzzing import fuzzed_app

    with fuzzed_app(app_services, tmp_path_factory.mktemp("backups")) as f:
        yield f
