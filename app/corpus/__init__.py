"""The one reader of corpora, queries and judgements: BEIR folders and our JSONL.

A BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv.
Library code: everything here raises `CorpusError`s (an `InvalidInput`), each naming its `file:line`
where there is one; only the command-line entry points print and exit. Used by the loader
(`scripts/load`), the migration validator's query sets (`scripts/migrate`), and the evaluation harness.
"""

from app.corpus.jsonl import BadRecord, CorpusError, CorpusNotFound, read_json_objects
from app.corpus.judged import Dataset, Qrels, find_qrels, load_beir, read_qrels, read_queries
from app.corpus.records import Record, corpus_file, read_corpus, read_documents, read_records, record_id, to_document

__all__ = ["BadRecord", "CorpusError", "CorpusNotFound", "Dataset", "Qrels", "Record", "corpus_file", "find_qrels",
           "load_beir", "read_corpus", "read_documents", "read_json_objects", "read_qrels", "read_queries",
           "read_records", "record_id", "to_document"]
