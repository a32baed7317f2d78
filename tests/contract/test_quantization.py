"""Quantization on the embedded store: the quantized copies are built, and searches still find what
the unquantized collection finds (rescored with the original vectors)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.eval.sizing import index_every_segment
from app.services.search import SearchRequest
from app.settings import CollectionSettings
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS

QUERIES = ["gene editing with CRISPR", "bread and fermented vegetables", "planets around other stars",
           "leader election in a replicated log", "how do vaccines train the immune system"]


def edge_corpus(tmp_path: Path, model_cache: Path, encoders: EncoderPool, quantization: str) -> Services:
    settings = make_settings("edge", tmp_path / quantization, model_cache,
                             collection=CollectionSettings(quantization=quantization, oversampling=2.0))
    with index_every_segment():  # build HNSW and the quantized copies even for a dozen documents
        svc = build_services(settings, encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS))
    svc.store.optimize(svc.registry.physical())
    return svc


@pytest.fixture
def unquantized(tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    svc = edge_corpus(tmp_path, model_cache, encoders, "none")
    yield svc
    svc.close()


def ranked(svc: Services, query: str, fields: list[str] | None = None) -> list[str]:
    return [h["id"] for h in svc.search.search(SearchRequest(query=query, limit=5, fields=fields)).hits]


@pytest.mark.parametrize("quantization", ["scalar", "binary"])
def test_a_quantized_edge_collection_searches_like_the_unquantized_one(
        quantization: str, unquantized: Services, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    svc = edge_corpus(tmp_path, model_cache, encoders, quantization)
    try:
        shard = svc.store.inner.root / "collections" / svc.registry.physical() / "shard"  # type: ignore[attr-defined]
        dense = [n for n, s in svc.store.vector_specs(svc.registry.physical()).items() if s.kind != "sparse"]
        quantized = {p.parent.name.removeprefix("vector_storage-") for p in shard.rglob("quantized*")}
        assert set(dense) <= quantized, f"no quantized copy of {set(dense) - quantized}"
        for query in QUERIES:
            assert ranked(svc, query)[:1] == ranked(unquantized, query)[:1], query  # the fused answer
            for space in ("title", "body", "document"):
                mine, theirs = ranked(svc, query, [space]), ranked(unquantized, query, [space])
                assert len(set(mine[:3]) & set(theirs[:3])) >= 2, (query, space, mine, theirs)
    finally:
        svc.close()
