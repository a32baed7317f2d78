"""The validate step: both arms searched through the search service, compared, and the verdict stored for the gate."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.domain.gates import Coverage, Verdict, promote_gate
from app.errors import InvalidInput
from app.repos.migrations import MigrationRecords
from app.repos.registry import now
from app.services.search import SearchRequest, SearchService
from app.versioning import validate as val
from app.versioning.declare import Migration
from app.versioning.steps import DEFAULT_MARGIN, Arms, StepResult, run_actions


def arm_searcher(search: SearchService, arms: Arms) -> val.Searcher:
    """Search one arm in one mode as a user's request would be: the arm's versions pinned
    (`SearchRequest.versions`), on the arm's collection, the settings' fusion and weights.

    Args:
        search: the search service (the one the API serves).
        arms: what to compare.

    Returns:
        `(arm, mode, query text) -> doc ids`, best first, `val.RECALL_K` of them.
    """
    def ranked(arm: str, mode: str, text: str) -> list[str]:
        response = search.search(SearchRequest(query=text, limit=val.RECALL_K, fields=arms.modes[mode],
                                               versions=arms.pins[arm], collection=arms.collections[arm]))
        return [str(h["id"] if h["id"] is not None else h["point_id"]) for h in response.hits]

    return ranked


def validate(m: Migration, arms: Arms, query_set: val.QuerySet, *, search: SearchService,
             records: MigrationRecords, k: int = 10, dry_run: bool = False,
             on_query: Callable[[int], None] | None = None) -> StepResult:
    """Run both arms side by side on `query_set`; store the verdict the promote gate reads.

    Args:
        m: the migration validated.
        arms: what its kind of change compares (`ChangeSteps.arms`).
        query_set: the queries, and judgments when there are any.
        search: the search service both arms go through.
        records: where the verdict is stored.
        k: the cut-off of nDCG and overlap.
        dry_run: say what would run, run nothing.
        on_query: called with the number of queries done, after each.

    Returns:
        The step's result; `data["report"]` is the full report (metrics per mode, worst queries, verdict).

    Raises:
        InvalidInput: the queries are judged but neither arm found a judged document in any mode (nothing stored).
    """
    result = StepResult(step="validate", target=arms.target, dry_run=dry_run)
    if dry_run:
        result.actions.append(f"run {len(query_set.queries)} queries from {query_set.name} on "
                              f"{arms.describe['baseline']} and {arms.describe['candidate']} ({', '.join(arms.modes)})")
        result.actions.append(f"store the verdict for {arms.target} for the promote gate")
        return result
    t0 = time.perf_counter()
    compared = val.compare(query_set, modes=list(arms.modes), search=arm_searcher(search, arms), k=k,
                           on_query=on_query)
    gate_metrics = compared["modes"][compared["gate_mode"]]
    ndcg = gate_metrics.get(f"ndcg@{k}")
    if query_set.judged and not found_any_judged(compared):
        raise InvalidInput(f"validation found no judged document in either arm, in any mode, for the "
                           f"{compared['queries']} queries of {query_set.name}: are these queries and judgements "
                           "for this collection? No verdict was stored")
    others = {f"{mode} nDCG@{k}": v[f"ndcg@{k}"]["candidate"] - v[f"ndcg@{k}"]["baseline"]
              for mode, v in compared["modes"].items() if mode != compared["gate_mode"] and f"ndcg@{k}" in v}
    verdict = Verdict(target=arms.target, metric=f"{compared['gate_mode']} nDCG@{k}",
                      baseline=ndcg["baseline"] if ndcg else None, candidate=ndcg["candidate"] if ndcg else None,
                      overlap=gate_metrics[f"overlap@{k}"], queries=compared["queries"], created=now(),
                      others=others)
    gate = promote_gate(coverage=Coverage(1, 1), verdict=verdict, margin=DEFAULT_MARGIN, force=False)
    report: dict[str, Any] = {
        **compared, "target": arms.target, "migration": m.label, "created": verdict.created,
        "collection": arms.collections["candidate"], "query_set": query_set.name, "k": k,
        "arms": arms.describe, "verdict": verdict.to_dict(), "seconds": round(time.perf_counter() - t0, 1),
        "gate_summary": ("passes" if gate.allowed else "fails") + f" at the default margin "
                        f"{DEFAULT_MARGIN}: " + gate.message()}
    run_actions(result, [(f"store the verdict for {arms.target} ({verdict.metric}: "
                          f"{_fmt(verdict.baseline)} -> {_fmt(verdict.candidate)}, overlap@{k} "
                          f"{_fmt(verdict.overlap)}) for the promote gate", lambda: records.save_verdict(verdict))])
    result.data = {"report": report}
    result.notes += val.report_text(report)
    return result


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def found_any_judged(compared: dict[str, Any]) -> bool:
    """True when some arm, in some mode, ranked a judged document (any recall above zero)."""
    return any(v > 0 for mode in compared["modes"].values() for key, arms in mode.items()
               if key.startswith("recall@") for v in arms.values())
