"""The router section of results.md: the router beside its candidate plans, the oracle, the default and all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _f(x: Any, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and x != x) else f"{x:.{digits}f}"


def router_markdown(section: Mapping[str, Any]) -> list[str]:
    """Markdown lines: what the router was fitted on and how it was chosen, then one table row per plan.

    Columns: nDCG@10, its 95 % paired-bootstrap CI against `all` and against `fused` (the default), R@100,
    spaces searched per query (mean), store p50 in ms (real searches), and the plans each row ran.
    """
    df = section["df_table"]
    m = section.get("metrics", {})
    out = [f"## Query router ({section['source']}, {section['queries']} queries)", "",
           f"Model {section['model']['kind']} over {len(section['features'])} features, classes "
           f"{', '.join(section['model']['classes'])}; threshold {section['threshold']:g} (unsure: the default "
           f"plan `{section['default']}` runs). Cross-validated on the fit queries: {m.get('cv')}; labels "
           f"{m.get('labels')}; config {m.get('config')}.",
           f"Features and model: {_f(section['feature_us_p50'], 1)} µs per query (median), BM25 encoding of the "
           f"query {_f(section['bm25_encode_us_p50'], 1)} µs. DF table: {df['terms']} terms with df >= "
           f"{df['min_df']} of {df['vocabulary']} seen in {df['docs']} documents, {df['json_bytes']:,} bytes as "
           f"JSON (the whole router: {df['router_json_bytes']:,}). Served route equals the offline route on "
           f"{_f(section['served_route_agreement'] * 100, 1)} % of {section['latency_queries']} timed queries.", "",
           "| plan | nDCG@10 | Δ vs all [95% CI] | Δ vs fused [95% CI] | R@100 | spaces/query | store p50 ms "
           "| plans run |", "|---|---|---|---|---|---|---|---|"]
    rows = {r["name"]: r for r in section["rows"]}
    for r in section["rows"]:
        cells = [r["name"], _f(r["metrics"]["ndcg@10"])]
        for base in ("all", "fused"):
            ci = r.get(f"ci_vs_{base}")
            delta = r["metrics"]["ndcg@10"] - rows[base]["metrics"]["ndcg@10"] if base in rows else None
            cells.append(f"{delta:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci and delta is not None else "")
        lat = r.get("latency") or {}
        cells += [_f(r["metrics"]["recall@100"]), _f(r["spaces"], 2), _f(lat.get("store_p50_ms"), 2),
                  ", ".join(f"{k} {v}" for k, v in sorted(r["plans"].items()))]
        out.append("| " + " | ".join(cells) + " |")
    return [*out, ""]
