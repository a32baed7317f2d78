"""`scripts/evaluate compare`: two versions of a space on one index, pinned per query, paired."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from app.encoders.fastembed_encoder import EncoderPool
from app.eval import compare
from app.eval.index import build_index, eval_settings, open_index
from app.eval.runs import fetch_lists
from app.settings import Settings, default_spaces
from app.versioning.declare import default_folder, load_folder
from tests.conftest import to_documents
from tests.eval.test_evaluate_pipeline import QUERIES, write_beir
from tests.fixtures import DOCS

L3 = "title.paraphrase-minilm-l3.v2"


def test_a_side_is_a_name_and_its_pins() -> None:
    assert compare.parse_side("base") == ("base", None, {})
    assert compare.parse_side("l3=title:" + L3 + ", body:body.x.v2") == (
        "l3", None, {"title": L3, "body": "body.x.v2"})
    assert compare.parse_side("other@/idx/b") == ("other", Path("/idx/b"), {})
    for bad in ("=title:x", "l3=title", "l3=:x", "l3=title:", "x@=title:y", "@/idx"):
        with pytest.raises(argparse.ArgumentTypeError):
            compare.parse_side(bad)


def test_compare_runs_pairs_queries_and_gives_no_interval_to_the_baseline() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    runs = {"base": {"p": {"q1": ["a"], "q2": ["x", "b"]}},
            "new": {"p": {"q1": ["a"], "q2": ["b"]}}}
    out = compare.compare_runs(runs, qrels, baseline="base", seed=1)
    assert out["base"]["p"]["ci_vs_baseline"] is None
    assert out["new"]["p"]["metrics"]["ndcg@10"] == pytest.approx(1.0)
    assert out["new"]["p"]["delta_ndcg@10"] == pytest.approx(1.0 - out["base"]["p"]["metrics"]["ndcg@10"])
    low, high = out["new"]["p"]["ci_vs_baseline"]
    assert 0.0 <= low <= out["new"]["p"]["delta_ndcg@10"] <= high  # one query gains, the other ties


def test_two_versions_of_a_space_are_compared_on_one_index(tmp_path: Path, encoders: EncoderPool) -> None:
    data, index = write_beir(tmp_path / "tiny"), tmp_path / "index"
    # an install made before the shared defaults (title v1 on the separate pass), so 0001 applies
    svc = open_index(index, settings=eval_settings(index, Settings(spaces=default_spaces("separate"))),
                     encoders=encoders)
    try:
        build_index(svc, to_documents(DOCS), progress=False)
        m = load_folder(default_folder())[0]  # 0001: title on paraphrase-MiniLM-L3, applied and backfilled
        svc.migrator.apply(m)
        svc.migrator.backfill(m.revision)
        queries = {q: text for q, (text, _) in QUERIES.items()}
        live, _ = fetch_lists(svc, queries, spaces=["title"], progress=False)
        pinned, _ = fetch_lists(svc, queries, spaces=["title"], progress=False, versions={"title": L3})
        assert live["q1"]["title"] != pinned["q1"]["title"]  # another model: other scores
    finally:
        svc.close()

    args = compare.parse_args([str(data), "--index-dir", str(index), "--side", "live", "--side", f"l3=title:{L3}",
                               "--side", f"same@{index}",
                               "--holdout", "0.67", "--out", str(tmp_path / "out")])
    doc = compare.run(args, encoders=encoders)
    assert doc["sides"]["live"]["versions"]["title"] == "title.minilm-l6-int8.v1"
    assert doc["sides"]["l3"]["versions"]["title"] == L3
    assert doc["dataset"]["queries"] == 3
    for plan in ("only document", "only keywords", "API default"):  # the API default weights title 0
        assert doc["all"]["l3"][plan]["delta_ndcg@10"] == 0.0
        assert doc["all"]["l3"][plan]["ci_vs_baseline"] == [0.0, 0.0]
    assert all(row["delta_ndcg@10"] == 0.0 for row in doc["all"]["same"].values())  # its own index, live
    assert doc["holdout"]["queries"] == 1 and set(doc["holdout"]["l3"]) == set(doc["all"]["l3"])
    text = compare.markdown(doc)
    assert "| only title |" in text and "l3 - live nDCG@10 (95 % CI)" in text and "held-out" in text
