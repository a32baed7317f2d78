"""argparse types for numbers in a range, for every command (the scripts, the migrate and eval CLIs): a value out of
it is one argparse line naming the range and the value, exit status 2, not a refusal from the store or the service
further on, nor a traceback."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


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
