"""The shared backbone's windows: every token's state comes from exactly one window, within the width."""

from __future__ import annotations

import itertools
import random

import pytest

from app.encoders.windows import aligned_windows, fixed_windows


def _owned_once(windows: list[tuple[int, int, int, int]], n: int, width: int) -> None:
    owned = []
    for start, end, lo, hi in windows:
        assert 0 <= start <= lo <= hi <= end <= n and end - start <= width
        owned += range(lo, hi)
    assert owned == list(range(n))  # each token once, in order


@pytest.mark.parametrize("width,overlap", [(254, 32), (254, 0), (126, 16), (382, 32), (510, 0), (14, 6)])
def test_fixed_windows_give_every_token_one_state(width: int, overlap: int) -> None:
    for n in [0, 1, width - 1, width, width + 1, 3 * width + 7, 2000]:
        windows = fixed_windows(n, width, overlap)
        _owned_once(windows, n, width)
        if n > width:  # neighbours overlap by exactly `overlap` tokens
            assert all(b[0] == a[0] + width - overlap for a, b in itertools.pairwise(windows))


def test_aligned_windows_end_at_the_last_passage_boundary_that_fits() -> None:
    # passages start at tokens 10, 100, 180, 400; windows of at most 200 tokens over 450 tokens
    windows = aligned_windows(450, 200, [10, 100, 180, 400])
    # the passage from 180 to 400 is longer than a window: cut at 380; the rest fits in the last window
    assert [(s, e) for s, e, _, _ in windows] == [(0, 180), (180, 380), (380, 450)]
    _owned_once(windows, 450, 200)
    # one passage longer than a window is cut at the window's end; no overlap anywhere
    assert [(s, e) for s, e, _, _ in aligned_windows(500, 200, [5])] == [(0, 5), (5, 205), (205, 405), (405, 500)]


def test_aligned_windows_cover_any_text_once_whatever_the_boundaries() -> None:
    rng = random.Random(3)
    for _ in range(200):
        n, width = rng.randint(0, 3000), rng.randint(8, 510)
        cuts = sorted(rng.sample(range(0, n + 5), min(n + 5, rng.randint(0, 40))))
        windows = aligned_windows(n, width, cuts)
        _owned_once(windows, n, width)
        inner = [e for _, e, _, _ in windows[:-1]]
        # a window ends at a passage boundary unless no boundary fits in it
        for (s, e, _, _) in windows[:-1]:
            fits = [c for c in cuts if s < c <= s + width]
            assert e == (max(fits) if fits else s + width), (s, e, fits)
        assert len(set(inner)) == len(inner)
