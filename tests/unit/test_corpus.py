"""The one reader: BEIR folders and our JSONL, errors that name file:line, and no exits from library code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.corpus import (
    BadRecord,
    CorpusError,
    CorpusNotFound,
    find_qrels,
    load_beir,
    read_qrels,
    read_queries,
)
from app.errors import InvalidInput


def beir(folder: Path, *, qrels: str = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq2\td2\t2\n") -> Path:
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"_id": "d1", "title": "One", "text": "first"}, {"_id": 2, "title": "", "text": "second"},
        {"_id": "d2", "text": "third", "metadata": {"y": 1}}]))
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"_id": "q1", "text": "find one"}, {"_id": "q2", "text": "find two"}, {"_id": "q3", "text": "unjudged"}]))
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text(qrels)
    return folder


def test_load_beir_keeps_judged_queries_and_relevant_grades(tmp_path: Path) -> None:
    ds = load_beir(beir(tmp_path / "mini"), "test")
    assert [d.id for d in ds.docs] == ["d1", "2", "d2"]
    assert (ds.docs[0].title, ds.docs[0].body, ds.docs[2].metadata) == ("One", "first", {"y": 1})
    assert ds.queries == {"q1": "find one", "q2": "find two"}
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    assert (ds.name, ds.split) == ("mini", "test")


def test_a_missing_file_raises_our_error_not_an_exit(tmp_path: Path) -> None:
    with pytest.raises(CorpusNotFound, match=r"not a BEIR folder: .*qrels/dev\.tsv is missing"):
        load_beir(beir(tmp_path / "mini"), "dev")
    with pytest.raises(CorpusNotFound, match=r"no qrels/dev\|train\.tsv in"):
        find_qrels(tmp_path / "mini", ["dev", "train"])
    assert issubclass(CorpusError, InvalidInput)  # the versioning CLI and the API answer it as invalid input


def test_qrels_without_a_header_or_with_a_bad_grade_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "a.tsv"
    bad.write_text("q1\td1\t1\n")
    with pytest.raises(BadRecord, match=rf"{bad}:1: expected a header"):
        read_qrels(bad)
    bad.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\tx\n")
    with pytest.raises(BadRecord, match=rf"{bad}:3: grade 'x' is not a number"):
        read_qrels(bad)


def test_query_files_jsonl_and_plain(tmp_path: Path) -> None:
    jl = tmp_path / "q.jsonl"
    jl.write_text('{"query": "a", "relevant": ["d1"]}\n# a comment\n\n{"id": 7, "text": "b", "relevant": {"d2": 2}}\n')
    assert read_queries(jl) == ([("1", "a"), ("7", "b")], {"1": {"d1": 1}, "7": {"d2": 2}})
    txt = tmp_path / "q.txt"
    txt.write_text("first query\n\nsecond\n")
    assert read_queries(txt) == ([("1", "first query"), ("3", "second")], {})
    jl.write_text('{"query": "a"}\n{"id": 1}\n')
    with pytest.raises(BadRecord, match=rf"{jl}:2: no `query` or `text`"):
        read_queries(jl)
    jl.write_text("{nope\n")
    with pytest.raises(BadRecord, match=rf"{jl}:1: not JSON"):
        read_queries(jl)


def test_canary_pairs_name_the_line(tmp_path: Path) -> None:
    from app.eval.canary import read_pairs

    pairs = tmp_path / "p.jsonl"
    pairs.write_text('{"query": "a", "doc_id": 1}\n{"query": "b"}\n')
    with pytest.raises(BadRecord, match=r'p\.jsonl:2: want \{"query": \.\.\., "doc_id": \.\.\.\}: \'doc_id\''):
        read_pairs(pairs)
    pairs.write_text("\n")
    with pytest.raises(CorpusNotFound, match="no pairs"):
        read_pairs(pairs)


def test_lines_that_are_not_utf8_or_not_unicode_are_refused_naming_the_line_and_a_bom_is_skipped(
    tmp_path: Path,
) -> None:
    from app.corpus import read_records

    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(b'\xef\xbb\xbf{"_id": "first", "title": "t", "text": "b"}\n'
                       b'{"_id": "sur", "title": "a\\ud800", "text": "b"}\n'
                       b'{"_id": "latin1", "title": "caf\xe9", "text": "b"}\n'
                       b'{"_id": "meta", "title": "t", "text": "b", "metadata": {"\\udc00": 1}}\n'
                       b'{"_id": "last", "title": "t", "text": "b"}\n')
    records = list(read_records(corpus))
    assert [(r.doc or {}).get("id") for r in records] == ["first", None, None, None, "last"]
    problems = {r.where: r.problem for r in records if r.problem}
    assert problems == {
        f"{corpus}:2": "$.title is not valid Unicode (a lone surrogate such as \\ud800)",
        f"{corpus}:3": "not UTF-8: invalid continuation byte at byte 31",
        f"{corpus}:4": "$.metadata is not valid Unicode (a lone surrogate such as \\ud800)",
    }
