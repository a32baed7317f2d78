"""Body coverage: pool a long body's passages into a bounded number of vectors, and say what was kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


def pool_groups(n_passages: int, max_vectors: int) -> tuple[tuple[int, int], ...]:
    """Contiguous groups `[start, end)` covering `n_passages`, at most `max_vectors` of them.

    Up to the cap every passage is its own group. Past it, adjacent passages are merged into
    groups whose sizes differ by at most one, so every part of the body is diluted alike (a tail
    merged into a few large groups would drown the end of the body; equal groups do not favour
    the head).

    Args:
        n_passages: passages embedded.
        max_vectors: the most vectors one point may hold for the body (>= 1).

    Returns:
        The groups, in order; empty when there are no passages.
    """
    if max_vectors < 1:
        raise ValueError("max_vectors must be at least 1")
    if n_passages <= max_vectors:
        return tuple((i, i + 1) for i in range(n_passages))
    size, extra = divmod(n_passages, max_vectors)
    groups: list[tuple[int, int]] = []
    start = 0
    for g in range(max_vectors):
        end = start + size + (1 if g < extra else 0)
        groups.append((start, end))
        start = end
    return tuple(groups)


def pool_vectors(vectors: Sequence[np.ndarray], groups: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """One unit vector per group: the mean of its passages' unit vectors, re-normalised."""
    out: list[np.ndarray] = []
    for start, end in groups:
        if end - start == 1:
            out.append(np.asarray(vectors[start], dtype=np.float32))
            continue
        mean = np.mean(np.stack([np.asarray(v, dtype=np.float32) for v in vectors[start:end]]), axis=0)
        norm = float(np.linalg.norm(mean))
        out.append((mean / norm if norm > 0 else mean).astype(np.float32))
    return out


@dataclass(frozen=True)
class BodyCoverage:
    """How a body was embedded: what went in, what was pooled, and what was cut (never silently)."""

    passages: int  # passages the body splits into
    passages_embedded: int  # of those, encoded (the rest are cut: past `max_passages`)
    words: int
    words_embedded: int
    vectors: int  # body vectors stored on the point (<= `max_chunks`)
    pooled_passages: int  # passages merged with neighbours into a shared vector
    pooled_vectors: int  # vectors that hold more than one passage
    passages_cut: int
    words_cut: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def body_coverage(all_passages: Sequence[str], embedded: int,
                  groups: Sequence[tuple[int, int]]) -> BodyCoverage:
    """The coverage of a body cut into `all_passages`, of which the first `embedded` are encoded and
    pooled into `groups`."""
    counts = [len(p.split()) for p in all_passages]
    words_embedded = sum(counts[:embedded])
    pooled = [(s, e) for s, e in groups if e - s > 1]
    return BodyCoverage(
        passages=len(all_passages), passages_embedded=embedded, words=sum(counts), words_embedded=words_embedded,
        vectors=len(groups), pooled_passages=sum(e - s for s, e in pooled), pooled_vectors=len(pooled),
        passages_cut=len(all_passages) - embedded, words_cut=sum(counts) - words_embedded,
    )
