"""Qdrant's own BM25 (qdrant-edge-py's `Bm25`), in-process: sparse term weights for any script.

Its `Multilingual` tokenizer segments Chinese, Japanese and Thai (dictionary-based) and splits
every other script on Unicode word boundaries, so text written without spaces gets terms at all
(fastembed's `Qdrant/bm25` keeps a Chinese sentence as one token). English stopwords and the
English Snowball stemmer, as fastembed's model has them, so English ranks as before; other
languages are tokenised and lowercased but neither stemmed nor stopped. Qdrant applies IDF
(`Modifier.IDF`), as for fastembed's BM25. Both store adapters get identical vectors: they are
computed here, not in the store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from app.encoders.vectors import SparseVec
from app.errors import EncoderFailed
from app.settings import EncoderSettings

# k, b and avg_len as fastembed's Qdrant/bm25 has them, so scores are on the same scale.
MODELS: dict[str, dict[str, Any]] = {
    "bm25-multilingual-en": {"k": 1.2, "b": 0.75, "avg_len": 256.0, "language": "english"},
}


# Han characters (CJK ideographs, their extensions and compatibility forms, and the marks written inside kanji
# words: U+3005 (々) repeats the kanji before it, U+3006 and U+3007), and the scripts that tell Japanese
# or Korean apart from Chinese (kana, half-width katakana, hangul).
HAN = re.compile("[\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
KANA_OR_HANGUL = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
# A Japanese particle: after it, the tokenizer reads Han-only text as Japanese (its own terms are then dropped).
JAPANESE_HINT = "\u306e"  # の


class QdrantBm25Encoder:
    """`qdrant_edge.Bm25` behind the sparse encoder interface: document TF weights, query terms 1.0."""

    kind = "sparse"
    dim = None

    def __init__(self, name: str, model: Any) -> None:
        self.name = name
        self._model = model

    @staticmethod
    def _convert(vec: Any) -> SparseVec:
        pairs = sorted(zip(vec.indices, vec.values, strict=True))
        return SparseVec(tuple(int(i) for i, _ in pairs), tuple(float(v) for _, v in pairs))

    def embed(self, texts: Sequence[str]) -> list[SparseVec]:
        """One sparse vector per text, in order: term ids (sorted) -> BM25 term-frequency weights (no IDF)."""
        return [self._convert(self._model.embed_document(t)) for t in texts]

    def embed_query(self, text: str) -> SparseVec:
        """The query's terms (tokenised, stemmed and stopped as documents are), each weighted 1.0.

        Text whose only CJK script is Han (`東京大学`, `COVID 東京`) reads as Chinese, whose terms the tokenizer
        takes from the characters' readings, while a Japanese document's kanji are terms as written: each run
        of Han in such a query also gives its Japanese reading's terms, so it finds both (a document matches
        the terms of the language it was written in; each term still weighs 1.0)."""
        terms = set(self._model.embed_query(text).indices)
        if not KANA_OR_HANGUL.search(text):
            runs = HAN.findall(text)  # each run of Han read as Japanese (beside Latin, the hint alone is not enough)
            hint = set(self._model.embed_query(JAPANESE_HINT).indices) if runs else set()
            for run in runs:
                terms |= set(self._model.embed_query(run + JAPANESE_HINT).indices) - hint
        ids = tuple(sorted(int(i) for i in terms))
        return SparseVec(ids, (1.0,) * len(ids))


def load(name: str, settings: EncoderSettings) -> QdrantBm25Encoder:
    """The named configuration of Qdrant's BM25 (see `MODELS`).

    Raises:
        EncoderFailed: an unknown name, or a configuration the installed qdrant-edge-py refuses.
    """
    del settings  # nothing to assemble or batch: the model is a tokenizer and a formula
    if name not in MODELS:
        raise EncoderFailed(f"unknown qdrant-bm25 model {name!r}; known: {sorted(MODELS)}")
    import qdrant_edge as q

    cfg = MODELS[name]
    try:
        config = q.Bm25Config(k=cfg["k"], b=cfg["b"], avg_len=cfg["avg_len"],
                              tokenizer=q.TokenizerType.Multilingual, language=cfg["language"])
        return QdrantBm25Encoder(name, q.Bm25(config))
    except ValueError as e:
        raise EncoderFailed(f"could not configure qdrant-bm25 model {name!r}: {e}") from e
