"""The benchmark machinery runs end to end on a tiny synthetic corpus (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.encoders.fastembed_encoder import EncoderPool, SparseVec
from app.eval.bench import SyntheticCorpus, bench_synthetic, markdown, memory_skip_reason
from app.settings import EncoderSettings, Settings


@pytest.mark.parametrize("kind", ["edge", "memory"])
def test_synthetic_bench_times_one_space_against_all_fused(kind: str, model_cache: Path,
                                                            encoders: EncoderPool) -> None:
    base = Settings(encoders=EncoderSettings(cache_dir=model_cache))
    out = bench_synthetic(60, kind, encoders, base, queries=3, single="document", profile=None, seed=1,
                          budget_s=60, batch=25, subset=["document", "keywords"])
    assert out["count"] == 60 and out["queries"] == 3
    plans = out["plans"]
    assert set(plans) == {"only document", "all fused, dbsf", "all fused, rrf", "document + keywords, dbsf",
                          "default", "default, fan-out",
                          *(f"plan {name}" for name in ("fused", "all", "keyword", "dense", "cascade")),
                          "plan cascade, nested", "default, nested",  # each cascade also the other way
                          # entities is rerank-only by default: fusing every space rescores with it, a cascade too
                          "all fused, dbsf, nested", "all fused, rrf, nested", "plan all, nested"}
    if kind == "edge":
        assert out["page_cache_mb"] >= 0 and out["optimize_cpu_s"] >= 0 and out["build_peak_rss_mb"] > 0
        # the process's own memory, sampled: some, and less than everything it had mapped
        assert 0 < out["build_peak_anon_mb"] <= out["build_peak_rss_mb"]
    assert out["generate_s"] > 0 and out["write_s"] > 0  # the store's calls, timed apart from making the points
    assert all(p["store_p95_ms"] >= p["store_p50_ms"] > 0 for p in plans.values())
    assert "ratio_store_p50_vs_single" in plans["all fused, dbsf"]
    assert plans["default, fan-out"]["degraded"] == 0  # under the largest budget no space misses
    res = {"machine": {"date": "d", "cpus": 2, "load_avg_1m": 0.0}, "search": {f"60 synthetic, {kind}": out}}
    assert "| all fused, dbsf |" in markdown(res)
    assert "Default plan, fan-out / batch: store p50" in markdown(res)
    if kind == "memory":
        assert "about" in memory_skip_reason(res, 100_000, 20_000)


def test_synthetic_documents_are_shaped_like_real_ones(encoders: EncoderPool, tmp_path: Path,
                                                      model_cache: Path) -> None:
    from app.container import build_services
    from app.settings import StoreSettings

    settings = Settings(store=StoreSettings(path=tmp_path), encoders=EncoderSettings(cache_dir=model_cache))
    svc = build_services(settings, encoders=encoders)
    try:
        versions = svc.registry.get().written_versions()
    finally:
        svc.close()
    points = SyntheticCorpus(384, seed=3).points(versions, 0, 20)
    by_field = {v.field: v.name for v in versions}
    for p in points:
        assert len(p.vectors[by_field["entities"]]) == 8 and 1 <= len(p.vectors[by_field["body"]]) <= 6
        assert np.linalg.norm(p.vectors[by_field["document"]]) == pytest.approx(1.0, abs=1e-5)
        assert isinstance(p.vectors[by_field["keywords"]], SparseVec)
    assert len({p.id for p in points}) == 20


def test_encoding_modes_are_timed_in_rounds_against_the_faster_bare_encoder(model_cache: Path,
                                                                           encoders: EncoderPool) -> None:
    from app.domain.documents import Document
    from app.eval.bench_ingest import bench_encoding_modes, modes_markdown, with_mode

    base = Settings(encoders=EncoderSettings(cache_dir=model_cache))
    assert {s.model for s in with_mode(base, "separate").spaces} == {"minilm-l6-int8", "bm25-multilingual-scripts"}
    assert {s.model for s in with_mode(with_mode(base, "separate"), "shared").spaces} == {
        "minilm-l6-int8-shared", "minilm-l6-int8-shared-mentions", "bm25-multilingual-scripts"}
    assert with_mode(base, "shared").spaces == base.spaces  # a new install's default: shared
    docs = [Document(id=str(i), title=f"Title {i}", body="Statins lower cholesterol. " * (5 + i)) for i in range(4)]
    out = bench_encoding_modes(docs, encoders, base, ["separate", "shared"], batch=2, rounds=2)
    assert out["documents"] == 4 and out["rounds"] == 2 and set(out["bare"]) == {"fastembed", "onnxruntime"}
    for mode in ("separate", "shared"):
        r = out[mode]
        assert r["spaces"] == 6 and len(r["ratio_per_round"]) == 2 and r["cpu_s_per_doc"] > 0
        assert r["ratio_vs_bare"] > 0 and r["cpu_ratio_vs_bare"] > 0
    assert "| all 6 spaces, `shared` (derive + encode) |" in modes_markdown(out)
    # the shared pass reads every token once (the bodies are short: one window each, as the bare
    # encoder reads them), the entities pooled from their mentions in it: nothing is encoded alone
    t = out["model_tokens_per_doc"]
    assert t["windows"] == t["bare"] and t["alone"] == 0 and "Model tokens per document" in modes_markdown(out)


def test_the_service_load_reports_the_servers_peak_memory(tmp_path: Path, model_cache: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import socket

    from app.eval.bench_report import service_markdown
    from app.eval.bench_service import bench_service_load
    from tests.fixtures import DOCS

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in DOCS[:3]))
    with socket.socket() as s:  # a free loopback port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = bench_service_load(corpus, port=port, data_dir=tmp_path / "data",
                             env={"MULTIVEC_ENCODERS__CACHE_DIR": str(model_cache)})
    assert out["documents"] == 3 and out["docs_per_s"] > 0
    assert out["server_peak_rss_mb"] >= out["server_rss_after_start_mb"] > 0  # Linux: /proc/<pid>/status
    assert "server peak RSS (VmHWM)" in service_markdown(out)
    with pytest.raises(RuntimeError, match="load exited"):  # a corpus that cannot be read: said, not hidden
        bench_service_load(tmp_path / "missing.jsonl", port=port, data_dir=tmp_path / "data2",
                           env={"MULTIVEC_ENCODERS__CACHE_DIR": str(model_cache)})


def test_a_synthetic_only_run_needs_no_dataset(tmp_path: Path, model_cache: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from app.eval.bench import main

    monkeypatch.setenv("MULTIVEC_ENCODERS__CACHE_DIR", str(model_cache))
    main(["--dataset", str(tmp_path / "no-such-dataset"), "--skip-real", "--ingest-docs", "0", "--modes", "",
          "--synthetic", "40", "--stores", "memory", "--queries", "2", "--out", str(tmp_path / "out")])
    assert "40 synthetic documents" in (tmp_path / "out" / "bench.md").read_text()
