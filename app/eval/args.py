"""Argument types for the eval and bench commands: a bad number, or a place to write that is a file or cannot be
written (`out_folder`, `out_file`), is one argparse error line naming the option (exit status 2), never a
traceback nor a run on nothing, nor a run whose report is lost at its end."""

from __future__ import annotations

from app.arg_types import number, whole
from app.settings_checks import out_file, out_folder, parse_checked

__all__ = ["fraction", "number", "out_file", "out_folder", "parse_checked", "sizes", "whole"]

MAX_SYNTHETIC = 10_000_000  # synthetic documents: 100,000 took 176-1,000 s to build here
MAX_SEED = 2**32 - 1  # numpy's seeds
MAX_DEPTH = 10_000  # a space's list depth: the service's prefetch limit at most
MAX_COUNT = 10_000_000  # queries, documents, rounds, batches: past any run this machine finishes


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
