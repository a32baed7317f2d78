"""Write an evaluation: a markdown table, the JSON behind it, and a plot (PNG)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

COLUMNS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def plans_table(rows: Sequence[Mapping[str, Any]], *, baseline: str | None = None, latency: bool = True) -> str:
    """A markdown table of plans: metrics, nDCG change against `baseline` (a row name), latency, and (with
    latency) `= live`: the share of the timed queries whose live top 10 equals the row's offline ranking
    (`offline_matches_real`; `—` for a ranking no served plan runs, `*` when under 100 %: see `match_notes`)."""
    base = next((r for r in rows if r["name"] == baseline), None)
    head = ["plan", "what", "nDCG@10"]
    if base:
        head += [f"Δ vs {baseline}", "95% CI"]
    head += ["R@10", "R@100", "MRR@10"]
    if latency:
        head += ["p50 ms", "p95 ms", "store p50 ms", "= live"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        m = r["metrics"]
        cells = [r["name"], r["label"], _f(m["ndcg@10"])]
        if base:
            ci = r.get("ci_vs_baseline") or [float("nan")] * 2
            cells += [f"{m['ndcg@10'] - base['metrics']['ndcg@10']:+.3f}",
                      "" if r is base else f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"]
        cells += [_f(m["recall@10"]), _f(m["recall@100"]), _f(m["mrr@10"])]
        if latency:
            lat = r.get("latency") or {}
            cells += [_f(lat.get("p50_ms"), 1), _f(lat.get("p95_ms"), 1), _f(lat.get("store_p50_ms"), 1),
                      _match(r.get("offline_matches_real"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _match(share: float | None) -> str:
    if share is None or share != share:
        return "—"
    return f"{share:.0%}" + ("" if share >= 1.0 else " *")


def match_notes(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Footnotes for the `= live` column: the rows whose offline ranking the service did not reproduce on
    every timed query (their nDCG@10 is of the offline ranking, their latency of the live plan), and the
    rows no served plan ranks (no latency, no match)."""
    off = [r for r in rows if isinstance(r.get("offline_matches_real"), float)
           and r["offline_matches_real"] < 1.0]
    unserved = [r["name"] for r in rows if r.get("latency") is None]
    out = []
    if off:
        out.append("\\* Live top 10 differs from the offline ranking on some timed queries for "
                   + ", ".join(f"`{r['name']}` ({r['offline_matches_real']:.0%} equal)" for r in off)
                   + ": the service ranked them otherwise (not only by ordering hits of equal score, which "
                   "counts as equal), so their nDCG@10, of the offline ranking, may not be what it serves; "
                   "the share is `offline_matches_real` in results.json.")
    if unserved:
        out.append("— No served plan ranks " + ", ".join(f"`{n}`" for n in unserved)
                   + " (an exact scan of a rerank-only space): judged, not timed.")
    return [line for note in out for line in (note, "")]


def markdown(result: Mapping[str, Any]) -> str:
    """The evaluation document (results.json's shape) as results.md: tables of metrics, CIs and latency (ms)."""
    ds = result["dataset"]
    out = [f"# Evaluation: {ds['name']} ({ds['split']})", "",
           f"{ds['documents']} documents, {ds['queries']} judged queries; per-space lists of depth "
           f"{result['depth']} fetched once per query from the `{result['store']}` store and fused offline "
           f"with Qdrant's math; latency from the real plan through the search service on "
           f"{result['latency_queries']} queries (encode + store, limit 10).", ""]
    v = result.get("verification") or {}
    if v:
        out += [f"Offline fusion against the store's own fused ranking: {v['dbsf_identical_top10']:.1%} of "
                f"{v['queries']} queries have the identical top 10 (equal-weight DBSF, every query); "
                f"per plan, on the latency queries: mean top-10 overlap {v['mean_plan_overlap']:.1%}, "
                f"identical {v['mean_plan_identical']:.1%} (each row's share: the `= live` column).", ""]
    out += ["## All judged queries", "", plans_table(result["plans"], baseline=result.get("baseline")), "",
            *match_notes(result["plans"])]
    prof = result.get("profile")
    if prof:
        out += ["## Ranking profile", "", "```json", json.dumps(prof, indent=1), "```", ""]
    held = result.get("holdout")
    if held:
        out += [f"## Held-out queries ({held['queries']} queries the profile was not fitted on; "
                f"fitted on {held['fit_queries']})", "",
                plans_table(held["plans"], baseline=result.get("baseline"), latency=False), ""]
    out += learned_section(result.get("learned"))
    if result.get("router"):
        from app.eval.router_report import router_markdown

        out += router_markdown(result["router"])
    th = result.get("thresholds")
    if th:
        out += ["## Similarity thresholds (per vector version, raw score of that space)", "",
                "| version | kind | threshold | beta | precision | recall | F-beta |", "|---|---|---|---|---|---|---|"]
        for name, t in th["versions"].items():
            out.append(f"| {name} | {t.get('kind', 'dense')} | {t['threshold']:.4f} | {t['beta']:g} | "
                       f"{t['precision']:.3f} | {t['recall']:.3f} | {t['f_beta']:.3f} |")
        out.append("")
        for title, eff in th.get("effect", {}).items():
            out.append(f"- {title}: relevant hits kept {_f(eff['relevant_kept'])}, non-relevant dropped "
                       f"{_f(eff['nonrelevant_dropped'])}, queries left empty {_f(eff['empty_results'])}, "
                       f"hits kept per query {_f(eff['mean_hits_kept'], 2)} ({eff['queries']} queries; "
                       f"voting: {', '.join(v.split('.')[0] for v in eff.get('voting', [])) or 'none'})")
        out.append("")
    for note in result.get("notes", []):
        out.append(f"- {note}")
    return "\n".join(out) + "\n"


