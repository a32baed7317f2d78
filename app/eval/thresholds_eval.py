"""The similarity-thresholds section of `scripts/evaluate` (`--calibrate`, `--thresholds`): calibrate per vector
version on the fit queries (or read given ones) and show what the API's rule does on the held-out ones."""

from __future__ import annotations

import argparse
import json
from typing import Any


def thresholds_section(args: argparse.Namespace, services: Any, lists: dict, qrels: dict, live: dict[str, str], *,
                       calibrate_ids: list[str], report_ids: list[str], runs: dict, plan: Any,
                       name: str) -> dict[str, Any]:
    """Calibrate thresholds on `calibrate_ids` (or read --thresholds); show what the API's rule does to
    `plan` and to each space alone on `report_ids`, and on unrelated (--noise-queries) queries."""
    from dataclasses import asdict

    from app.corpus import read_queries
    from app.domain.profiles import VersionThreshold
    from app.eval import calibrate as cal
    from app.eval.runs import fetch_lists, offline_run, subset

    registry = services.registry.get()
    kinds, sparse = {s: registry.live_version(s).kind for s in live}, registry.sparse()  # sparse: complete lists
    if args.thresholds:
        given = json.loads(args.thresholds.read_text())["versions"]
        found = {n: VersionThreshold.from_dict(t) for n, t in given.items()}
        report_ids = list(qrels)  # none of these queries was used to calibrate them
        which = f"judged queries (thresholds from {args.thresholds})"
    else:
        found = cal.calibrate(subset(lists, calibrate_ids), {q: qrels[q] for q in calibrate_ids}, live,
                              beta=args.beta, depth=args.depth, kinds=kinds,
                              fitted_on={"dataset": name, "split": args.split, "queries": len(calibrate_ids)})
        which = ("held-out judged queries" if set(report_ids) != set(calibrate_ids)
                 else "judged queries (the ones calibrated on)")
    if args.save:
        services.search.profiles.save_thresholds(found)  # the repo the search reads (and caches)
    out: dict[str, Any] = {"versions": {n: asdict(t) for n, t in found.items()}, "effect": {}}
    by_version = found
    report_qrels = {q: qrels[q] for q in report_ids}
    versions = {s: live[s] for s in plan.spaces}
    out["effect"][f"{plan.name}, top 10, {which}"] = cal.threshold_effect(
        lists, subset(runs[plan.name], report_ids), report_qrels, versions, by_version)
    for s in live:
        out["effect"][f"only {s}, top 10, {which}"] = cal.threshold_effect(
            lists, subset(runs[f"only {s}"], report_ids), report_qrels, {s: live[s]}, by_version)
    if args.noise_queries:
        noise = {f"noise-{qid}": text for qid, text in read_queries(args.noise_queries)[0]}
        noise_lists, _ = fetch_lists(services, noise, depth=args.depth, spaces=list(live))
        out["effect"][f"{plan.name}, top 10, unrelated queries ({args.noise_queries.parent.name})"] = \
            cal.threshold_effect(noise_lists, offline_run(plan, noise_lists, sparse), {}, versions, by_version)
    if args.thresholds:
        out["source"] = str(args.thresholds)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "thresholds.json").write_text(json.dumps({"versions": out["versions"]}, indent=1))
    return out
