"""The router section of results.md: the router beside its candidate plans, the oracle, the default and all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.eval.router_fit import UNSURE


def _f(x: Any, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and x != x) else f"{x:.{digits}f}"


def router_markdown(section: Mapping[str, Any]) -> list[str]:
    """Markdown lines: what the router was fitted on and how it was chosen, then one table row per plan.

    Columns: nDCG@10, its 95 % paired-bootstrap CI against `all` and against the default ranking (`UNSURE`:
    what the service runs when the router is unsure or absent), R@100, spaces searched per query (mean),
    store p50 in ms (real searches), and the plans each row ran. Then whether the router was stored.
    """
    df = section["df_table"]
    m = section.get("metrics", {})
    v = section.get("vs_default") or {}
    out = [f"## Query router ({section['source']}, {section['queries']} queries)", "",
           f"Model {section['model']['kind']} over {len(section['features'])} features, classes "
           f"{', '.join(section['model']['classes'])}; threshold {section['threshold']:g} (unsure: the service's "
           f"default ranking runs, here {section['default']}: the `{UNSURE}` row). Cross-validated on the fit "
           f"queries: {m.get('cv')}; labels "
           f"{m.get('labels')}; config {m.get('config')}.",
           f"Features and model: {_f(section['feature_us_p50'], 1)} µs per query (median), BM25 encoding of the "
           f"query {_f(section['bm25_encode_us_p50'], 1)} µs. DF table: {df['terms']} terms with df >= "
           f"{df['min_df']} of {df['vocabulary']} seen in {df['docs']} documents, {df['json_bytes']:,} bytes as "
           f"JSON (the whole router: {df['router_json_bytes']:,}). Served route equals the offline route on "
           f"{_f(section['served_route_agreement'] * 100, 1)} % of {section['latency_queries']} timed queries.", "",
           "| plan | nDCG@10 | Δ vs all [95% CI] | Δ vs default ranking [95% CI] | R@100 | spaces/query | store p50 ms "
           "| plans run |", "|---|---|---|---|---|---|---|---|"]
    rows = {r["name"]: r for r in section["rows"]}
    for r in section["rows"]:
        cells = [r["name"], _f(r["metrics"]["ndcg@10"])]
        for base in ("all", UNSURE):
            ci = r.get(f"ci_vs_{base}")
            delta = r["metrics"]["ndcg@10"] - rows[base]["metrics"]["ndcg@10"] if base in rows else None
            cells.append(f"{delta:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci and delta is not None else "")
        lat = r.get("latency") or {}
        cells += [_f(r["metrics"]["recall@100"]), _f(r["spaces"], 2), _f(lat.get("store_p50_ms"), 2),
                  ", ".join(f"{k} {v}" for k, v in sorted(r["plans"].items()))]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    if v:
        verdict = ("**Not stored** (`--save`): " + section["not_saved"] if section.get("not_saved") else
                   f"Stored as {section['saved']}" if section.get("saved") else "Not stored (no `--save`)")
        out += [f"Router {_f(v.get('router_ndcg@10'))} vs default ranking {_f(v.get('default_ndcg@10'))} nDCG@10 "
                f"on these {v.get('queries')} queries. {verdict}. `scripts/evaluate install --router` refuses a "
                "router that scored below its default ranking (`--force` installs it anyway).", ""]
    return out
