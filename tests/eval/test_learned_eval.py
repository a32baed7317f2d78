"""`scripts/evaluate --fit` fits a learned scorer on a tiny judged corpus, reports it beside the tuned weights and
today's default, stores it in the ranking profile, and the service then ranks with it as the harness did."""

from __future__ import annotations

import json
from pathlib import Path

from app.encoders.fastembed_encoder import EncoderPool
from app.eval.cli import evaluate, parse_args
from app.eval.index import eval_settings, open_index
from app.eval.report import markdown
from app.repos.profiles import ProfileRepo
from app.services.search import SearchRequest
from tests.eval.test_evaluate_pipeline import QUERIES as BASE_QUERIES
from tests.eval.test_evaluate_pipeline import write_beir

QUERIES = {
    **BASE_QUERIES,
    "q4": ("a cytokine that drives fever, blocked in rheumatoid arthritis", {"bio-3": 1}),
    "q5": ("leader election and log replication", {"cs-2": 1}),
    "q6": ("nearest neighbour search over embeddings", {"cs-1": 1}),
    "q7": ("cheap printed pamphlets spread religious reform", {"hist-1": 1}),
    "q8": ("bacteria in the intestine and allergies", {"bio-2": 1}),
    "q9": ("planets passing in front of their star", {"astro-1": 1}),
}


def test_evaluate_fits_stores_and_serves_a_learned_scorer(tmp_path: Path, encoders: EncoderPool) -> None:
    data = write_beir(tmp_path / "tiny", QUERIES)
    out, index = tmp_path / "out", tmp_path / "index"
    done = evaluate(parse_args([str(data), "--index-dir", str(index), "--out", str(out), "--latency-queries", "3",
                                "--fit", "0.67", "--save", "--no-plot"]), encoders=encoders)
    result = done["result"]
    rows = {p["name"]: p for p in result["plans"]}
    learned = rows["learned scorer"]
    assert learned["group"] == "learned" and learned["fusion"] == "learned"
    assert learned["spaces"] == rows["API default"]["spaces"]  # the spaces today's default fuses: the same cost
    assert learned["offline_matches_real"] == 1.0  # the harness ranks as the service does
    assert {"learned profile", "tuned weighted DBSF", "API default"} <= set(rows)
    assert rows["tuned weighted DBSF"]["fusion"] == "dbsf"
    held = {p["name"]: p for p in result["holdout"]["plans"]}
    assert 0.0 <= held["learned scorer"]["metrics"]["ndcg@10"] <= 1.0

    verdict = result["learned"]
    scorer = verdict["scorer"]
    assert scorer["vector_versions"] == {s: result["vector_versions"][s] for s in learned["spaces"]}
    assert scorer["depth"] == 100
    assert scorer["fitted_on"]["queries"] == 6 and scorer["fitted_on"]["dataset"] == "tiny"
    assert set(verdict["ci"]) == {"learned profile", "tuned weighted DBSF", "API default"}
    assert verdict["default"] == all(low > 0 for low, _ in verdict["ci"].values())
    assert scorer["default"] == verdict["default"]
    assert "## Learned scorer" in markdown(result)
    saved = json.loads((out / "profile.json").read_text())
    assert saved["scorer"] == scorer

    # --save stored it with the profile: the service reads it and ranks with it
    services = open_index(index, settings=eval_settings(index), encoders=encoders)
    try:
        profile = ProfileRepo(store=services.store, alias=services.registry.alias).profile()
        assert profile is not None and profile.scorer == scorer
        text = QUERIES["q5"][0]
        served = services.search.search(SearchRequest(query=text, fusion="learned", explain=True, limit=3))
        assert served.plan is not None and served.plan["fusion"] == "learned"
        assert served.hits[0]["id"] == "cs-2"
        terms = {t["term"] for t in scorer["terms"]}
        shown = {term for hit in served.hits for space in hit["explain"].values() for term in space.get("terms", {})}
        assert shown == terms
    finally:
        services.close()

    # a saved profile holding a scorer is evaluated with it too (how a scorer is tried on another corpus)
    again = evaluate(parse_args([str(data), "--index-dir", str(index), "--out", str(tmp_path / "again"),
                                 "--latency-queries", "2", "--profile", str(out / "profile.json"), "--no-plot"]),
                     encoders=encoders)["result"]
    names = [p["name"] for p in again["plans"]]
    assert f"profile {saved['name']}.v{saved['version']}, learned scorer" in names
