"""Fusion, in one place: Qdrant's formulas, each hit's contribution, and who fuses a plan.

The math is Qdrant's own (weighted RRF and DBSF), so a list fused here matches what the engine
would compute. It is used where the store does not fuse (see `fused_in`), to explain what each
space contributed to a hit, and by the evaluation harness to try fusion variants on per-space
results fetched once. The engine's capabilities are not known here: each store adapter declares
the fusions it runs itself (`Store.fusions`), and `fused_in` decides from that.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from app.domain.plan import QueryPlan, SpaceQuery

Ranked = Sequence[tuple[str, float]]  # (id, score), best first
FusedIn = Literal["store", "client", "n/a"]  # `client`: the search service fuses per-space lists

# Fusion capability names a store adapter can declare in `fusions`; `:weighted` means with weights.
RRF, RRF_WEIGHTED, DBSF, DBSF_WEIGHTED = "rrf", "rrf:weighted", "dbsf", "dbsf:weighted"
DBSF_SPARSE = "dbsf:sparse"  # DBSF over a sparse space's list, counted at its depth (`zero_floors`): no engine has it


def rrf(lists: Sequence[Ranked], *, k: int, weights: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion as Qdrant computes it.

    Args:
        lists: one ranked list per space, best first.
        k: the RRF constant (1..10000).
        weights: one per list (default all 1.0); a list weighted <= 0 adds nothing.

    Returns:
        (id, fused score) best first; equal scores by `str(id)`.
    """
    return _summed(lists, weights,
                   lambda _, ranked, w: ((pid, rrf_term(rank, w, k)) for rank, (pid, _) in enumerate(ranked)))


def rrf_term(rank: int, weight: float, k: int) -> float:
    """What the hit at 0-based `rank` of a list weighted `weight` adds: w / (rank + 1 + w * (k - 1))."""
    return 1.0 / ((rank + 1.0) / weight + k - 1.0)


def dbsf_normalize(ranked: Ranked, depth: int = 0) -> list[tuple[str, float]]:
    """Scale scores so mean - 3 sd -> 0 and mean + 3 sd -> 1 (sample variance, as Qdrant).

    Args:
        ranked: (id, score), best first.
        depth: a list known to be complete that is shorter than `depth` is normalised as if the points it
            lacks were there at score 0 (`zero_floors`: a sparse space's list); 0, as Qdrant: the list alone.

    Returns:
        (id, normalised score) in the input order; a single hit (of a list counted alone), or all-equal
        scores, give 0.5.
    """
    n = len(ranked)
    total = max(n, depth)
    if n == 0:
        return []
    if total == 1:
        return [(ranked[0][0], 0.5)]
    mean = sum(s for _, s in ranked) / total
    var = (sum((s - mean) ** 2 for _, s in ranked) + (total - n) * mean**2) / (total - 1)
    if var == 0:
        return [(pid, 0.5) for pid, _ in ranked]
    sd = math.sqrt(var)
    low, high = mean - 3 * sd, mean + 3 * sd
    return [(pid, (s - low) / (high - low)) for pid, s in ranked]


def zero_floors(sparse: Sequence[bool], lists: Sequence[Ranked], limit: int) -> list[int]:
    """The depth each list is normalised at by DBSF (`dbsf_normalize`); `sparse` says (in the same order)
    which lists are a sparse space's. A sparse list: the number of points a dense list of the same search
    holds (every point the search may return has a cosine, so that is `limit` or, in a smaller or filtered
    collection, all of them; `limit` when no dense list is at hand). A dense or multivector list: 0 (the
    list alone, as Qdrant).

    A sparse space's list is complete: every point it lacks shares no term with the query and scores 0. A
    term few documents hold returns a short list, and DBSF over the short list alone would rank its hits
    low (a single hit normalises to 0.5 however well it matched), so the one document holding a rare word
    could fall below a dense space's near misses. Counted with the missing points at 0, that exact match
    leads, and a full list (every long query) normalises as before.
    """
    eligible = max((len(ranked) for is_sparse, ranked in zip(sparse, lists, strict=True) if not is_sparse),
                   default=limit)
    return [min(limit, eligible) if is_sparse else 0 for is_sparse in sparse]


def dbsf(lists: Sequence[Ranked], *, weights: Sequence[float] | None = None,
         depths: Sequence[int] | None = None) -> list[tuple[str, float]]:
    """Distribution-based score fusion: the sum of each list's (weighted) normalised scores.

    Args:
        depths: per list, `dbsf_normalize`'s depth (`zero_floors`); None: each list alone, as Qdrant.

    Returns:
        (id, fused score) best first; equal scores by `str(id)`.
    """
    depths = depths or [0] * len(lists)
    return _summed(lists, weights, lambda i, ranked, w: ((pid, w * s) for pid, s in dbsf_normalize(ranked, depths[i])))


