"""Token-bounded batches: the one batching rule every encoder uses."""

from __future__ import annotations

from collections.abc import Sequence


def token_batches(lengths: Sequence[int], *, budget: int, max_batch: int) -> list[list[int]]:
    """Group text indices (sorted by length) so each batch's padded size, count x longest, stays
    within `budget` tokens: onnxruntime's memory grows with batch x sequence length."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = max(lengths[i], 1)
        if (current and (len(current) + 1) * max(longest, n) > budget) or len(current) >= max_batch:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, n)
    if current:
        batches.append(current)
    return batches
