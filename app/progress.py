"""Progress of a long operator command: a tqdm bar on a terminal, plain lines otherwise (a log file gets no
carriage returns)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    """Called with (done, total) as work advances; `close()` ends a bar early (an interrupted run).

    Args:
        total: the work expected (a later call may change it).
        desc: the label each line or the bar starts with.
        lines: plain lines (`desc: done/total (pct %), rate docs/s`) instead of a bar.
        file: where lines go (default stdout) or the bar (default stderr).
        every_s: lines only: at most one line per this many seconds, and always the last (done >= total).
    """

    def __init__(self, total: int, desc: str, *, lines: bool, file: TextIO | None = None,
                 every_s: float = 0.0) -> None:
        self.desc, self.every_s = desc, every_s
        self.t0 = self.last = time.perf_counter()
        self.out = file or (sys.stdout if lines else sys.stderr)
        self.bar: Any = None
        if not lines:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="doc", desc=desc, file=self.out, dynamic_ncols=True)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)
            if done >= total:
                self.bar.close()
            return
        now = time.perf_counter()
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-9)
        print(f"{self.desc}: {done}/{total} ({100.0 * done / max(total, 1):.1f} %), {rate:.1f} docs/s",
              file=self.out, flush=True)

    def close(self) -> None:
        """End the bar (lines need nothing)."""
        if self.bar is not None:
            self.bar.close()
