"""A failing store gets bounded retries, then a clear 503; a locked data folder says who holds it."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_migrator
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import StoreLocked, StoreUnavailable
from app.repos.registry import RegistryRepo
from app.services.ingest import IngestService
from app.services.search import SearchService
from app.store.edge import EdgeStore
from app.store.qdrant import QdrantStore
from app.store.retrying import RetryingStore, with_retries
from tests.conftest import make_settings


def closed_port() -> int:
    """A loopback port nobody listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def down_client(tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[TestClient]:
    settings = make_settings("memory", tmp_path, model_cache)
    store = RetryingStore(QdrantStore(f"http://127.0.0.1:{closed_port()}", timeout_s=1), attempts=3, wait_s=0.01)
    registry = RegistryRepo(store=store, alias="documents")
    services = Services(
        settings=settings, store=store, encoders=encoders, registry=registry,
        ingest=IngestService(store=store, encoders=encoders, registry=registry, settings=settings),
        search=SearchService(store=store, encoders=encoders, registry=registry, settings=settings),
        migrator=build_migrator(store=store, encoders=encoders, registry=registry, settings=settings),
    )
    with TestClient(create_app(settings, services=services)) as c:
        yield c


def test_store_down_gives_503_for_search_upsert_and_readiness(down_client: TestClient) -> None:
    r = down_client.post("/search", json={"query": "anything"})
    assert r.status_code == 503
    assert r.json()["code"] == "store_unavailable" and "unreachable" in r.json()["message"]
    r = down_client.post("/documents", json={"documents": [{"id": "a", "title": "t", "body": "b"}]})
    assert r.status_code == 503
    assert down_client.get("/ready").status_code == 503
    assert down_client.get("/health").status_code == 200  # alive, just not ready


def test_retries_are_bounded() -> None:
    calls = []

    def flaky() -> None:
        calls.append(1)
        raise StoreUnavailable("down")

    with pytest.raises(StoreUnavailable):
        with_retries(flaky, attempts=3, wait_s=0.001)()
    assert len(calls) == 3


def test_retry_recovers_from_a_passing_fault() -> None:
    calls = []

    def once_down() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise StoreUnavailable("blip")
        return "ok"

    assert with_retries(once_down, attempts=3, wait_s=0.001)() == "ok"


def test_a_second_process_gets_a_clear_error_for_a_locked_folder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from app.store.edge import EdgeStore
            s = EdgeStore({str(tmp_path)!r})
            print("ready", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLocked) as err:
            EdgeStore(tmp_path)
        assert f"pid {holder.pid}" in err.value.message
        assert "one process per folder" in err.value.message
    finally:
        holder.communicate("\n", timeout=30)
    EdgeStore(tmp_path).close()  # free again once the holder exits
