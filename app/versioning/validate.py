"""Validation: run the live and the candidate side by side on a query set and compare them."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict, StringConstraints

from app.corpus import find_qrels, read_qrels, read_queries
from app.domain.metrics import ndcg_at_k, overlap_at_k, recall_at_k
from app.errors import InvalidInput
from app.versioning.render import markdown_table, table
from app.versioning.shape import Integer, StrictShape, validate_shape


@dataclass(frozen=True)
class QuerySet:
    """Queries `(id, text)`, and graded judgments `qrels[query id][doc id]` when there are any."""

    name: str
    queries: list[tuple[str, str]]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def judged(self) -> bool:
        """True when the set has judgments (nDCG and recall can be computed, not only overlap)."""
        return bool(self.qrels)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (`from_dict`'s shape)."""
        return {"name": self.name, "queries": [{"id": q, "text": t} for q, t in self.queries], "qrels": self.qrels}

    @classmethod
    def from_dict(cls, data: Any, *, path: str = "query_set") -> QuerySet:
        """A query set as JSON (`to_dict`'s shape), checked field by field.

        Raises:
            InvalidInput: naming the field, e.g. `query_set.queries[2].text: expected the query
                text, got null`.
        """
        shape = validate_shape(QuerySetShape, data, path=path, expectations=QUERY_SET_EXPECTATIONS)
        queries = [(str(q.id), q.text) for q in shape.queries]
        ids = [q for q, _ in queries]
        if len(set(ids)) != len(ids):
            dup = sorted({q for q in ids if ids.count(q) > 1})
            raise InvalidInput(f"{path}.queries: duplicate query ids {dup[:10]}", {"duplicates": dup})
        qrels = {str(q): dict(docs) for q, docs in shape.qrels.items()}
        return cls(name=shape.name, queries=queries, qrels=qrels)


def _int_id(value: Any) -> Any:
    """Query ids are strings; a JSON integer id is taken as its decimal string (a bool is not)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class QueryShape(StrictShape):
    """One query of a query set: `{id, text}` (an integer id is read as its decimal string)."""

    id: Annotated[str, BeforeValidator(_int_id), StringConstraints(min_length=1, max_length=200)]
    text: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=10_000)]


class QuerySetShape(StrictShape):
    """A query set's JSON: `{name?, queries: [{id, text}], qrels?: {query id: {doc id: grade}}}`."""

    name: Annotated[str, Field(min_length=1, max_length=200)] = "request"
    queries: Annotated[list[QueryShape], Field(min_length=1, max_length=100_000)]
    qrels: dict[Annotated[str, StringConstraints(min_length=1)], dict[str, Integer]] = {}


QUERY_SET_EXPECTATIONS = {
    ("queries",): 'expected a non-empty list of {"id": ..., "text": ...}',
    ("queries", "*"): 'expected {"id": ..., "text": ...}',
    ("queries", "*", "id"): "expected the query id, a string or an integer",
    ("queries", "*", "text"): "expected the query text, a non-empty string",
    ("qrels",): "expected a map of query id to {doc id: grade}",
    ("qrels", "*"): "expected a map of doc id to an integer grade",
    ("qrels", "*", "*"): "expected an integer grade",
}


def load_query_set(*, queries: Path | None = None, qrels: Path | None = None, beir: Path | None = None,
                   split: str | None = None, limit: int = 0) -> QuerySet:
    """From a canary file (optionally with a qrels TSV), or a BEIR folder and split.

    With judgments, only judged queries are kept (an unjudged query would count as a miss).

    Raises:
        InvalidInput: no usable query; `app.corpus.CorpusError` (an InvalidInput) for a file that
            is missing or cannot be read, naming its `file:line`.
    """
    if beir is not None:
        found = find_qrels(beir, [split] if split else ["test", "dev", "train"])
        q, _ = read_queries(beir / "queries.jsonl")
        judged = read_qrels(found)
        name = f"{beir.name}/{found.stem}"
    elif queries is not None:
        q, judged = read_queries(queries)
        if qrels is not None:
            judged = read_qrels(qrels)
        name = queries.name
    else:
        raise InvalidInput("give a query set: --queries FILE [--qrels TSV] or --beir DIR")
    if judged:
        q = [(qid, text) for qid, text in q if any(g > 0 for g in judged.get(qid, {}).values())]
    if limit:
        q = q[:limit]
    if not q:
        raise InvalidInput(f"query set {name} has no usable queries")
    return QuerySet(name=name, queries=q, qrels={qid: judged[qid] for qid, _ in q if qid in judged})


# -- the run ------------------------------------------------------------------------------------
Searcher = Callable[[str, str, str], list[str]]  # (arm, mode, query text) -> ranked doc ids

GATE_MODE = "fused"
RECALL_K = 100


