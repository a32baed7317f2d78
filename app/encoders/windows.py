"""Where the shared backbone cuts a document's tokens into model windows (pure; token offsets only).

Two policies, both covering every token:

- `fixed_windows`: windows of `width` tokens that overlap by `overlap`; each token's state is taken
  from the window where it has the most context (`owners`: the overlap is split at its middle).
- `aligned_windows`: no overlap; a window ends at the last passage boundary that fits, so a passage
  is read whole, in one window, with the passages beside it; only a passage longer than a window is
  cut (at the window's end).
"""

from __future__ import annotations

from collections.abc import Sequence


def window_starts(n_tokens: int, width: int, overlap: int) -> list[int]:
    """Start offsets of windows of `width` tokens, `overlap` tokens shared by neighbours, covering `n_tokens`."""
    stride = max(1, width - overlap)
    starts = [0]
    while starts[-1] + width < n_tokens:
        starts.append(starts[-1] + stride)
    return starts


def owners(starts: Sequence[int], width: int, n_tokens: int) -> list[tuple[int, int, int]]:
    """`(window, from, to)`: the token range each window supplies, split at the middle of each overlap."""
    out: list[tuple[int, int, int]] = []
    lo = 0
    for k, s in enumerate(starts):
        end = min(s + width, n_tokens)
        hi = end if k + 1 == len(starts) else (starts[k + 1] + end) // 2
        if hi > lo:
            out.append((k, lo, hi))
        lo = hi
    return out


def fixed_windows(n_tokens: int, width: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """`(start, end, own_from, own_to)` per window: the tokens it reads and the ones whose state it gives."""
    starts = window_starts(n_tokens, width, overlap)
    owned = {k: (lo, hi) for k, lo, hi in owners(starts, width, n_tokens)}
    return [(s, min(s + width, n_tokens), *owned.get(k, (s, s))) for k, s in enumerate(starts)]


def aligned_windows(n_tokens: int, width: int, cuts: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """Windows of at most `width` tokens, back to back, each ending at the last of `cuts` (token
    offsets where a passage starts) that fits, or at `width` when none does.

    Returns:
        `(start, end, start, end)` per window (each window gives the state of every token it reads),
        the same shape as `fixed_windows`.
    """
    points = sorted({c for c in cuts if 0 < c < n_tokens})
    out: list[tuple[int, int, int, int]] = []
    start, i = 0, 0
    while start < n_tokens or not out:
        limit = min(start + width, n_tokens)
        while i < len(points) and points[i] <= start:
            i += 1
        end = limit
        if limit < n_tokens:
            j = i
            while j < len(points) and points[j] <= limit:
                end = points[j]
                j += 1
        out.append((start, end, start, end))
        start = end
        if n_tokens == 0:
            break
    return out
