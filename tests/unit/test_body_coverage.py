"""A long body is pooled, never silently cut: groups, pooled vectors, and the coverage the API reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.container import build_services
from app.domain.coverage import pool_groups, pool_vectors
from app.domain.documents import Document, prepare
from app.settings import EncoderSettings, Settings, StoreSettings
from tests.fakes import FakeEncoderPool, FakeStore


def test_groups_are_one_passage_each_up_to_the_cap_then_equal_contiguous_runs() -> None:
    assert pool_groups(0, 4) == ()
    assert pool_groups(3, 4) == ((0, 1), (1, 2), (2, 3))
    groups = pool_groups(10, 4)
    assert groups == ((0, 3), (3, 6), (6, 8), (8, 10))
    sizes = [e - s for s, e in pool_groups(375, 32)]
    assert len(sizes) == 32 and sum(sizes) == 375 and max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError):
        pool_groups(3, 0)


def test_pooled_vectors_are_unit_means_of_their_passages() -> None:
    a, b, c = (np.eye(3, dtype=np.float32)[i] for i in range(3))
    out = pool_vectors([a, b, c], ((0, 2), (2, 3)))
    assert len(out) == 2 and out[0].dtype == np.float32
    np.testing.assert_allclose(out[0], np.array([1, 1, 0]) / np.sqrt(2), rtol=1e-6)
    np.testing.assert_array_equal(out[1], c)


def _long(n_sentences: int) -> Document:
    body = " ".join(f"Sentence number {i} says something plain." for i in range(n_sentences))
    return Document(id="long", title="A long one", body=body)


def test_prepare_encodes_every_passage_and_reports_what_it_pooled_and_cut() -> None:
    doc = _long(100)  # 6 words a sentence, 600 words: 50 passages of two sentences
    p = prepare(doc, chunk_words=12, max_chunks=8, max_entities=4, max_passages=40)
    assert len(p.passages) == 40 and len(p.body_groups) == 8
    cov = p.coverage.as_dict() if p.coverage else {}
    assert cov == {"passages": 50, "passages_embedded": 40, "words": 600, "words_embedded": 480, "vectors": 8,
                   "pooled_passages": 40, "pooled_vectors": 8, "passages_cut": 10, "words_cut": 120}
    short = prepare(_long(3), chunk_words=12, max_chunks=8, max_entities=4, max_passages=40)
    assert short.coverage and short.coverage.pooled_passages == 0 and short.coverage.words_cut == 0
    assert p.payload()["coverage"] == cov


def test_upsert_answers_the_coverage_and_the_point_holds_at_most_max_chunks_body_vectors(tmp_path: Path) -> None:
    store = FakeStore()
    settings = Settings(store=StoreSettings(path=tmp_path / "unused"),
                        encoders=EncoderSettings(chunk_words=12, max_chunks=4, max_passages=100))
    svc = build_services(settings, store=store, encoders=FakeEncoderPool())  # type: ignore[arg-type]
    try:
        result = svc.ingest.upsert([_long(30), Document(id="short", title="t", body="Just one line.")])
        assert [c["passages"] for c in result.coverage] == [15, 1]
        assert result.coverage[0]["vectors"] == 4 and result.coverage[0]["pooled_passages"] == 15
        assert result.coverage[0]["words_cut"] == 0
        stored = svc.ingest.get("long")
        assert stored["coverage"] == result.coverage[0]
        body = next(n for n in result.vector_versions if n.startswith("body."))
        point = store.retrieve(svc.registry.alias, [stored_pid("long")], with_vectors=[body])[0]
        assert len(point.vectors[body]) == 4  # type: ignore[arg-type]
    finally:
        svc.close()


def stored_pid(doc_id: str) -> str:
    from app.domain.documents import point_id

    return point_id(doc_id)
