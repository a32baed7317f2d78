"""What a plan says about the request it was built from: the options it asked for that this plan does not use
(`QueryPlan.notes`), so none is dropped without a word."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from app.domain.plan import QueryPlan


def note_unsearched_weights(plan: QueryPlan, asked: Mapping[str, float] | None) -> QueryPlan:
    """`plan`, saying in `notes` which spaces the request weighed above 0 that the plan does not search: a
    weight adjusts a space the plan searches (a named plan's, or `fields`); it adds none."""
    searched = {s.space for s in (*plan.all_spaces, *plan.observed)}
    left = sorted(n for n, w in (asked or {}).items() if w > 0 and n not in searched)
    if not left:
        return plan
    return replace(plan, notes=(*plan.notes, f"weighted but not searched by this plan: {', '.join(left)} (a weight "
                                "adjusts a space the plan searches; name it in `fields` or `rerank` to search it)"))


def note_unused_options(plan: QueryPlan, *, rrf_k: int | None, candidates: int | None) -> QueryPlan:
    """`plan`, saying in `notes` which of the request's ranking options it does not use: `rrf_k` when nothing
    is fused by RRF (one space, or another fusion), `candidates` when nothing is reranked (no cascade). A
    tester found both dropped without a word (`{"fusion": "dbsf", "rrf_k": 5}`, `{"plan": "fused",
    "candidates": 5}`), where a weight on a space the plan leaves out is named (`note_unsearched_weights`).

    Args:
        rrf_k: the request's `rrf_k` as sent (None: not sent).
        candidates: the request's `candidates` as sent (None: not sent).
    """
    notes = []
    if rrf_k is not None and (plan.fusion != "rrf" or len(plan.spaces) < 2):
        why = f"fusion is {plan.fusion}" if plan.fusion != "rrf" else "one space finds the candidates: nothing is fused"
        notes.append(f"rrf_k {rrf_k} is not used: {why}")
    if candidates is not None and not plan.cascade:
        notes.append(f"candidates {candidates} is not used: nothing is reranked (no space rescores candidates)")
    return replace(plan, notes=(*plan.notes, *notes)) if notes else plan
