"""BEIR-layout datasets: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv` (with a header)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from app.domain.documents import Document


@dataclass(frozen=True)
class Dataset:
    """A judged dataset: documents, the queries of one split, and their relevance judgements."""

    name: str
    split: str
    docs: list[Document]
    queries: dict[str, str]  # query id -> text, only queries with at least one relevant document
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: grade > 0}


def read_jsonl(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """`query-id  corpus-id  score` rows (tab separated, header first); grades <= 0 are dropped."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(newline="") as f:
        rows = csv.reader(f, delimiter="\t")
        header = next(rows, None)
        if header is None or header[0].strip().lower() not in ("query-id", "query_id", "qid"):
            raise ValueError(f"{path}: expected a header `query-id corpus-id score`, got {header}")
        for row in rows:
            if len(row) < 3 or not row[0].strip():
                continue
            grade = int(float(row[2]))
            if grade > 0:
                qrels.setdefault(row[0].strip(), {})[row[1].strip()] = grade
    return qrels


def load_beir(folder: Path, split: str = "test") -> Dataset:
    """Read a BEIR folder; queries without a judged relevant document are left out."""
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for p in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not p.exists():
            raise SystemExit(f"not a BEIR folder: {p} is missing")
    docs = [
        Document(id=str(r["_id"]), title=r.get("title") or "", body=r.get("text") or "",
                 metadata=r.get("metadata") or {})
        for r in read_jsonl(folder / "corpus.jsonl")
    ]
    qrels = read_qrels(qrels_path)
    queries = {str(r["_id"]): r["text"] for r in read_jsonl(folder / "queries.jsonl") if str(r["_id"]) in qrels}
    qrels = {q: rel for q, rel in qrels.items() if q in queries}
    return Dataset(name=folder.name, split=split, docs=docs, queries=queries, qrels=qrels)
