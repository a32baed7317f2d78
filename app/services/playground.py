"""The search playground: a search with `explain`, and the explanation as bar charts.

The chart is data (coordinates, colours, labels) computed here and drawn as inline SVG by the
template, so the page needs no script and nothing from a CDN: one chart per hit, one bar per
space for its contribution to the fused score (on one scale for every hit), and the rank that
space gave the hit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.errors import AppError
from app.services.plans import requestable_plans
from app.services.search import SearchRequest

if TYPE_CHECKING:
    from app.container import Services

# Tableau 10: distinguishable, and readable by most colour-blind readers
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
NAME_W, BAR_W, VALUE_W, RANK_W = 96, 300, 74, 150
ROW_H, BAR_H, TOP = 20, 13, 4
WIDTH = NAME_W + BAR_W + VALUE_W + RANK_W


def playground(services: Services, form: Any, request: Callable[[], SearchRequest | None]) -> dict[str, Any]:
    """The form, the spaces and named plans it may name, and (when the form asks for a search) the hits and their
    charts.

    Args:
        services: the injected container; its search service runs the search.
        form: what the form holds, shown again as typed.
        request: builds the search request from the form (None: no query yet); an `AppError` it
            raises (a refused field) is shown on the page, as is one from the search.
    """
    reg = services.registry.get()
    out: dict[str, Any] = {"form": form, "spaces": reg.live_spaces(), "hits": [], "plan": None,
                           "plans": requestable_plans(services.settings.search),
                           "timings": None, "legend": [], "error": None, "ran": False}
    try:
        req = request()
        if req is None:
            return out
        result = services.search.search(req)
    except AppError as e:
        out["error"] = e.message
        return out
    out["ran"] = True
    out["plan"], out["timings"] = result.plan, result.timings_ms
    plan = result.plan or {}
    charts = explain_charts(result.hits, [*plan.get("spaces", []), *plan.get("rerank", [])])  # a cascade's too
    out["legend"] = charts["legend"]
    out["hits"] = [{**hit, "chart": chart} for hit, chart in zip(result.hits, charts["charts"], strict=True)]
    return out


def explain_charts(hits: list[dict[str, Any]], plan_spaces: list[dict[str, Any]]) -> dict[str, Any]:
    """One chart per hit: a bar per space, its length the space's contribution to the fused score.

    Every chart has the same scale (the largest contribution of any space to any hit), so bars
    compare across hits. A space weighted 0 is searched only to be explained: its bar is empty,
    its rank still shown.

    Args:
        hits: search hits, each with its `explain` ({space: {rank, score, weight, contribution}}).
        plan_spaces: the plan's fused spaces, then a cascade's rerank spaces, in order (their weights), for the
            legend.

    Returns:
        {"legend": [{space, color, weight}], "scale": float, "charts": [{width, height, rows}]}.
    """
    order = [s["space"] for s in plan_spaces]
    for hit in hits:
        order += [name for name in hit.get("explain") or {} if name not in order]
    color = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(order)}
    scale = max((float(e.get("contribution") or 0.0) for hit in hits for e in (hit.get("explain") or {}).values()),
                default=0.0)
    weights = {s["space"]: s.get("weight") for s in plan_spaces}
    charts = []
    for hit in hits:
        explained = hit.get("explain") or {}
        rows = []
        for i, name in enumerate(n for n in order if n in explained):
            e = explained[name]
            value = float(e.get("contribution") or 0.0)
            # a learned scorer's term can subtract (a negative coefficient): no bar, the value says it
            width = BAR_W * max(value, 0.0) / scale if scale > 0 else 0.0
            y = TOP + i * ROW_H
            among = " of these hits" if e.get("ranked_among") == "hits" else ""  # a rerank-only space scored them
            rows.append({
                "space": name, "color": color[name], "y": y, "bar_y": y + (ROW_H - BAR_H) / 2,
                "text_y": y + ROW_H / 2 + 4, "width": round(width, 2), "value_x": NAME_W + round(width, 2) + 5,
                "value": f"+{value:.4f}" if e.get("weight") else "weight 0",
                "rank": f"rank {e['rank']}{among}" if e.get("rank") else "not ranked",
                "title": (f"{name}: rank {e.get('rank') or '-'}{among}, score "
                          f"{'-' if e.get('score') is None else format(e['score'], '.4f')}, "
                          f"weight {e.get('weight')}, contribution {value:.4f}"),
            })
        charts.append({"width": WIDTH, "height": TOP * 2 + ROW_H * len(rows), "rows": rows, "name_w": NAME_W,
                       "bar_w": BAR_W, "bar_h": BAR_H, "rank_x": NAME_W + BAR_W + VALUE_W})
    legend = [{"space": n, "color": color[n], "weight": weights.get(n, 0.0)} for n in order]
    return {"legend": legend, "scale": scale, "charts": charts}
