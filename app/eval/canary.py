"""`scripts/canary`: known-good query -> document pairs against a running service.

    scripts/canary run PAIRS.jsonl [--url URL] [--k 10] [--baseline 0.9]   exit 1 when recall < baseline
    scripts/canary make DATASET --split train --out PAIRS.jsonl [--n 50]    pairs from judged queries

A pairs file holds one JSON object a line: `{"query": "...", "doc_id": "..."}` (optionally
`"k"`). Its baseline (recall@k when it was recorded) sits beside it in `PAIRS.baseline.json`;
`--baseline` overrides it, `--write-baseline` records the recall measured now.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.corpus import BadRecord, CorpusError, CorpusNotFound, read_json_objects
from app.eval.args import out_file
from app.settings_checks import url_arg


@dataclass(frozen=True)
class Pair:
    """A known-good pair: searching `query` should find `doc_id` in the top `k` (None: the run's --k)."""

    query: str
    doc_id: str
    k: int | None = None


@dataclass
class CanaryResult:
    """Pairs that passed, failed (with the ids found instead) or errored, at cut-off `k`."""

    k: int
    passed: list[Pair] = field(default_factory=list)
    failed: list[tuple[Pair, list[str]]] = field(default_factory=list)  # pair, the ids found instead
    errors: list[tuple[Pair, str]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Passed pairs over all pairs (errors count as misses), in [0, 1]; 0 without pairs."""
        n = len(self.passed) + len(self.failed) + len(self.errors)
        return len(self.passed) / n if n else 0.0


def read_pairs(path: Path) -> list[Pair]:
    """The pairs of a canary file: one `{"query": ..., "doc_id": ..., "k"?: ...}` a line.

    Raises:
        CorpusNotFound: no such file, or no pairs in it.
        BadRecord: `file:line: want {"query": ..., "doc_id": ...}: ...`.
    """
    want = 'want {"query": ..., "doc_id": ...}'
    pairs = []
    try:
        for where, raw in read_json_objects(path):
            if "query" not in raw or "doc_id" not in raw:
                missing = "query" if "query" not in raw else "doc_id"
                raise BadRecord(where, f"{want}: {missing!r}")
            pairs.append(Pair(query=str(raw["query"]), doc_id=str(raw["doc_id"]), k=raw.get("k")))
    except BadRecord as e:
        if e.problem.startswith(want):
            raise
        raise BadRecord(e.where, f"{want}: {e.problem.removeprefix('not JSON: ')}") from e
    if not pairs:
        raise CorpusNotFound(f"{path}: no pairs")
    return pairs


def baseline_path(pairs_path: Path) -> Path:
    """Where a pairs file's baseline is recorded: `PAIRS.baseline.json` beside it."""
    return pairs_path.with_suffix(".baseline.json")


def check(client: httpx.Client, pairs: Sequence[Pair], *, k: int = 10,
          request: dict[str, Any] | None = None) -> CanaryResult:
    """Search each pair's query through POST /search; a pair passes when its document is in the top k.

    Args:
        client: an HTTP client whose base URL is the service (a Litestar TestClient works too).
        request: extra fields for every search (`fields`, `fusion`, ...); by default the API's default.
    """
    result = CanaryResult(k=k)
    for pair in pairs:
        limit = pair.k or k
        try:
            r = client.post("/search", json={"query": pair.query, "limit": limit, **(request or {})})
        except httpx.HTTPError as e:
            result.errors.append((pair, f"request failed: {e}"))
            continue
        if r.status_code != 200:
            result.errors.append((pair, f"HTTP {r.status_code}: {r.text[:200]}"))
            continue
        ids = [str(h.get("id")) for h in r.json().get("hits", [])][:limit]
        if pair.doc_id in ids:
            result.passed.append(pair)
        else:
            result.failed.append((pair, ids))
    return result


def report(result: CanaryResult, baseline: float) -> str:
    """One verdict line (recall@k against the baseline), then a line per failed or errored pair."""
    n = len(result.passed) + len(result.failed) + len(result.errors)
    verdict = "OK" if result.recall >= baseline and not result.errors else "BELOW BASELINE"
    lines = [f"canary: recall@{result.k} {result.recall:.3f} over {n} pairs (baseline {baseline:.3f}): {verdict}"]
    for pair, found in result.failed:
        lines.append(f"  FAILED  {pair.doc_id!r} not in top {pair.k or result.k} for {pair.query[:80]!r}; "
                     f"got {found[:5]}")
    for pair, why in result.errors:
        lines.append(f"  ERROR   {pair.query[:80]!r}: {why}")
    return "\n".join(lines)


def run(argv: Sequence[str]) -> int:
    """`scripts/canary run`: check the pairs against the service at --url.

    Returns:
        The exit code (`finish`): 0 at or above the baseline, 1 below it or on errors, 2 without a baseline.

    Raises:
        CorpusError: the pairs file is missing or cannot be read.
    """
    p = argparse.ArgumentParser(prog="canary run")
    p.add_argument("pairs", type=Path)
    p.add_argument("--url", type=url_arg, default="http://127.0.0.1:8000")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--baseline", type=float, help="minimum recall (default: PAIRS.baseline.json)")
    p.add_argument("--write-baseline", action="store_true", help="record the recall measured now as the baseline")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--request", type=json.loads, default=None,
                   help='extra search fields as JSON, e.g. \'{"fields": ["document", "keywords"]}\'')
    args = p.parse_args(list(argv))
    pairs = read_pairs(args.pairs)
    with httpx.Client(base_url=args.url, timeout=args.timeout) as client:
        result = check(client, pairs, k=args.k, request=args.request)
    return finish(result, args.pairs, baseline=args.baseline, write=args.write_baseline)


def finish(result: CanaryResult, pairs_path: Path, *, baseline: float | None, write: bool) -> int:
    """Print the report; 0 when recall holds the baseline, 1 when it fell below, 2 without a baseline."""
    if write:
        baseline_path(pairs_path).write_text(json.dumps({
            "recall": result.recall, "k": result.k, "pairs": len(result.passed) + len(result.failed),
            "recorded": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}, indent=1))
        baseline = result.recall
    if baseline is None:
        path = baseline_path(pairs_path)
        if not path.exists():
            print(f"no baseline: pass --baseline or record one with --write-baseline ({path})", file=sys.stderr)
            return 2
        baseline = float(json.loads(path.read_text())["recall"])
    print(report(result, baseline))
    return 0 if result.recall >= baseline and not result.errors else 1


def make(argv: Sequence[str]) -> int:
    """Pairs from a BEIR dataset's judgements, one per sampled query.

    With `--url`, each query is searched on the running service and paired with the best-ranked
    judged document in its top k (queries finding none are left out), so every pair is known good
    now and the baseline recorded is 1.0. Without it, each query gets its highest-graded document.

    Returns:
        The exit code: 0, or `finish`'s with --url.

    Raises:
        CorpusError: the dataset cannot be read.
        httpx.HTTPError: the service cannot be reached or refuses a search.
    """
    import random

    from app.corpus import load_beir

    p = argparse.ArgumentParser(prog="canary make")
    p.add_argument("dataset", type=Path)
    p.add_argument("--split", default="test")
    p.add_argument("--out", type=out_file, required=True)
    p.add_argument("--n", type=int, default=50, help="queries to sample")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--url", type=url_arg, help="the running service: keep only pairs it finds now, record the baseline")
    p.add_argument("--k", type=int, default=10)
    args = p.parse_args(list(argv))
    ds = load_beir(args.dataset, args.split)
    rng = random.Random(args.seed)
    qids = rng.sample(sorted(ds.queries), min(args.n, len(ds.queries)))
    pairs: list[Pair] = []
    if args.url:
        with httpx.Client(base_url=args.url, timeout=30) as client:
            for q in qids:
                r = client.post("/search", json={"query": ds.queries[q], "limit": args.k})
                r.raise_for_status()
                found = [str(h.get("id")) for h in r.json()["hits"] if str(h.get("id")) in ds.qrels[q]]
                if found:
                    pairs.append(Pair(ds.queries[q], found[0]))
    else:
        pairs = [Pair(ds.queries[q], sorted(ds.qrels[q], key=lambda d: (-ds.qrels[q][d], d))[0]) for q in qids]
    args.out.parent.mkdir(parents=True, exist_ok=True)  # out_file took a folder still to be made
    args.out.write_text("".join(json.dumps({"query": x.query, "doc_id": x.doc_id}) + "\n" for x in pairs))
    print(f"wrote {len(pairs)} pairs (of {len(qids)} sampled queries) to {args.out}", file=sys.stderr)
    if args.url:  # every pair kept passes now: the baseline is recall 1.0
        return finish(CanaryResult(k=args.k, passed=list(pairs)), args.out, baseline=None, write=True)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """`scripts/canary run|make`; exits with `run`'s or `make`'s code, or 1 saying why a file cannot be read.

    Raises:
        SystemExit: always, with the exit code or the message.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "make":
            raise SystemExit(make(argv[1:]))
        if argv and argv[0] == "run":
            argv = argv[1:]
        raise SystemExit(run(argv))
    except CorpusError as e:
        raise SystemExit(e.message) from None


if __name__ == "__main__":
    main()
