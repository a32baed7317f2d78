"""Argument types for the eval and bench commands: a bad number, or a place to write that is a file or cannot be
written (`out_folder`, `out_file`), is one argparse error line naming the option (exit status 2), never a
traceback nor a run on nothing, nor a run whose report is lost at its end."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from app.settings_checks import out_file, out_folder, parse_checked

__all__ = ["fraction", "number", "out_file", "out_folder", "parse_checked", "sizes", "whole"]

MAX_SYNTHETIC = 10_000_000  # synthetic documents: 100,000 took 176-1,000 s to build here
MAX_SEED = 2**32 - 1  # numpy's seeds
MAX_DEPTH = 10_000  # a space's list depth: the service's prefetch limit at most
MAX_COUNT = 10_000_000  # queries, documents, rounds, batches: past any run this machine finishes


def whole(minimum: int, maximum: int | None = None, *, meaning: str = "") -> Callable[[str], int]:
    """An argparse `type`: a whole number from `minimum` (to `maximum`).

    Args:
        meaning: what the smallest value does, said in the error (e.g. "0 = skip").

    Returns:
        The parser; it raises argparse.ArgumentTypeError("expected a whole number >= 1, not 'abc'").
    """
    span = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    expected = f"expected a whole number {span}" + (f" ({meaning})" if meaning else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}, not {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{expected}, not {value}")
        return value

    return parse


def number(*, above: float | None = None, minimum: float | None = None, below: float | None = None,
           maximum: float | None = None, meaning: str = "") -> Callable[[str], float]:
    """An argparse `type`: a finite number > `above` (or >= `minimum`) and < `below` (or <= `maximum`), where given.

    Returns:
        The parser; it raises argparse.ArgumentTypeError naming the range and the value.
    """
    parts = [f"> {above:g}" if above is not None else "", f">= {minimum:g}" if minimum is not None else "",
             f"< {below:g}" if below is not None else "", f"<= {maximum:g}" if maximum is not None else ""]
    expected = "expected a finite number " + " and ".join(p for p in parts if p) + (f" ({meaning})" if meaning else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}, not {text!r}") from None
        if not math.isfinite(value) or (above is not None and value <= above) or (
                minimum is not None and value < minimum) or (below is not None and value >= below) or (
                maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{expected}, not {text}")
        return value

    return parse


def fraction(text: str) -> float:
    """An argparse `type` for a share of the queries fitted on: 0 (none: no fit) or above 0 and below 1.

    Raises:
        argparse.ArgumentTypeError: not a number in [0, 1).
    """
    return number(minimum=0, below=1, meaning="0 = no fit; some queries must be held out")(text)


def sizes(text: str) -> list[int]:
    """An argparse `type`: comma-separated whole numbers >= 1 (`''`: none).

    Raises:
        argparse.ArgumentTypeError: naming the first part that is not one.
    """
    size = whole(1, MAX_SYNTHETIC, meaning="documents; '' = skip")
    return [size(part.strip()) for part in text.split(",") if part.strip()]
