"""`scripts/canary`: known-good query -> document pairs against a running service.

    scripts/canary run PAIRS.jsonl [--url URL] [--k 10] [--baseline 0.9]   exit 1 when recall < baseline
    scripts/canary make DATASET --split train --out PAIRS.jsonl [--n 50]    pairs from judged queries

A pairs file holds one JSON object a line: `{"query": "...", "doc_id": "..."}` (optionally
`"k"`). Its baseline (recall@k when it was recorded) sits beside it in `PAIRS.baseline.json`;
`--baseline` overrides it, `--write-baseline` records the recall measured now.

Exit status: 0 recall holds the baseline; 1 below it (a regression) or a search refused; 2 an operator
error (a bad argument, an unreadable pairs file or dataset, no baseline recorded); 3 the service could not
be asked (no connection, a timeout, or 503: it is down, not worse). `scripts/canary run --help` and
`scripts/canary make --help` list each command's options.
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
from app.eval.args import MAX_COUNT, MAX_SEED, number, out_file, whole
from app.settings_checks import url_arg

OK, BELOW, OPERATOR, UNREACHABLE = 0, 1, 2, 3  # exit statuses (module docstring)
OWN_KEYS = ("query", "limit")  # what the canary sends itself: each pair's query, --k (or the pair's k)
MAX_K = 10_000  # the largest `search.max_limit` any settings allow; the service's own is read from its schema


class Unreachable(Exception):
    """The service could not be asked: no connection, a timeout, or 503 (it cannot search now)."""


def request_fields(text: str) -> dict[str, Any]:
    """An argparse `type` for `--request`: a JSON object of extra search fields, none of `OWN_KEYS`.

    Raises:
        argparse.ArgumentTypeError: not JSON, not an object, or naming `query` or `limit`.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f'not JSON ({e}): give an object, e.g. {{"fields": ["document"]}}') from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object of search fields, not {type(value).__name__} "
                                         f"{text[:60]!r}")
    own = [k for k in OWN_KEYS if k in value]
    if own:
        raise argparse.ArgumentTypeError(f"names {' and '.join(own)}, which the canary sets itself (each pair's "
                                         "query; --k or the pair's k as limit): leave them out")
    return value


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
            k = raw.get("k")
            if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K):
                raise BadRecord(where, f"{want}: 'k' must be a whole number from 1 to {MAX_K}, not {k!r}")
            pairs.append(Pair(query=str(raw["query"]), doc_id=str(raw["doc_id"]), k=k))
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

    Raises:
        Unreachable: a search could not be sent or timed out, or the service answered 503.
    """
    result = CanaryResult(k=k)
    for pair in pairs:
        limit = pair.k or k
        try:
            r = client.post("/search", json={"query": pair.query, "limit": limit, **(request or {})})
        except httpx.TransportError as e:
            raise Unreachable(f"could not reach the service at {client.base_url}: {e or type(e).__name__}") from e
        if r.status_code == 503:
            raise Unreachable(f"the service at {client.base_url} cannot search now (HTTP 503): {r.text[:200]}")
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


def service_max_limit(client: httpx.Client) -> int | None:
    """The largest `limit` the service accepts: its OpenAPI schema's `SearchIn.limit` maximum (the service's
    `search.max_limit`), or None when the schema cannot be read or does not say.

    Raises:
        Unreachable: the service could not be reached.
    """
    try:
        r = client.get("/schema/openapi.json")
    except httpx.TransportError as e:
        raise Unreachable(f"could not reach the service at {client.base_url}: {e or type(e).__name__}") from e
    try:
        return int(r.json()["components"]["schemas"]["SearchIn"]["properties"]["limit"]["maximum"])
    except (ValueError, KeyError, TypeError):  # not JSON, or no bound given: the searches will say
        return None


def check_k(p: argparse.ArgumentParser, client: httpx.Client, k: int, pairs: Sequence[Pair] = ()) -> None:
    """Refuse (argparse, exit status 2) a --k, or a pair's k, over the largest limit the service accepts."""
    maximum = service_max_limit(client)
    if maximum is None:
        return
    if k > maximum:
        p.error(f"argument --k: {k} is over the largest limit the service at {client.base_url} accepts ({maximum})")
    over = next((x for x in pairs if x.k is not None and x.k > maximum), None)
    if over is not None:
        p.error(f"the pair for {over.query[:60]!r} asks k={over.k}, over the largest limit the service at "
                f"{client.base_url} accepts ({maximum})")


