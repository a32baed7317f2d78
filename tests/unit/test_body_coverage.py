"""A long body is merged down, never silently cut: the merge, and the coverage the API reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.container import build_services
from app.domain.coverage import merge_similar_neighbours
from app.domain.documents import Document, point_id, prepare
from app.settings import EncoderSettings, Settings, StoreSettings
from tests.fakes import FakeEncoderPool, FakeStore


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_up_to_the_cap_every_passage_keeps_its_vector() -> None:
    vecs = [_unit([1, 0, 0]), _unit([0, 1, 0])]
    out = merge_similar_neighbours(vecs, 4)
    assert len(out) == 2 and all(np.array_equal(a, b) for a, b in zip(out, vecs, strict=True))
    with pytest.raises(ValueError):
        merge_similar_neighbours(vecs, 0)


def test_alike_neighbours_merge_first_and_an_odd_passage_keeps_its_own_vector() -> None:
    rng = np.random.default_rng(7)
    base = _unit(rng.normal(size=8).tolist())
    alike = [_unit((base + 0.1 * rng.normal(size=8)).tolist()) for _ in range(20)]
    odd = _unit([0, 0, 0, 0, 0, 0, 0, 1.0])
    out = merge_similar_neighbours([*alike, odd], 3)
    assert len(out) == 3
    assert float(out[-1] @ odd) == pytest.approx(1.0, abs=1e-6)  # the last, unlike passage is intact
    assert all(abs(float(np.linalg.norm(v)) - 1) < 1e-5 and v.dtype == np.float32 for v in out)
    mean = _unit(np.mean([alike[0], alike[1]], axis=0).tolist())  # two passages: their mean, re-normalised
    np.testing.assert_allclose(merge_similar_neighbours(alike[:2], 1)[0], mean, rtol=1e-5)


def _long(n_sentences: int) -> Document:
    body = " ".join(f"Sentence number {i} says something plain." for i in range(n_sentences))
    return Document(id="long", title="A long one", body=body)


def test_prepare_encodes_every_passage_and_reports_what_it_merged_and_cut() -> None:
    doc = _long(100)  # 6 words a sentence, 600 words: 50 passages of two sentences
    p = prepare(doc, chunk_words=12, max_chunks=8, max_entities=4, max_passages=40)
    assert len(p.passages) == 40 and p.max_body_vectors == 8
    cov = p.coverage.as_dict() if p.coverage else {}
    assert cov == {"passages": 50, "passages_embedded": 40, "words": 600, "words_embedded": 480, "vectors": 8,
                   "merged_passages": 32, "passages_cut": 10, "words_cut": 120}
    short = prepare(_long(3), chunk_words=12, max_chunks=8, max_entities=4, max_passages=40)
    assert short.coverage and short.coverage.merged_passages == 0 and short.coverage.words_cut == 0
    assert p.payload()["coverage"] == cov


def test_upsert_answers_the_coverage_and_the_point_holds_at_most_max_chunks_body_vectors(tmp_path: Path) -> None:
    store = FakeStore()
    settings = Settings(store=StoreSettings(path=tmp_path / "unused"),
                        encoders=EncoderSettings(chunk_words=12, max_chunks=4, max_passages=100))
    svc = build_services(settings, store=store, encoders=FakeEncoderPool())  # type: ignore[arg-type]
    try:
        result = svc.ingest.upsert([_long(30), Document(id="short", title="t", body="Just one line.")])
        assert [c["passages"] for c in result.coverage] == [15, 1]
        assert result.coverage[0]["vectors"] == 4 and result.coverage[0]["merged_passages"] == 11
        assert result.coverage[0]["words_cut"] == 0
        stored = svc.ingest.get("long")
        assert stored["coverage"] == result.coverage[0]
        body = next(n for n in result.vector_versions if n.startswith("body."))
        point = store.retrieve(svc.registry.alias, [point_id("long")], with_vectors=[body])[0]
        assert len(point.vectors[body]) == 4  # type: ignore[arg-type]
    finally:
        svc.close()