def learned_section(learned: Mapping[str, Any] | None) -> list[str]:
    """The learned scorer: the model chosen by cross-validation, its coefficients, the verdict on held-out queries."""
    if not learned:
        return []
    sc = learned["scorer"]
    cis = "; ".join(f"{name} [{lo:+.3f}, {hi:+.3f}]" for name, (lo, hi) in learned["ci"].items())
    out = ["## Learned scorer", "", f"Chosen by {sc['fitted_on'].get('folds')}-fold cross-validation on the fit "
           f"queries: {sc['model']}, features `{learned['config']['features']}`"
           f"{' with interactions' if learned['config']['interactions'] else ''}, list depth {sc['depth']}. "
           f"Held out: nDCG@10 {_f(sc['metrics']['holdout']['ndcg@10'])}; 95% CI of its difference to {cis}: "
           + ("**the profile's default ranking**." if learned["default"] else
              "not above the interval, so **selectable only** (`fusion: \"learned\"`)."), "",
           "| term | coefficient |", "|---|---|"]
    out += [f"| `{t['term']}` | {t['coefficient']:+.4f} |" for t in sc["terms"]]
    out += ["", "| features | interactions | model | C | CV nDCG@10 |", "|---|---|---|---|---|"]
    out += [f"| {t['features']} | {t['interactions']} | {t['method']} | {t['C']:g} | {t['cv_ndcg@10']:.4f} |"
            for t in learned["tried"]]
    return [*out, ""]


def plot(result: Mapping[str, Any], path: Path) -> None:
    """nDCG@10 and Recall@100 per plan (bars), and nDCG@10 against p50 latency (scatter)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(result["plans"])
    names = [r["name"] for r in rows]
    colors = {"single": "#7f7f7f", "fused": "#d62728", "ablation": "#1f77b4", "fusion": "#2ca02c",
              "profile": "#9467bd", "selected": "#ff7f0e", "default": "#8c564b",
              "cascade": "#17becf", "plan": "#bcbd22",
              "learned": "#e377c2"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, max(5, 0.32 * len(rows) + 1.5)),
                                   gridspec_kw={"width_ratios": [3, 2]})
    y = range(len(rows))
    ax1.barh([i + 0.2 for i in y], [r["metrics"]["ndcg@10"] for r in rows], height=0.4,
             color=[colors.get(r["group"], "#333") for r in rows], label="nDCG@10")
    ax1.barh([i - 0.2 for i in y], [r["metrics"]["recall@100"] for r in rows], height=0.4,
             color=[colors.get(r["group"], "#333") for r in rows], alpha=0.35, label="Recall@100")
    ax1.set_yticks(list(y), names, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlim(0, 1)
    ax1.legend(loc="lower right")
    ds = result["dataset"]
    ax1.set_title(f"{ds['name']} ({ds['split']}, {ds['queries']} queries): solid nDCG@10, pale Recall@100")
    for r in rows:
        lat = (r.get("latency") or {}).get("p50_ms")
        if lat is None:
            continue
        ax2.scatter(lat, r["metrics"]["ndcg@10"], color=colors.get(r["group"], "#333"))
        ax2.annotate(r["name"], (lat, r["metrics"]["ndcg@10"]), fontsize=7, xytext=(3, 2),
                     textcoords="offset points")
    ax2.set_xlabel("search latency p50, ms (encode + store)")
    ax2.set_ylabel("nDCG@10")
    ax2.set_title("quality against latency")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(result: Mapping[str, Any], out_dir: Path, *, with_plot: bool = True) -> list[Path]:
    """results.md, results.json and (with matplotlib, unless with_plot is False) results.png in `out_dir`.

    Returns:
        The paths written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "results.md", out_dir / "results.json"]
    paths[0].write_text(markdown(result))
    paths[1].write_text(json.dumps(result, indent=1, default=str))
    if with_plot:
        paths.append(out_dir / "results.png")
        plot(result, paths[-1])
    return paths
