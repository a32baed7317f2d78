"""The guard of the fixtures shared by read-only tests (tests/read_only.py): reads pass, writes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.container import build_services
from app.services.search import SearchRequest
from app.settings import Settings, StoreSettings
from app.store.base import port_methods
from tests.conftest import to_documents
from tests.fakes import FakeEncoderPool, FakeStore
from tests.fixtures import DOCS
from tests.read_only import READS, WRITES, FreezableStore, WriteOnSharedStore


def test_the_reads_are_port_methods_and_the_writes_the_rest() -> None:
    assert set(port_methods()) > READS  # a misspelt read would leave its method refused nowhere
    assert {"upsert", "put_meta", "optimize", "set_alias", "delete", "add_vector"} <= WRITES


def test_a_frozen_store_answers_reads_and_refuses_each_write_before_it_reaches_the_store(tmp_path: Path) -> None:
    store = FreezableStore(FakeStore())  # type: ignore[arg-type]
    svc = build_services(Settings(store=StoreSettings(path=tmp_path / "unused")), store=store,  # type: ignore[arg-type]
                         encoders=FakeEncoderPool())  # type: ignore[arg-type]
    svc.ingest.upsert(to_documents(DOCS))
    store.freeze()
    collection = svc.registry.physical()
    before = store.count(collection)
    assert before and svc.search.search(SearchRequest(query="bread and fermented vegetables")).hits
    with pytest.raises(WriteOnSharedStore, match=r"upsert\(\) on a store shared"):
        svc.ingest.upsert(to_documents(DOCS[:1]))
    for write in sorted(WRITES):
        with pytest.raises(WriteOnSharedStore, match=write):
            getattr(store, write)
    assert store.count(collection) == before and store.kind == "fake"
    svc.close()
