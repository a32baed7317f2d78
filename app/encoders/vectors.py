"""The sparse vector every sparse encoder returns (fastembed's BM25, Qdrant's BM25) and the stores take."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SparseVec:
    """A sparse vector: term ids (each once) and their weights, in the same order and of the same length."""

    indices: tuple[int, ...]
    values: tuple[float, ...]
