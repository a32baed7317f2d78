"""What a query router sees of a query: cheap features of its text and of its BM25 terms. No I/O.

Every feature comes from the query text and the `keywords` space's sparse term ids (Qdrant's BM25
hashes each term to an id), looked up in a document-frequency table fitted once from the indexed
collection (`DocFrequencies`): nothing here touches the store. Measured: about 0.1 ms a query.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import regex

# the features a router model reads, in this order (a stored model names the ones it was fitted on)
FEATURES: tuple[str, ...] = (
    "tokens", "chars", "chars_per_token", "terms", "stop_share", "digit_share", "code_share", "caps_share",
    "acronym_share", "question_word", "question_mark", "idf_max", "idf_mean", "idf_min", "idf_sum",
    "unknown_share",
)
QUESTION_WORDS = frozenset({"what", "why", "how", "when", "where", "which", "who", "whom", "whose", "is", "are",
                            "does", "do", "did", "can", "could", "should", "would", "will", "was", "were", "has",
                            "have", "may", "might"})
_EDGE_PUNCT = regex.compile(r"^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$")
_LETTER = regex.compile(r"\p{L}")
_DIGIT = regex.compile(r"\p{N}")
_UPPER = regex.compile(r"\p{Lu}")
# a code: letters and digits mixed (p53, BRCA1, H2O), or a hyphenated id with a digit or a capital (IL-6, COVID-19)
_HYPHEN_ID = regex.compile(r"^[\p{L}\p{N}]+(?:[-/][\p{L}\p{N}]+)+$")


@dataclass(frozen=True)
class DocFrequencies:
    """How many documents hold each BM25 term id, for the terms held by at least `min_df` documents.

    Stored compactly (`to_dict`): the sorted term ids as uint32 deltas and their counts as uint32,
    each zlib-compressed and base64-encoded; `docs` is N, the collection's size when counted.
    """

    docs: int
    ids: np.ndarray  # sorted uint32 term ids
    counts: np.ndarray  # uint32, documents holding each term (>= min_df)
    min_df: int = 2

    @classmethod
    def from_counts(cls, counts: Mapping[int, int], *, docs: int, min_df: int = 2) -> DocFrequencies:
        """Keep the terms held by at least `min_df` of `docs` documents (the rest count as unknown).

        Raises: ValueError when `docs` < 1 or `min_df` < 1.
        """
        if docs < 1 or min_df < 1:
            raise ValueError(f"docs ({docs}) and min_df ({min_df}) must be at least 1")
        kept = sorted((int(t), int(c)) for t, c in counts.items() if c >= min_df)
        ids = np.array([t for t, _ in kept], dtype=np.uint32)
        return cls(docs, ids, np.array([c for _, c in kept], dtype=np.uint32), min_df)

    def lookup(self, term_ids: Sequence[int]) -> np.ndarray:
        """Document frequency of each term id, shape (len(term_ids),) float64; 0 for a term held by fewer than
        `min_df` documents."""
        q = np.asarray(term_ids, dtype=np.int64)
        if not len(self.ids) or not len(q):
            return np.zeros(len(q))
        pos = np.clip(np.searchsorted(self.ids, q), 0, len(self.ids) - 1)
        return np.where(self.ids[pos] == q, self.counts[pos], 0).astype(float)

    def idf(self, df: np.ndarray) -> np.ndarray:
        """Qdrant's IDF (`Modifier.IDF`): ln(1 + (N - df + 0.5) / (df + 0.5))."""
        return np.log1p((self.docs - df + 0.5) / (df + 0.5))

    def to_dict(self) -> dict[str, Any]:
        """The stored form: `docs`, `min_df`, `terms` (how many), and `ids` (uint32 deltas) and `counts` (uint32),
        each zlib-compressed and base64-encoded; `from_dict` reads it back."""
        deltas = np.diff(self.ids.astype(np.int64), prepend=0).astype(np.uint32)
        return {"docs": self.docs, "min_df": self.min_df, "terms": len(self.ids),
                "ids": _pack(deltas), "counts": _pack(self.counts.astype(np.uint32))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DocFrequencies:
        """Raises: ValueError when the arrays do not decode or disagree in length."""
        try:
            ids = np.cumsum(_unpack(data["ids"]).astype(np.int64)).astype(np.uint32)
            counts = _unpack(data["counts"])
        except (KeyError, ValueError, zlib.error) as e:
            raise ValueError(f"document frequencies do not decode: {e}") from e
        if len(ids) != len(counts):
            raise ValueError(f"document frequencies: {len(ids)} term ids but {len(counts)} counts")
        return cls(int(data["docs"]), ids, counts, int(data.get("min_df", 2)))


def _pack(a: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(a.astype("<u4").tobytes(), 9)).decode("ascii")


def _unpack(s: str) -> np.ndarray:
    return np.frombuffer(zlib.decompress(base64.b64decode(s)), dtype="<u4")


def _tokens(text: str) -> list[str]:
    """Whitespace-separated tokens with their leading and trailing punctuation cut; empty ones dropped."""
    return [t for t in (_EDGE_PUNCT.sub("", raw) for raw in text.split()) if t]


def is_code(token: str) -> bool:
    """Letters mixed with digits (`p53`, `BRCA1`), or a hyphenated id holding a digit or a capital (`IL-6`)."""
    has_digit = bool(_DIGIT.search(token))
    if has_digit and _LETTER.search(token):
        return True
    return bool(_HYPHEN_ID.match(token)) and (has_digit or bool(_UPPER.search(token)))


def query_features(text: str, term_ids: Sequence[int], dfs: DocFrequencies | None) -> dict[str, float]:
    """The features of one query, named as in `FEATURES` (every value finite).

    Args:
        text: the query as the client sent it.
        term_ids: the distinct BM25 term ids of the query (the `keywords` space's sparse indices:
            stopwords already dropped, words stemmed).
        dfs: the collection's document frequencies; None gives IDF features of 0 and every term unknown.

    Returns:
        tokens and chars (counts), chars_per_token; terms (BM25 terms) and stop_share (tokens that are
        not terms); digit/code/caps/acronym shares of tokens in [0, 1] (caps: an upper-case letter in a
        token other than the first; acronym: two or more); question_word (the first token is one of
        `QUESTION_WORDS`) and question_mark, 0 or 1; idf_max/mean/min/sum over the known terms (0 when
        none), unknown_share: terms held by fewer than `dfs.min_df` documents.
    """
    tokens = _tokens(text)
    n = len(tokens)
    share = (lambda k: k / n) if n else (lambda k: 0.0)
    terms = len(term_ids)
    df = dfs.lookup(term_ids) if dfs is not None else np.zeros(terms)
    known = df > 0
    idf = dfs.idf(df[known]) if dfs is not None and known.any() else np.zeros(0)
    return {
        "tokens": float(n),
        "chars": float(len(text.strip())),
        "chars_per_token": sum(len(t) for t in tokens) / n if n else 0.0,
        "terms": float(terms),
        "stop_share": max(0.0, 1.0 - terms / n) if n else 0.0,
        "digit_share": share(sum(1 for t in tokens if _DIGIT.search(t))),
        "code_share": share(sum(1 for t in tokens if is_code(t))),
        "caps_share": share(sum(1 for t in tokens[1:] if _UPPER.search(t))),
        "acronym_share": share(sum(1 for t in tokens if len(_UPPER.findall(t)) >= 2)),
        "question_word": float(bool(tokens) and tokens[0].casefold() in QUESTION_WORDS),
        "question_mark": float(text.rstrip().endswith("?")),
        "idf_max": float(idf.max()) if len(idf) else 0.0,
        "idf_mean": float(idf.mean()) if len(idf) else 0.0,
        "idf_min": float(idf.min()) if len(idf) else 0.0,
        "idf_sum": float(idf.sum()),
        "unknown_share": float((~known).sum() / terms) if terms else 0.0,
    }


def feature_vector(features: Mapping[str, float], names: Sequence[str]) -> np.ndarray:
    """The features in `names`' order: shape (len(names),) float64, what `RouterModel.predict_proba` reads.

    Raises: KeyError naming a feature that `query_features` does not compute.
    """
    return np.array([features[n] for n in names], dtype=float)


def rounded(features: Mapping[str, float], digits: int = 4) -> dict[str, float]:
    """The features as `explain` shows them."""
    return {k: round(v, digits) if math.isfinite(v) else v for k, v in features.items()}