def _summed(lists: Sequence[Ranked], weights: Sequence[float] | None,
            adds: Callable[[int, Ranked, float], Iterable[tuple[str, float]]]) -> list[tuple[str, float]]:
    """Each hit's sum over the lists of what `adds(list's position, list, weight)` gives it (lists weighted <= 0
    skipped; weights default to 1.0), best first, equal scores by `str(id)`."""
    scores: dict[str, float] = {}
    for i, (ranked, w) in enumerate(zip(lists, weights or [1.0] * len(lists), strict=True)):
        if w <= 0:
            continue
        for pid, add in adds(i, ranked, w):
            scores[pid] = scores.get(pid, 0.0) + add
    return sorted(scores.items(), key=lambda item: (-item[1], str(item[0])))


def fuse(
    lists: Sequence[Ranked], *, method: str, k: int, weights: Sequence[float] | None = None,
    depths: Sequence[int] | None = None
) -> list[tuple[str, float]]:
    """Fuse ranked lists with `method` (`rrf` uses `k`; `dbsf` ignores it, and normalises each list at
    its `depths` entry: `zero_floors`).

    Raises:
        ValueError: an unknown method.
    """
    if method == "rrf":
        return rrf(lists, k=k, weights=weights)
    if method == "dbsf":
        return dbsf(lists, weights=weights, depths=depths)
    raise ValueError(f"unknown fusion {method!r}")


# -- who fuses -------------------------------------------------------------------------------

def needed_fusion(plan: QueryPlan) -> str | None:
    """The capability a store needs to fuse `plan` itself (e.g. `dbsf`, `rrf:weighted`, `learned`);
    None for a single space, which is not fused at all (unless a learned scorer ranks it)."""
    if plan.scorer is not None:
        return "learned"  # no engine runs it: fused by the service (app.domain.learned)
    if len(plan.spaces) <= 1:
        return None
    if plan.normalises_sparse:
        return DBSF_SPARSE
    return f"{plan.fusion}:weighted" if plan.weighted else plan.fusion


def fused_in(plan: QueryPlan, store_fusions: frozenset[str]) -> FusedIn:
    """Who fuses `plan`: the store, when it declares the fusion the plan needs; else the search
    service (`client`), from each space's list with the formulas above; `n/a` for one space. A
    cascade: the service when it runs staged (it fuses stage 1 and computes the final formula,
    app.store.cascade.run_staged), the store when nested (one request)."""
    if plan.cascade:
        return "client" if plan.staged or plan.normalises_sparse else "store"
    need = needed_fusion(plan)
    if need is None:
        return "n/a"
    return "store" if need in store_fusions else "client"


def needs_per_space(plan: QueryPlan, store_fusions: frozenset[str]) -> bool:
    """True when the store must return each space's own list: to explain, or to fuse them here."""
    return plan.explain or fused_in(plan, store_fusions) == "client"


# -- contributions ---------------------------------------------------------------------------

def contributions(plan: QueryPlan, per_space: dict[str, list[tuple[str, float]]],
                  pids: Sequence[str]) -> dict[str, dict[str, dict[str, object]]]:
    """For each hit, each listed space's rank, raw score, weight and what it added to the fused score.

    Args:
        plan: the plan searched; its `listed` spaces are reported (zero-weighted ones add 0.0).
        per_space: space -> its own ranked (point id, score) list, best first.
        pids: the hits' point ids.

    Returns:
        point id -> space -> `{"rank": 1-based or None, "score", "weight", "contribution"}`. With one
        space the contribution is the raw score; otherwise the RRF term or the weighted DBSF score.
    """
    out: dict[str, dict[str, dict[str, object]]] = {pid: {} for pid in pids}
    floors = zero_floors([s.kind == "sparse" for s in plan.listed], [per_space.get(s.space, []) for s in plan.listed],
                         plan.prefetch_limit)
    for s, depth in zip(plan.listed, floors, strict=True):
        ranked = per_space.get(s.space, [])
        position = {pid: (pos, score) for pos, (pid, score) in enumerate(ranked)}
        norm = dict(dbsf_normalize(ranked, depth)) if plan.fusion == "dbsf" else {}
        for pid in pids:
            out[pid][s.space] = _contribution(plan, s, position.get(pid), norm.get(pid))
    return out


def _contribution(plan: QueryPlan, s: SpaceQuery, found: tuple[int, float] | None,
                  normalised: float | None) -> dict[str, object]:
    entry: dict[str, object] = {"rank": None, "score": None, "weight": s.weight, "contribution": 0.0}
    if found is None:
        return entry
    pos, score = found
    entry["rank"], entry["score"] = pos + 1, score
    if s.weight == 0:
        pass
    elif len(plan.spaces) == 1:  # no fusion: the space's score is the hit's score
        entry["contribution"] = score
    elif plan.fusion == "rrf":
        entry["contribution"] = rrf_term(pos, s.weight, plan.rrf_k)
    else:
        entry["contribution"] = s.weight * (normalised or 0.0)
    return entry
