"""Body coverage: pool a long body's passages into a bounded number of vectors, and say what was kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


def merge_similar_neighbours(vectors: Sequence[np.ndarray], max_vectors: int) -> list[np.ndarray]:
    """At most `max_vectors` unit vectors for a body's passages, merging adjacent passages.

    While there are too many, the two adjacent groups whose mean vectors are most alike are merged
    (their passages' mean, re-normalised). Runs of passages that say the same thing collapse first;
    a passage unlike its neighbours (the one sentence about something else, at the end of a long
    report) keeps a vector of its own for as long as possible, where equal contiguous groups would
    average it away. Groups stay contiguous, so a vector always stands for one stretch of the body.

    Args:
        vectors: unit vectors, shape (d,) each, one per passage, in body order.
        max_vectors: the most vectors to return (>= 1).

    Returns:
        (d,) float32 vectors: the given ones when there are few enough, else `max_vectors` pooled ones
        (L2-normalised), in body order.

    Raises:
        ValueError: `max_vectors` < 1.
    """
    if max_vectors < 1:
        raise ValueError("max_vectors must be at least 1")
    if len(vectors) <= max_vectors:
        return [np.asarray(v, dtype=np.float32) for v in vectors]
    sums = np.stack([np.asarray(v, dtype=np.float64) for v in vectors])
    means = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    sims = np.einsum("ij,ij->i", means[:-1], means[1:])
    while len(sums) > max_vectors:
        j = int(np.argmax(sims))
        sums[j] += sums[j + 1]
        sums = np.delete(sums, j + 1, axis=0)
        means = np.delete(means, j + 1, axis=0)
        means[j] = sums[j] / max(float(np.linalg.norm(sums[j])), 1e-12)
        sims = np.delete(sims, j)  # the pair (j, j+1) is gone; pairs j-1 and j change
        if j < len(sims):
            sims[j] = float(means[j] @ means[j + 1])
        if j > 0:
            sims[j - 1] = float(means[j - 1] @ means[j])
    return [m.astype(np.float32) for m in means]


@dataclass(frozen=True)
class BodyCoverage:
    """How a body was embedded: what went in, what was pooled, and what was cut (never silently)."""

    passages: int  # passages the body splits into
    passages_embedded: int  # of those, encoded (the rest are cut: past `max_passages`)
    words: int
    words_embedded: int
    vectors: int  # body vectors stored on the point (<= `max_chunks`)
    merged_passages: int  # passages folded into a neighbour's vector (embedded - vectors)
    passages_cut: int
    words_cut: int

    def as_dict(self) -> dict[str, int]:
        """Every count by its field name: what the payload stores and `/documents` answers (`CoverageOut`)."""
        return asdict(self)


def body_coverage(all_passages: Sequence[str], embedded: int, max_vectors: int) -> BodyCoverage:
    """The coverage of a body cut into `all_passages`, of which the first `embedded` are encoded and
    merged into at most `max_vectors` vectors."""
    counts = [len(p.split()) for p in all_passages]
    words_embedded = sum(counts[:embedded])
    vectors = min(embedded, max_vectors)
    return BodyCoverage(
        passages=len(all_passages), passages_embedded=embedded, words=sum(counts), words_embedded=words_embedded,
        vectors=vectors, merged_passages=embedded - vectors,
        passages_cut=len(all_passages) - embedded, words_cut=sum(counts) - words_embedded,
    )
