"""Progress lines for long runs (simulate, replay): on stderr, at most every 2 s, and at the end."""

from __future__ import annotations

import sys
import time

PROGRESS_EVERY_S = 2.0


class Progress:
    """A progress line on stderr at most every ``PROGRESS_EVERY_S`` seconds (and at the end)."""

    def __init__(self, label: str, total: int, quiet: bool) -> None:
        self.label, self.total, self.quiet = label, max(total, 1), quiet
        self.t0 = self.last = time.monotonic()

    def __call__(self, done: int, extra: str = "", final: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not final and now - self.last < PROGRESS_EVERY_S):
            return
        self.last = now
        print(
            f"{self.label}: {done}/{self.total} messages ({100.0 * done / self.total:.0f} %) "
            f"in {now - self.t0:.1f} s{(' ' + extra) if extra else ''}",
            file=sys.stderr,
            flush=True,
        )
