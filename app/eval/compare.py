"""`scripts/evaluate compare`: vector versions side by side on one index, per query, paired.

    scripts/evaluate compare DATASET --index-dir DIR --side NAME[@DIR][=space:version,...] [--side ...]
                             [--split train] [--holdout 0.6 --seed 13] [--out DIR]

An index that holds several versions of a space (a migration applied and backfilled, not yet
promoted, or a version kept after a promote) answers the same judged queries with each, pinned per
request (`SearchRequest.versions`). Each side is a set of pins, on `--index-dir` or on its own index
(`NAME@DIR`: two indexes of the same corpus built with other settings); spaces a side does not pin
use their live version. For every side: each space alone and the API default plan (the settings' or stored
profile's fusion and weights, fused offline with Qdrant's math as `scripts/evaluate` does), with
nDCG@10 and Recall@100 on all the queries and on the held-out share of a `--holdout`/`--seed` split
(the same split `scripts/evaluate --fit` makes), and the paired bootstrap 95 % interval of each
side's nDCG@10 minus the first side's, query by query.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app.eval.args import MAX_DEPTH, fraction, out_folder, parse_checked, whole
from app.eval.metrics import ndcg_per_query, paired_bootstrap_ci, score_run


def parse_side(text: str) -> tuple[str, Path | None, dict[str, str]]:
    """`NAME[@DIR]=space:version,...` (or just `NAME`: every space live) -> (name, index folder or None, pins).

    Raises:
        argparse.ArgumentTypeError: a pin that is not `space:version`, or no name.
    """
    head, _, pins = text.partition("=")
    name, at, folder = head.partition("@")
    if at and not folder:
        raise argparse.ArgumentTypeError(f"{text!r} has no index folder after '@'")
    out: dict[str, str] = {}
    for pin in filter(None, (p.strip() for p in pins.split(","))):
        space, sep, version = pin.partition(":")
        if not sep or not space or not version:
            raise argparse.ArgumentTypeError(f"{pin!r} is not space:version")
        out[space] = version
    if not name:
        raise argparse.ArgumentTypeError(f"{text!r} has no side name")
    return name, Path(folder) if folder else None, out


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """`scripts/evaluate compare`'s flags."""
    p = argparse.ArgumentParser(prog="evaluate compare", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("dataset", type=Path, help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    p.add_argument("--index-dir", type=Path, required=True, help="embedded store folder holding the versions "
                   "(and the one sides without @DIR search)")
    p.add_argument("--side", type=parse_side, action="append", required=True,
                   help="NAME[@DIR][=space:version,...]: one side's index and pins (the first side is the "
                        "baseline); repeatable")
    p.add_argument("--split", default="test")
    p.add_argument("--depth", type=whole(1, MAX_DEPTH), default=100)
    p.add_argument("--holdout", type=fraction, default=0.0, metavar="FIT_FRACTION",
                   help="also report the queries held out of a split fitting on this fraction (as --fit)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--out", type=out_folder, help="report folder (default reports/compare-<dataset>-<split>)")
    return parse_checked(p, argv, out=lambda a: Path(f"reports/compare-{a.dataset.name}-{a.split}"))


def compare_runs(runs: Mapping[str, Mapping[str, dict[str, list[str]]]], qrels: Mapping[str, dict[str, int]],
                 *, baseline: str, seed: int) -> dict[str, dict[str, Any]]:
    """Metrics per side and plan, and the paired interval of nDCG@10 against `baseline`'s same plan.

    Args:
        runs: side -> plan -> query id -> ranked doc ids.
        qrels: the judged queries to score (a subset of the runs' queries).
        baseline: the side the others are compared with.

    Returns:
        side -> plan -> {"metrics": {ndcg@10, recall@100, ...}, "ci_vs_baseline": [low, high] or None}.
    """
    qids = list(qrels)
    out: dict[str, dict[str, Any]] = {}
    for side, plans in runs.items():
        out[side] = {}
        for plan, run in plans.items():
            sub = {q: run.get(q, []) for q in qids}
            row: dict[str, Any] = {"metrics": score_run(sub, dict(qrels)), "ci_vs_baseline": None}
            if side != baseline and plan in runs[baseline]:
                a = ndcg_per_query(sub, dict(qrels))
                b = ndcg_per_query({q: runs[baseline][plan].get(q, []) for q in qids}, dict(qrels))
                row["ci_vs_baseline"] = list(paired_bootstrap_ci([a[q] for q in qids], [b[q] for q in qids],
                                                                 seed=seed))
                row["delta_ndcg@10"] = row["metrics"]["ndcg@10"] - out[baseline][plan]["metrics"]["ndcg@10"]
            out[side][plan] = row
    return out


def run(args: argparse.Namespace, *, encoders: Any = None) -> dict[str, Any]:
    """Search every judged query once per side (pinned), fuse offline, score, compare.

    Returns:
        The report document: dataset, sides (their pins and the versions searched), and `all` (every
        query) and, with --holdout, `holdout` sections from `compare_runs`.

    Raises:
        CorpusError: the dataset cannot be read. InvalidInput: a pinned version the index does not hold.
    """
    from app.corpus import load_beir
    from app.eval.cascade import plan_run
    from app.eval.fit import split_queries
    from app.eval.index import eval_settings, open_index
    from app.eval.runs import Variant, fetch_lists, offline_run
    from app.services.search import SearchRequest

    ds = load_beir(args.dataset, args.split)
    queries = dict(sorted(ds.queries.items()))
    qrels = {q: ds.qrels[q] for q in queries}
    runs: dict[str, dict[str, dict[str, list[str]]]] = {}
    sides: dict[str, Any] = {}
    api_labels: dict[str, str] = {}
    for name, folder, pins in args.side:
        index = folder or args.index_dir
        print(f"side {name}: {index}, {pins or 'live versions'}", file=sys.stderr)
        services = open_index(index, settings=eval_settings(index), encoders=encoders)
        try:
            registry = services.registry.get()
            spaces = registry.live_spaces()
            default_plan, _ = services.search.plan_ranking(SearchRequest(query="probe"))
            lists, _ = fetch_lists(services, queries, depth=args.depth, spaces=spaces, versions=pins)
            # a cascade default is ranked by its stages (the rerank spaces' scores fetched), any other fused offline
            api, api_run = plan_run(services, "API default", default_plan, services.settings.search.plan, queries,
                                    lists, depth=args.depth, group="default", versions=pins or None)
        finally:
            services.close()
        variants = [Variant(f"only {s}", (s,)) for s in spaces]
        sparse = registry.sparse()  # their lists are normalised as complete, as served
        runs[name] = {v.name: offline_run(v, lists, sparse, depth=args.depth) for v in variants}
        runs[name]["API default"] = api_run
        sides[name] = {"index": str(index), "pins": pins,
                       "versions": {s: pins.get(s, registry.live_version(s).name) for s in spaces}}
        api_labels[name] = api.label
    baseline = args.side[0][0]
    if len(set(api_labels.values())) > 1:
        print(f"note: the sides' API defaults differ: {api_labels}", file=sys.stderr)
    doc: dict[str, Any] = {
        "dataset": {"name": ds.name, "split": args.split, "documents": len(ds.docs), "queries": len(queries)},
        "index": str(args.index_dir), "baseline": baseline, "sides": sides,
        "api_default": " / ".join(sorted(set(api_labels.values()))),
        "all": compare_runs(runs, qrels, baseline=baseline, seed=args.seed)}
    if args.holdout:
        _, held = split_queries(list(queries), fraction=args.holdout, seed=args.seed)
        doc["holdout"] = {"queries": len(held), "fit_fraction": args.holdout, "seed": args.seed,
                          **compare_runs(runs, {q: qrels[q] for q in held}, baseline=baseline, seed=args.seed)}
    return doc


def markdown(doc: Mapping[str, Any]) -> str:
    """The comparison as tables: one row per plan, per side nDCG@10 / R@100 and the interval to the baseline."""
    d = doc["dataset"]
    lines = [f"# {d['name']} ({d['split']}): vector versions compared, baseline `{doc['baseline']}`", "",
             f"{d['documents']} documents, {d['queries']} judged queries; API default = {doc['api_default']}.", ""]
    for side, s in doc["sides"].items():
        lines.append(f"- `{side}` (`{s['index']}`): " + ", ".join(f"{k} = `{v}`" for k, v in s["versions"].items()))
    sections = [("all", f"all {d['queries']} queries")]
    if "holdout" in doc:
        sections.append(("holdout", f"the {doc['holdout']['queries']} held-out queries "
                         f"(fit {doc['holdout']['fit_fraction']}, seed {doc['holdout']['seed']})"))
    for key, title in sections:
        block = {k: v for k, v in doc[key].items() if k in doc["sides"]}
        side_names = list(block)
        lines += ["", f"## {title}", "",
                  "| plan | " + " | ".join(f"{s} nDCG@10 | {s} R@100" for s in side_names) + " | " +
                  " | ".join(f"{s} - {doc['baseline']} nDCG@10 (95 % CI)" for s in side_names[1:]) + " |",
                  "|---" * (1 + 2 * len(side_names) + len(side_names) - 1) + "|"]
        for plan in block[side_names[0]]:
            cells = []
            for s in side_names:
                m = block[s][plan]["metrics"]
                cells += [f"{m['ndcg@10']:.3f}", f"{m['recall@100']:.3f}"]
            for s in side_names[1:]:
                r = block[s][plan]
                ci = r["ci_vs_baseline"]
                cells.append(f"{r['delta_ndcg@10']:+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "")
            lines.append(f"| {plan} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str]) -> None:
    """Run the comparison; the report on stdout, compare.md and compare.json under --out."""
    args = parse_args(argv)
    doc = run(args)
    out = args.out  # its default filled in by parse_args
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(doc, indent=1))
    (out / "compare.md").write_text(markdown(doc))
    print(markdown(doc))
    print(f"wrote {out / 'compare.md'}, {out / 'compare.json'}", file=sys.stderr)
