"""argparse types for numbers in a range: a value out of it is one argparse line and exit status 2 (as any bad
argument), not a refusal from the store or the service further on."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from `lo` to `hi` (no upper bound when None).

    The converter raises `argparse.ArgumentTypeError`: `not a whole number: '1.5'`, `must be at least 1, not 0`,
    `must be 1 to 99, not 150`.
    """
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            within = f"at least {lo}" if hi is None else f"{lo} to {hi}"
            raise argparse.ArgumentTypeError(f"must be {within}, not {value}")
        return value
    return convert


def number(lo: float, hi: float) -> Callable[[str], float]:
    """An argparse type: a finite number from `lo` to `hi`; raises `argparse.ArgumentTypeError` otherwise."""
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be {lo:g} to {hi:g}, not {text.strip()}")
        return value
    return convert
