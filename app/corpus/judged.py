"""Queries and relevance judgements: BEIR's queries.jsonl and qrels TSVs, canary query files, judged datasets."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from app.corpus.jsonl import BadRecord, CorpusNotFound, json_type
from app.corpus.records import read_documents
from app.domain.documents import Document
from app.domain.text import blank

Qrels = dict[str, dict[str, int]]  # query id -> {doc id: grade > 0}


# --- queries and judgements ---------------------------------------------------------------------------------------


def read_queries(path: Path) -> tuple[list[tuple[str, str]], Qrels]:
    """Queries from a JSONL file (BEIR's queries.jsonl, or a canary file) or from plain text, one query a line.

    JSONL records give the text as `query` or `text`, the id as `id` or `_id` (else the line number),
    and optionally `relevant` doc ids (a list, grade 1, or a map of doc id to grade). Blank lines and
    lines starting with `#` are skipped. Any other suffix than `.jsonl` / `.json` is plain text.

    Returns:
        ([(query id, text)] in file order, qrels of the records that named relevant documents).

    Raises:
        CorpusNotFound: no such file.
        BadRecord: `file:line: not JSON: ...`, `file:line: no \\`query\\` or \\`text\\``, a query that is not a
            string, or a blank one (only spaces or invisible characters: the API refuses it).
    """
    if not path.is_file():
        raise CorpusNotFound(f"no query file at {path}")
    queries: list[tuple[str, str]] = []
    qrels: Qrels = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if path.suffix in (".jsonl", ".json"):
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as e:
                raise BadRecord(f"{path}:{n}", f"not JSON: {e}") from e
            if not isinstance(raw, dict):
                raise BadRecord(f"{path}:{n}", f"not a JSON object but {json_type(raw)}")
            text = raw.get("query", raw.get("text"))
            if text is None or text == "":
                raise BadRecord(f"{path}:{n}", "no `query` or `text`")
            if not isinstance(text, str):
                raise BadRecord(f"{path}:{n}", f"the query must be a string, not {json_type(text)}: {text!r:.40}")
            qid = str(raw.get("id", raw.get("_id", n)))
            relevant = raw.get("relevant") or []
            if relevant:
                qrels[qid] = {str(d): 1 for d in relevant} if isinstance(relevant, list) else \
                    {str(d): int(g) for d, g in relevant.items()}
        else:
            qid, text = str(n), line.strip()
        if blank(text):  # the API refuses it; a set of them would store a verdict that compared nothing
            raise BadRecord(f"{path}:{n}", f"the query {text!r:.40} is blank (only spaces or invisible characters)")
        queries.append((qid, text))
    return queries, qrels


def read_qrels(path: Path) -> Qrels:
    """`query-id  corpus-id  score` rows (tab separated, header first); grades <= 0 are dropped.

    Returns:
        query id -> {doc id: grade > 0}.

    Raises:
        CorpusNotFound: no such file.
        BadRecord: no header (`file:1`), or a grade that is not a number (`file:line`).
    """
    if not path.is_file():
        raise CorpusNotFound(f"no judgements at {path}")
    qrels: Qrels = {}
    with path.open(newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t")
        header = next(rows, None)
        if header is None or header[0].strip().lower() not in ("query-id", "query_id", "qid"):
            raise BadRecord(f"{path}:1", f"expected a header `query-id corpus-id score`, got {header}")
        for row in rows:
            if len(row) < 3 or not row[0].strip():
                continue
            try:
                grade = int(float(row[2]))
            except ValueError as e:
                raise BadRecord(f"{path}:{rows.line_num}", f"grade {row[2]!r} is not a number") from e
            if grade > 0:
                qrels.setdefault(row[0].strip(), {})[row[1].strip()] = grade
    return qrels


def find_qrels(folder: Path, splits: list[str]) -> Path:
    """The first `qrels/<split>.tsv` of `splits` that exists in a BEIR folder.

    Raises:
        CorpusNotFound: none of them.
    """
    found = next((folder / "qrels" / f"{s}.tsv" for s in splits if (folder / "qrels" / f"{s}.tsv").exists()), None)
    if found is None:
        raise CorpusNotFound(f"no qrels/{'|'.join(splits)}.tsv in {folder}")
    return found


# --- a judged BEIR dataset ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """A judged dataset: documents, the queries of one split, and their relevance judgements."""

    name: str
    split: str
    docs: list[Document]
    queries: dict[str, str]  # query id -> text, only queries with at least one relevant document
    qrels: Qrels  # query id -> {doc id: grade > 0}


def load_beir(folder: Path, split: str = "test") -> Dataset:
    """Read a BEIR folder; queries without a judged relevant document are left out.

    Raises:
        CorpusNotFound: `not a BEIR folder: <file> is missing`.
        BadRecord: a record or row that cannot be read, with its `file:line`.
    """
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for p in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not p.exists():
            raise CorpusNotFound(f"not a BEIR folder: {p} is missing")
    docs = read_documents(folder)
    qrels = read_qrels(qrels_path)
    queries = {qid: text for qid, text in read_queries(folder / "queries.jsonl")[0] if qid in qrels}
    qrels = {q: rel for q, rel in qrels.items() if q in queries}
    return Dataset(name=folder.name, split=split, docs=docs, queries=queries, qrels=qrels)