def compare(query_set: QuerySet, *, modes: Sequence[str], search: Searcher, k: int,
            on_query: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Metrics of both arms per mode: mean nDCG@k and recall@100 with judgments; overlap@k always."""
    sums: dict[str, dict[str, float]] = {m: {} for m in modes}
    per_query: list[dict[str, Any]] = []
    for i, (qid, text) in enumerate(query_set.queries, 1):
        judged = query_set.qrels.get(qid)
        row: dict[str, Any] = {"id": qid, "query": text}
        for mode in modes:
            base, cand = search("baseline", mode, text), search("candidate", mode, text)
            values = {"overlap": overlap_at_k(base, cand, k)}
            if judged is not None:
                values |= {"ndcg_baseline": ndcg_at_k(base, judged, k), "ndcg_candidate": ndcg_at_k(cand, judged, k),
                           "recall_baseline": recall_at_k(base, judged, RECALL_K),
                           "recall_candidate": recall_at_k(cand, judged, RECALL_K)}
            for key, v in values.items():
                sums[mode][key] = sums[mode].get(key, 0.0) + v
            row[mode] = values
        per_query.append(row)
        if on_query:
            on_query(i)
    n = len(query_set.queries)
    judged_n = sum(1 for qid, _ in query_set.queries if qid in query_set.qrels)
    results: dict[str, Any] = {}
    for mode in modes:
        s = sums[mode]
        entry: dict[str, Any] = {f"overlap@{k}": s["overlap"] / n}
        if judged_n:
            entry |= {f"ndcg@{k}": {"baseline": s["ndcg_baseline"] / judged_n,
                                    "candidate": s["ndcg_candidate"] / judged_n},
                      f"recall@{RECALL_K}": {"baseline": s["recall_baseline"] / judged_n,
                                             "candidate": s["recall_candidate"] / judged_n}}
        results[mode] = entry
    worst: list[dict[str, Any]] = []
    gate_mode = GATE_MODE if GATE_MODE in modes else modes[0]
    if judged_n:
        losses = [(r[gate_mode]["ndcg_candidate"] - r[gate_mode]["ndcg_baseline"], r) for r in per_query
                  if "ndcg_baseline" in r[gate_mode]]
        worst = [{"id": r["id"], "query": r["query"], "delta": d} for d, r in sorted(losses, key=lambda x: x[0])[:5]
                 if d < 0]
    return {"modes": results, "queries": n, "judged": judged_n, "worst": worst, "gate_mode": gate_mode}


def report_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One row per mode and metric: baseline, candidate, delta (overlap has one value)."""
    k = report["k"]
    rows: list[list[Any]] = []
    for mode, metrics in report["modes"].items():
        for name, value in metrics.items():
            if isinstance(value, dict):
                rows.append([mode, name, value["baseline"], value["candidate"],
                             f"{value['candidate'] - value['baseline']:+.4f}"])
        rows.append([mode, f"overlap@{k}", None, None, f"{metrics[f'overlap@{k}']:.4f}"])
    return rows


def report_text(report: dict[str, Any]) -> list[str]:
    """A validation report as terminal lines: the arms, a table of metrics per mode, the worst queries, the gate."""
    out = [f"validation of {report['target']} ({report['migration']})",
           f"  baseline  {report['arms']['baseline']}",
           f"  candidate {report['arms']['candidate']}",
           f"  queries   {report['queries']} from {report['query_set']}"
           f" ({report['judged']} judged), k={report['k']}", ""]
    out += table(["mode", "metric", "live", "candidate", "delta"], report_rows(report), indent="  ")
    if report.get("worst"):
        out += ["", f"  largest losses ({report['gate_mode']} nDCG@{report['k']}):"]
        out += table(["query", "delta", "text"],
                     [[w["id"], f"{w['delta']:+.3f}", w["query"][:70]] for w in report["worst"]], indent="    ")
    out += ["", f"  gate: {report['gate_summary']}"]
    return out


def report_markdown(report: dict[str, Any]) -> str:
    """The same report as Markdown, for the file `validate --out` writes."""
    lines = [f"# Validation of `{report['target']}`", "",
             f"- migration: {report['migration']}",
             f"- baseline (live): {report['arms']['baseline']}",
             f"- candidate: {report['arms']['candidate']}",
             f"- query set: {report['query_set']}, {report['queries']} queries ({report['judged']} judged)",
             f"- collection: {report['collection']}",
             f"- created: {report['created']}", ""]
    lines += markdown_table(["mode", "metric", "live", "candidate", "delta"], report_rows(report))
    if report.get("worst"):
        lines += ["", f"Largest losses ({report['gate_mode']} nDCG@{report['k']}):", ""]
        lines += markdown_table(["query", "delta", "text"],
                                [[w["id"], f"{w['delta']:+.3f}", w["query"]] for w in report["worst"]])
    lines += ["", f"Gate: {report['gate_summary']}", ""]
    return "\n".join(lines)


def write_report(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """`<folder>/<created>-<target>.md` and `.json`; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{report['created'].replace(':', '').replace('+0000', 'Z')}-{report['target']}"
    md, js = folder / f"{stem}.md", folder / f"{stem}.json"
    md.write_text(report_markdown(report))
    js.write_text(json.dumps(report, indent=1))
    return md, js
