"""The pure domain: ids, chunking, derivations, plans, fusion math, token batching."""

from __future__ import annotations

import pytest

from app.domain.documents import Document, point_id, prepare
from app.domain.fusion import dbsf, dbsf_normalize, fused_in, needs_per_space, rrf, zero_floors
from app.domain.learned import fuse_plan
from app.domain.plan import Filter, Match, MatchAny, build_plan, metadata_filter
from app.domain.text import chunk_passages, extractive_summary, keyphrases, sentences
from app.domain.versions import Registry, VectorVersion
from app.encoders.fastembed_encoder import token_batches
from app.errors import InvalidInput, UnknownSpace
from app.store.adapter import IN_STORE_FUSIONS


def test_point_id_is_deterministic_and_distinct() -> None:
    assert point_id("doc-1") == point_id("doc-1")
    assert point_id("doc-1") != point_id("doc-2")
    assert len(point_id("x")) == 36


def test_sentences_and_chunks_keep_whole_sentences_under_the_word_cap() -> None:
    text = "One two three. Four five six seven. Eight nine. " * 5
    assert sentences("A b. C d! E f? g h.") == ["A b.", "C d!", "E f? g h."]
    chunks = chunk_passages(text, max_words=10, max_chunks=100)
    assert all(len(c.split()) <= 10 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    ten, five = "word " * 9 + "word", "word " * 4 + "word"
    assert chunk_passages("word " * 25, max_words=10, max_chunks=100) == [ten, ten, five]
    assert len(chunk_passages(text, max_words=3, max_chunks=2)) == 2


def test_summary_is_extractive_and_short() -> None:
    body = ("Cats sleep a lot. Cats hunt mice at night. The weather was nice. "
            "Cats groom their fur with rough tongues. Dogs bark.")
    summary = extractive_summary("Cats", body, max_sentences=2)
    assert all(s in body for s in sentences(summary))
    assert "Cats" in summary and len(sentences(summary)) == 2


def test_keyphrases_prefer_codes_and_title_terms() -> None:
    found = keyphrases("BRCA1 mutations and breast cancer",
                       "Women with BRCA1 mutations have a high risk of breast cancer. Screening helps.", limit=3)
    assert any("BRCA1" in k for k in found)
    assert len(found) <= 3


def test_prepare_derives_missing_fields_and_marks_them() -> None:
    doc = Document(id="d", title="Title", body="First sentence here. Second one there.", summary="Given.")
    p = prepare(doc, chunk_words=100, max_chunks=4, max_entities=4)
    assert p.summary == "Given." and p.derived == {"summary": False, "entities": True}
    assert p.texts("document") == ["Title\nFirst sentence here. Second one there."]
    assert p.texts("body") == ["First sentence here. Second one there."]


def registry() -> Registry:
    reg = Registry(spaces={})
    for space, kind, model in (("title", "dense", "m"), ("body", "multi", "m"), ("keywords", "sparse", "bm25")):
        v = VectorVersion(space=space, field=space, kind=kind, model=model, version=1, dim=3, status="live")  # type: ignore[arg-type]
        reg = reg.with_version(v).with_live(space, v.name, None)
    return reg


def test_plan_resolves_live_versions_and_weights() -> None:
    plan = build_plan(registry(), fields=None, fusion="rrf", rrf_k=60, weights={"title": 2}, limit=5,
                      prefetch_limit=50, filter=Filter())
    assert [s.vector_name for s in plan.spaces] == ["title.m.v1", "body.m.v1", "keywords.bm25.v1"]
    assert plan.spaces[0].weight == 2.0 and fused_in(plan, IN_STORE_FUSIONS) != "store"  # RRF: by us
    dbsf_weighted = build_plan(registry(), fields=None, fusion="dbsf", rrf_k=60, weights={"title": 2}, limit=5,
                               prefetch_limit=50, filter=Filter())
    assert fused_in(dbsf_weighted, IN_STORE_FUSIONS) != "store" and needs_per_space(dbsf_weighted, IN_STORE_FUSIONS)
    with pytest.raises(UnknownSpace):
        build_plan(registry(), fields=["nope"], fusion="rrf", rrf_k=60, weights={}, limit=5, prefetch_limit=5,
                   filter=Filter())
    with pytest.raises(InvalidInput):
        build_plan(registry(), fields=["title"], fusion="rrf", rrf_k=60, weights={"title": -1}, limit=5,
                   prefetch_limit=5, filter=Filter())


def test_metadata_filter() -> None:
    f = metadata_filter({"lang": "en", "year": [2020, 2021]})
    assert f.must == (Match("metadata.lang", "en"), MatchAny("metadata.year", (2020, 2021)))
    assert not metadata_filter(None)


def test_rrf_by_hand() -> None:
    a = [("x", 0.9), ("y", 0.8)]
    b = [("y", 5.0), ("z", 1.0)]
    fused = dict(rrf([a, b], k=60))
    assert fused["y"] == pytest.approx(1 / 61 + 1 / 60)
    assert fused["x"] == pytest.approx(1 / 60)
    weighted = dict(rrf([a, b], k=60, weights=[2.0, 1.0]))
    assert weighted["x"] == pytest.approx(1 / (1 / 2 + 59))


def test_dbsf_by_hand() -> None:
    ranked = [("a", 3.0), ("b", 2.0), ("c", 1.0)]  # mean 2, sample sd 1
    assert dict(dbsf_normalize(ranked)) == pytest.approx({"a": 4 / 6, "b": 0.5, "c": 2 / 6})
    fused = dict(dbsf([ranked, [("c", 7.0)]], weights=[1.0, 2.0]))
    assert fused["c"] == pytest.approx(2 / 6 + 2 * 0.5)


def test_dbsf_counts_a_complete_short_list_at_its_depth_with_the_missing_points_at_0() -> None:
    # one hit of 8 among 4 points: the list [8, 0, 0, 0] has mean 2 and sample sd 4, so 8 -> (8 + 10) / 24
    assert dbsf_normalize([("a", 8.0)], depth=4) == [("a", pytest.approx(18 / 24))]
    assert dbsf_normalize([("a", 8.0)]) == [("a", 0.5)]  # alone, as Qdrant: a single hit is 0.5
    by_hand = [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    assert dbsf_normalize(by_hand, depth=3) == dbsf_normalize(by_hand) == dbsf_normalize(by_hand, depth=2)
    padded = dict(dbsf_normalize(by_hand, depth=5))  # [3, 2, 1, 0, 0]: mean 1.2, sample variance 1.7
    sd = 1.7 ** 0.5
    assert padded == pytest.approx({pid: (x - 1.2 + 3 * sd) / (6 * sd) for pid, x in by_hand})


def test_a_sparse_space_is_normalised_at_the_prefetch_depth_and_fused_by_the_service() -> None:
    plan = build_plan(registry(), fields=["title", "keywords"], fusion="dbsf", rrf_k=60, weights={}, limit=5,
                      prefetch_limit=50, filter=Filter())
    assert registry().sparse() == {"keywords"}  # which lists evaluation normalises as complete, as served
    assert zero_floors([False, True], [[("d", 0.5)] * 60, []], plan.prefetch_limit) == [0, 50]
    assert zero_floors([False, True], [[("d", 0.5)] * 7, []], plan.prefetch_limit) == [0, 7]  # 7 points to list
    assert zero_floors([True], [[]], plan.prefetch_limit) == [50]  # no dense list: the depth asked for
    assert fused_in(plan, IN_STORE_FUSIONS) == "client" and needs_per_space(plan, IN_STORE_FUSIONS)
    dense = build_plan(registry(), fields=["title", "body"], fusion="dbsf", rrf_k=60, weights={}, limit=5,
                       prefetch_limit=50, filter=Filter())
    assert zero_floors([False, False], [[], []], 50) == [0, 0] and fused_in(dense, IN_STORE_FUSIONS) == "store"
    # the only document holding a rare term leads: 0.5 (its own list alone) would leave it below the dense top
    title = [("d1", 0.62), ("d2", 0.60), ("d3", 0.41), ("d4", 0.30)]  # the dense space misses it
    fused = fuse_plan(plan, [title, [("rare", 8.6)]])
    assert fused[0][0] == "rare"
    assert dbsf([title, [("rare", 8.6)]])[0][0] == "d1"


def test_token_batches_bound_padded_size() -> None:
    lengths = [10, 200, 30, 250, 12, 40, 256, 5]
    batches = token_batches(lengths, budget=512, max_batch=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3
        assert len(b) * max(lengths[i] for i in b) <= 512 or len(b) == 1
