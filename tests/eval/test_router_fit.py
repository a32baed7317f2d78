"""`scripts/evaluate --fit-router` end to end on a tiny judged corpus, with the real models and store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.domain.router import QueryRouter
from app.encoders.fastembed_encoder import EncoderPool
from app.eval.cli import evaluate, parse_args
from app.eval.index import eval_settings, open_index
from app.eval.install import install
from app.eval.report import markdown
from app.eval.router_fit import UNSURE, below_default
from app.services.search import SearchRequest
from tests.eval.test_evaluate_pipeline import write_beir

# codes, names and plain questions, so the plans differ from one query to the next
QUERIES = {
    "r1": ("IL-6 receptor blocked by tocilizumab", {"bio-3": 2}),
    "r2": ("CRISPR-Cas9 guide RNA", {"bio-1": 2}),
    "r3": ("why do galaxies spin faster than their visible mass allows?", {"astro-2": 2}),
    "r4": ("how do planets' atmospheres show up in starlight?", {"astro-1": 2}),
    "r5": ("HNSW approximate nearest neighbour index", {"cs-1": 2}),
    "r6": ("how does a cluster agree on one leader?", {"cs-2": 2}),
    "r7": ("wild yeast starter for bread", {"cook-1": 2}),
    "r8": ("sauerkraut kimchi lactobacilli", {"cook-2": 2, "cook-1": 1}),
    "r9": ("what made books cheap in the 1500s?", {"hist-1": 2}),
    "r10": ("Cypripedium calceolus orchid", {"long-1": 2}),
    "r11": ("bacteria in the intestine and allergies", {"bio-2": 2}),
    "r12": ("JWST transit spectra of hot Jupiters", {"astro-1": 2}),
}


def test_fit_router_labels_fits_stores_and_reports_it(tmp_path: Path, encoders: EncoderPool,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = write_beir(tmp_path / "tiny", QUERIES)
    out, index = tmp_path / "out", tmp_path / "index"
    args = parse_args([str(data), "--index-dir", str(index), "--out", str(out), "--latency-queries", "3",
                       "--fit", "0.6", "--seed", "13", "--fit-router", "--save", "--no-plot"])
    result = evaluate(args, encoders=encoders)["result"]
    section = result["router"]

    rows = {r["name"]: r for r in section["rows"]}
    named = {"fused", "all", "keyword", "dense", "cascade"}  # the settings' named plans (app.services.plans)
    assert set(rows) == {"only-keywords", "only-document", "pair", *named, "router", "oracle", UNSURE}
    # unsure, the router runs what the service runs without it: the ranking profile --save stored just before
    # (its learned scorer when that became its default), never a plan of the router's own choosing
    profile = result["profile"]
    assert section["default"].startswith(f"the stored ranking profile {profile['name']}")
    ranked_by = "learned scorer" if (profile.get("scorer") or {}).get("default") else "learned profile"
    held = {r["name"]: r for r in result["holdout"]["plans"]}
    assert rows[UNSURE]["metrics"] == held[ranked_by]["metrics"]  # the same held-out queries, the same ranking
    assert rows["router"]["ci_vs_default ranking"] is not None
    assert section["queries"] == 5 and sum(rows["router"]["plans"].values()) == 5  # 40 % of 12, held out
    # the oracle takes each query's best plan, so no plan (nor the router) beats it
    assert all(r["metrics"]["ndcg@10"] <= rows["oracle"]["metrics"]["ndcg@10"] + 1e-12 for r in rows.values())
    assert [rows[n]["spaces"] for n in ("only-keywords", "only-document", "pair", "fused", "all", "cascade")] == \
        [1, 1, 2, 3, 6, 3]  # a cascade searches document + keywords, then reranks with body
    assert 1 <= rows["router"]["spaces"] <= 6
    assert all(r["latency"]["n"] == 3 and r["latency"]["store_p50_ms"] > 0 for n, r in rows.items() if n != "oracle")
    # the router as served (a bare request through the search service) routed as the offline evaluation did
    assert section["served_route_agreement"] == 1.0
    assert section["df_table"]["docs"] == 11 and 0 < section["df_table"]["terms"] < section["df_table"]["vocabulary"]
    assert "## Query router (held-out queries, 5 queries)" in markdown(result)

    # router.json is the stored router: data only, tied to the live vector versions
    router = QueryRouter.from_dict(json.loads((out / "router.json").read_text()))
    assert router.vector_versions == result["vector_versions"] and router.default == UNSURE
    assert UNSURE not in router.model.classes and router.plans[UNSURE].fields == tuple(profile["weights"])
    versus = section["vs_default"]
    assert router.metrics["vs_default"] == versus and versus["queries"] == 5
    assert (versus["router_ndcg@10"], versus["default_ndcg@10"]) == pytest.approx(
        (rows["router"]["metrics"]["ndcg@10"], rows[UNSURE]["metrics"]["ndcg@10"]), abs=1e-6)
    assert router.fitted_on["queries"] == 7 and 0.0 <= router.threshold <= 1.01
    # on these 5 held-out queries the router scores below the default ranking: --save did not store it
    assert versus["router_ndcg@10"] < versus["default_ndcg@10"]
    assert section["not_saved"] == below_default(router) and "below" in section["not_saved"]
    assert "**Not stored** (`--save`)" in markdown(result)
    services = open_index(index, settings=eval_settings(index), encoders=encoders)
    try:
        assert services.search.profiles.router() is None
    finally:
        services.close()

    # `install --router` refuses it in one line (argparse: exit status 2), and installs it with --force,
    # keeping what the profile held
    with pytest.raises(SystemExit) as refused:
        install(["--index-dir", str(index), "--router", str(out / "router.json")])
    assert refused.value.code == 2
    assert "not installed: it scored nDCG@10" in capsys.readouterr().err
    install(["--index-dir", str(index), "--router", str(out / "router.json"), "--force"])
    assert "warning: --force: it scored" in capsys.readouterr().err
    services = open_index(index, settings=eval_settings(index), encoders=encoders)
    try:
        assert services.search.profiles.router().to_dict() == router.to_dict()  # type: ignore[union-attr]
        kept = services.search.profiles.profile()  # the fusion profile --fit --save stored, kept beside it
        assert kept is not None and kept.weights == result["profile"]["weights"]
        # versions: the profile (1), the router installed beside it (2)
        assert services.store.get_meta("profile:documents")["version"] == 2  # type: ignore[index]
        plan = services.search.search(SearchRequest(query=QUERIES["r1"][0], explain=True)).plan or {}
        assert plan["router"]["router"] == router.name and plan["router"]["reason"] in ("routed", "unsure")
    finally:
        services.close()
    # a router that held its default ranking installs without --force
    better = {**router.to_dict(), "metrics": {**router.metrics, "vs_default": {**versus, "router_ndcg@10": 1.0}}}
    (tmp_path / "better.json").write_text(json.dumps(better))
    install(["--index-dir", str(index), "--router", str(tmp_path / "better.json")])
    assert "warning" not in capsys.readouterr().err

    # the saved router, evaluated on every judged query, with the stored IDF table and with this index's
    again = evaluate(parse_args([str(data), "--index-dir", str(index), "--out", str(tmp_path / "again"),
                                 "--latency-queries", "2", "--router", str(out / "router.json"), "--save",
                                 "--no-plot"]), encoders=encoders)["result"]["router"]
    assert again["queries"] == 12 and {"router", "router, this index's DF"} <= {r["name"] for r in again["rows"]}
    # --save with --router stores that router with this index's document frequencies, when it holds its
    # default ranking on these queries
    v = again["vs_default"]
    assert v["queries"] == 12 and again["default"].startswith("the stored ranking profile")
    if v["router_ndcg@10"] >= v["default_ndcg@10"]:
        assert again["saved"].endswith("this index's DF") and "not_saved" not in again
    else:
        assert "saved" not in again and "below" in again["not_saved"]
