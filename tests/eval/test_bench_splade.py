"""scripts/bench_splade's machinery on a few fixture documents (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

from app.encoders.fastembed_encoder import EncoderPool
from app.eval.bench_splade import bench_ingest_cost, bench_queries, markdown, term_counts
from app.settings import EncoderSettings, Settings
from tests.conftest import to_documents
from tests.fixtures import DOCS


def test_bench_splade_reports_ingest_query_and_term_figures(model_cache: Path, encoders: EncoderPool) -> None:
    docs = to_documents(DOCS[:4])
    base = Settings(encoders=EncoderSettings(cache_dir=model_cache))
    ingest = bench_ingest_cost(docs, encoders, base, batch=2)
    assert ingest["documents"] == 4
    # the default spaces and the same plus one sparse vector (splade), on the same documents
    assert ingest["default_plus_splade"]["vectors_per_doc"] == ingest["default_spaces"]["vectors_per_doc"] + 1
    assert all(ingest[k]["docs_per_s"] > 0 for k in ("bare_dense", "splade", "default_spaces",
                                                     "default_plus_splade"))
    queries = bench_queries(["gene editing", "sourdough"], encoders, ["splade-tiny", "bm25-multilingual"])
    assert queries["splade-tiny"]["p95_ms"] >= queries["splade-tiny"]["p50_ms"] > 0
    terms = term_counts(docs, ["gene editing"], encoders)
    assert terms["documents"]["max"] >= terms["documents"]["p50"] > terms["queries"]["p50"] > 0
    res = {"dataset": "fixture", "ingest": ingest, "query_encode": queries, "terms": terms}
    text = markdown(res)
    assert "| SPLADE-tiny alone (title + body, 256 tokens) |" in text and "| splade-tiny |" in text
