"""Synthetic corpora for benchmarks past what the real encoders reach on 2 cores: vectors shaped like real ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from app.encoders.fastembed_encoder import SparseVec
from app.store.base import PointWrite


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """`n` random unit vectors: an (n, dim) float32 array, each row of L2 norm 1."""
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _normalise(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


class SyntheticCorpus:
    """Random vectors shaped like real sentence embeddings, not uniform noise.

    Uniform random unit vectors are the worst case for HNSW (nothing is near anything), so documents
    are drawn around topic centroids, with a direction every embedding shares (MiniLM's are not
    centred), and a document's passages and entities drawn around the document. The counts match
    what real documents give (measured on CISI and SciFact): 1-6 body passages (mean about 2),
    8 entity vectors, 20-100 BM25 terms drawn Zipf-like from a 30,000-term vocabulary.
    """

    def __init__(self, dim: int, *, seed: int, topics: int = 2_000, vocab: int = 30_000) -> None:
        self.rng = np.random.default_rng(seed)
        self.dim = dim
        self.vocab = vocab
        self.common = unit(self.rng, 1, dim)[0]
        self.centroids = unit(self.rng, topics, dim)

    def _around(self, centres: np.ndarray, spread: float) -> np.ndarray:
        noise = self.rng.standard_normal(centres.shape).astype(np.float32) / np.sqrt(self.dim)
        return _normalise(centres + spread * noise)

    def _doc_vectors(self, n: int) -> np.ndarray:
        topics = self.centroids[self.rng.integers(0, len(self.centroids), n)]
        return self._around(0.5 * self.common + topics, 1.0)

    def _terms(self, n: int) -> tuple[int, ...]:
        return tuple(int(t) for t in np.unique(np.minimum(self.rng.zipf(1.3, size=n), self.vocab - 1)))

    def points(self, versions: Sequence[Any], start: int, n: int) -> list[PointWrite]:
        """`n` synthetic points, ids and doc ids numbered from `start`, with a vector per version.

        Args:
            versions: the written vector versions (dense: one (dim,) vector; multi: passages or 8 entity
                vectors; sparse: 20-100 BM25-like terms).
        """
        docs = self._doc_vectors(n)
        points = []
        for j, i in enumerate(range(start, start + n)):
            vectors: dict[str, Any] = {}
            for v in versions:
                if v.kind == "dense":
                    vectors[v.name] = self._around(docs[j][None, :], 0.6)[0]
                elif v.kind == "multi":
                    count = 8 if v.field == "entities" else int(min(6, 1 + self.rng.poisson(1.0)))
                    vectors[v.name] = list(self._around(np.repeat(docs[j][None, :], count, 0), 0.9))
                else:
                    terms = self._terms(int(self.rng.integers(20, 100)))
                    vectors[v.name] = SparseVec(terms, tuple(float(x) for x in 1.0 + self.rng.random(len(terms))))
            points.append(PointWrite(id=f"00000000-0000-4000-8000-{i:012d}", vectors=vectors,
                                     payload={"doc_id": f"syn-{i}", "title": f"synthetic {i}"}))
        return points

    def query(self) -> dict[str, Any]:
        """One dense vector (the real service also shares one query vector per model) and ~5 BM25 terms."""
        terms = self._terms(5)
        return {"dense": self._around(self._doc_vectors(1), 0.6)[0], "sparse": SparseVec(terms, (1.0,) * len(terms))}