def run(argv: Sequence[str]) -> int:
    """`scripts/canary run`: check the pairs against the service at --url.

    Returns:
        The exit code (`finish`): 0 at or above the baseline, 1 below it or on errors, 2 without a baseline.

    Raises:
        CorpusError: the pairs file is missing or cannot be read.
        Unreachable: the service could not be asked.
        SystemExit: a bad argument (argparse, exit status 2).
    """
    p = argparse.ArgumentParser(prog="canary run")
    p.add_argument("pairs", type=Path)
    p.add_argument("--url", type=url_arg, default="http://127.0.0.1:8000")
    p.add_argument("--k", type=whole(1, MAX_K), default=10, help="cut-off, 1 to the service's max_limit")
    p.add_argument("--baseline", type=number(minimum=0, maximum=1),
                   help="minimum recall, 0 to 1 (default: PAIRS.baseline.json)")
    p.add_argument("--write-baseline", action="store_true", help="record the recall measured now as the baseline")
    p.add_argument("--timeout", type=number(above=0, maximum=3600), default=30.0, help="seconds per search")
    p.add_argument("--request", type=request_fields, default=None,
                   help='extra search fields as a JSON object (not query or limit), e.g. '
                        '\'{"fields": ["document", "keywords"]}\'')
    args = p.parse_args(list(argv))
    pairs = read_pairs(args.pairs)
    with httpx.Client(base_url=args.url, timeout=args.timeout) as client:
        check_k(p, client, args.k, pairs)
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
            return OPERATOR
        baseline = float(json.loads(path.read_text())["recall"])
    print(report(result, baseline))
    return OK if result.recall >= baseline and not result.errors else BELOW


def make(argv: Sequence[str]) -> int:
    """Pairs from a BEIR dataset's judgements, one per sampled query.

    With `--url`, each query is searched on the running service and paired with the best-ranked
    judged document in its top k (queries finding none are left out), so every pair is known good
    now and the baseline recorded is 1.0. Without it, each query gets its highest-graded document.

    Returns:
        The exit code: 0, `finish`'s with --url, or 2 when the service refuses a search or no pair is found.

    Raises:
        CorpusError: the dataset cannot be read.
        Unreachable: the service could not be asked.
        SystemExit: a bad argument (argparse, exit status 2).
    """
    import random

    from app.corpus import load_beir

    p = argparse.ArgumentParser(prog="canary make")
    p.add_argument("dataset", type=Path)
    p.add_argument("--split", default="test")
    p.add_argument("--out", type=out_file, required=True)
    p.add_argument("--n", type=whole(1, MAX_COUNT), default=50, help="queries to sample")
    p.add_argument("--seed", type=whole(0, MAX_SEED), default=13)
    p.add_argument("--url", type=url_arg, help="the running service: keep only pairs it finds now, record the baseline")
    p.add_argument("--k", type=whole(1, MAX_K), default=10, help="cut-off, 1 to the service's max_limit")
    args = p.parse_args(list(argv))
    ds = load_beir(args.dataset, args.split)
    rng = random.Random(args.seed)
    qids = rng.sample(sorted(ds.queries), min(args.n, len(ds.queries)))
    pairs: list[Pair] = []
    if args.url:
        with httpx.Client(base_url=args.url, timeout=30) as client:
            check_k(p, client, args.k)
            found = check(client, [Pair(ds.queries[q], "", args.k) for q in qids], k=args.k)
            if found.errors:
                pair, why = found.errors[0]
                print(f"canary make: the service refused the search for {pair.query[:60]!r}: {why}", file=sys.stderr)
                return OPERATOR
            for q, (_, ids) in zip(qids, found.failed, strict=True):
                judged = [d for d in ids if d in ds.qrels[q]]
                if judged:
                    pairs.append(Pair(ds.queries[q], judged[0]))
        if not pairs:
            print(f"canary make: none of the {len(qids)} sampled queries found a judged document in its top "
                  f"{args.k} at {args.url}: no pairs written", file=sys.stderr)
            return OPERATOR
    else:
        pairs = [Pair(ds.queries[q], sorted(ds.qrels[q], key=lambda d: (-ds.qrels[q][d], d))[0]) for q in qids]
    args.out.parent.mkdir(parents=True, exist_ok=True)  # out_file took a folder still to be made
    args.out.write_text("".join(json.dumps({"query": x.query, "doc_id": x.doc_id}) + "\n" for x in pairs))
    print(f"wrote {len(pairs)} pairs (of {len(qids)} sampled queries) to {args.out}", file=sys.stderr)
    if args.url:  # every pair kept passes now: the baseline is recall 1.0
        return finish(CanaryResult(k=args.k, passed=list(pairs)), args.out, baseline=None, write=True)
    return OK


def main(argv: Sequence[str] | None = None) -> None:
    """`scripts/canary run|make` (`run` when no command is named); `--help` or nothing: the usage of both.

    Raises:
        SystemExit: always, with `run`'s or `make`'s exit status, 2 with one line for a file that cannot be
            read, or 3 with one line when the service could not be asked (module docstring).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print((__doc__ or "").strip(), file=sys.stdout if argv else sys.stderr)
        raise SystemExit(OK if argv else OPERATOR)
    try:
        code = make(argv[1:]) if argv[0] == "make" else run(argv[1:] if argv[0] == "run" else argv)
    except CorpusError as e:
        print(f"canary: {e.message}", file=sys.stderr)
        code = OPERATOR
    except Unreachable as e:
        print(f"canary: {e}", file=sys.stderr)
        code = UNREACHABLE
    raise SystemExit(code)


if __name__ == "__main__":
    main()
