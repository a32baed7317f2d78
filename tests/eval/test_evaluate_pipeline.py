"""The evaluate pipeline end to end on a tiny BEIR-layout dataset, with the real models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.encoders.fastembed_encoder import EncoderPool
from app.errors import InvalidInput
from app.eval.cli import evaluate, parse_args
from app.eval.index import eval_settings
from app.eval.report import match_notes, write
from app.repos.profiles import ProfileRepo
from app.store.factory import open_store
from tests.fixtures import DOCS

QUERIES = {
    "q1": ("gene editing with a guide RNA that cuts DNA", {"bio-1": 1}),
    "q2": ("why galaxies rotate too fast at their edges", {"astro-2": 1}),
    "q3": ("lactic acid fermentation of cabbage and bread", {"cook-2": 2, "cook-1": 1}),
}


def write_beir(folder: Path, queries: dict[str, tuple[str, dict[str, int]]] = QUERIES) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as f:
        for d in DOCS:
            f.write(json.dumps({"_id": d["id"], "title": d["title"], "text": d["body"]}) + "\n")
    with (folder / "queries.jsonl").open("w") as f:
        for qid, (text, _) in queries.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
        f.write(json.dumps({"_id": "unjudged", "text": "not in the qrels"}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{g}" for q, (_, rel) in queries.items()
                                              for d, g in rel.items()]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n")
    return folder


def test_evaluate_reports_every_plan_fits_a_profile_and_calibrates_thresholds(
        tmp_path: Path, encoders: EncoderPool) -> None:
    data = write_beir(tmp_path / "tiny")
    out, index = tmp_path / "out", tmp_path / "index"
    args = parse_args([str(data), "--index-dir", str(index), "--out", str(out), "--latency-queries", "2",
                       "--fit", "0.67", "--calibrate", "--save"])
    done = evaluate(args, encoders=encoders)
    result = done["result"]
    paths = write(result, done["out"])

    assert result["dataset"]["queries"] == 3  # the unjudged query is left out
    names = {p["name"] for p in result["plans"]}
    spaces = ["title", "body", "summary", "entities", "document", "keywords"]
    assert {f"only {s}" for s in spaces} <= names
    # entities is rerank-only in a new install: judged alone (an exact scan), fused in no variant, since the
    # service never fuses its own list (a ranking that did could not be served)
    assert {f"all without {s}" for s in spaces if s != "entities"} <= names and "all without entities" not in names
    fused = [p for p in result["plans"] if len(p["spaces"]) > 1 and p["group"] not in ("cascade", "plan")]
    assert fused and all("entities" not in p["spaces"] for p in fused), [p["name"] for p in fused]
    assert all(p["offline_matches_real"] == 1.0 for p in fused), [
        (p["name"], p["offline_matches_real"]) for p in fused if p["offline_matches_real"] != 1.0]
    assert {"all, equal", "API default", "all, equal, rrf", "learned profile"} <= names
    # cascades and named plans, computed offline from each stage's scores: the real plans rank the same
    cascades = [p for p in result["plans"] if p["group"] in ("cascade", "plan")]
    assert {"cascade: body", "cascade: body, formula", "cascade: body+entities, formula", "plan cascade",
            "plan fused", "plan keyword"} <= {p["name"] for p in cascades}
    # the API default is the cascade plan: ranked offline by its stages, as the real search ranks it
    api = next(p for p in result["plans"] if p["name"] == "API default")
    assert api["offline_matches_real"] == 1.0 and api["label"] == next(
        p["label"] for p in result["plans"] if p["name"] == "plan cascade")
    assert all(p["offline_matches_real"] == 1.0 for p in cascades), [
        (p["name"], p["offline_matches_real"]) for p in cascades if p["offline_matches_real"] != 1.0]
    # entities alone is an exact scan no served plan runs (`fields: ["entities"]` rescores the default's
    # candidates): judged, but neither timed nor compared with the service, and labelled so
    scan = next(p for p in result["plans"] if p["name"] == "only entities")
    assert scan["latency"] is None and scan["offline_matches_real"] is None and "exact scan" in scan["label"]
    for plan in result["plans"]:
        assert 0.0 <= plan["metrics"]["ndcg@10"] <= 1.0
        if plan is not scan:  # every other row's latency and match are of the plan its ranking is
            assert plan["latency"]["n"] == 2 and plan["latency"]["p95_ms"] >= plan["latency"]["p50_ms"] > 0
            assert 0.0 <= plan["offline_matches_real"] <= 1.0
    # the offline fusion reproduces the store's own fused ranking
    assert result["verification"]["dbsf_identical_top10"] == 1.0
    # a tiny, easy corpus: document retrieval finds the relevant abstracts
    only_doc = next(p for p in result["plans"] if p["name"] == "only document")
    assert only_doc["metrics"]["recall@10"] == 1.0

    assert result["holdout"]["queries"] == 1 and result["holdout"]["fit_queries"] == 2
    assert set(result["thresholds"]["versions"]) == set(result["vector_versions"].values())
    assert [p.name for p in paths] == ["results.md", "results.json", "results.png"]
    assert (out / "profile.json").exists() and (out / "thresholds.json").exists()
    md = paths[0].read_text()
    assert "| only document |" in md
    # results.md shows each row's match with the service, and says why a row has none or is under 100 %
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert table[0].endswith("| = live |")
    for plan in result["plans"]:
        line = next(x for x in table if x.startswith(f"| {plan['name']} |"))
        share = plan["offline_matches_real"]
        assert line.endswith("| — |" if share is None else f"| {share:.0%}{'' if share == 1 else ' *'} |"), line
    assert "No served plan ranks `only entities`" in md
    rows = [{"name": "x", "offline_matches_real": 0.8, "latency": {}}, {"name": "y", "offline_matches_real": 1.0,
                                                                        "latency": {}}]
    assert "`x` (80% equal)" in "".join(match_notes(rows)) and "`y`" not in "".join(match_notes(rows))

    # --save stored the profile (tied to the live versions) and the thresholds in the index's meta
    store = open_store(eval_settings(index).store)
    try:
        repo = ProfileRepo(store=store, alias="documents")
        profile = repo.profile()
        assert profile is not None and profile.vector_versions == result["vector_versions"]
        assert set(repo.thresholds()) == set(result["vector_versions"].values())
    finally:
        store.close()

    # a second run reuses the index instead of building it again; the API default is now the profile
    again = evaluate(parse_args([str(data), "--index-dir", str(index), "--out", str(out),
                                 "--latency-queries", "1", "--baseline", "API default"]), encoders=encoders)["result"]
    assert again["index"]["reused"] is True
    api = next(p for p in again["plans"] if p["name"] == "API default")
    assert api["fusion"] == profile.fusion and set(api["spaces"]) == set(profile.fields)
    # --baseline: every plan's interval is against the API default (its own is exactly zero)
    assert again["baseline"] == "API default" and api["ci_vs_baseline"] == [0.0, 0.0]
    with pytest.raises(InvalidInput, match="--baseline 'best' names no plan"):
        evaluate(parse_args([str(data), "--index-dir", str(index), "--out", str(out), "--latency-queries", "1",
                             "--baseline", "best"]), encoders=encoders)


@pytest.mark.parametrize(("fit", "left"), [("0.3", "1 of the 3 judged queries to fit on and 2 held out"),
                                           ("0.9", "3 of the 3 judged queries to fit on and 0 held out")])
def test_a_fit_share_that_leaves_too_few_to_fit_or_to_hold_out_is_refused_before_anything_is_indexed(
        tmp_path: Path, encoders: EncoderPool, fit: str, left: str) -> None:
    data = write_beir(tmp_path / "tiny")
    index = tmp_path / "index"
    args = parse_args([str(data), "--index-dir", str(index), "--out", str(tmp_path / "out"), "--fit", fit])
    with pytest.raises(InvalidInput, match=f"--fit {fit} leaves {left}: at least 2 and 1 are needed"):
        evaluate(args, encoders=encoders)
    assert not index.exists()  # refused before the index was opened, let alone built
