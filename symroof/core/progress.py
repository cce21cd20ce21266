"""A progress line for long work on a terminal (sweeps, exporting many workbooks)."""

from __future__ import annotations

import time


class Progress:
    """A progress line on ``stream`` for work that takes longer than ``after`` seconds; silent otherwise.

    Silent too when ``stream`` is not a terminal or ``enabled`` is false (``--quiet``).
    """

    def __init__(self, stream, enabled: bool, after: float = 1.0) -> None:
        self.stream = stream
        self.enabled = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.after = after
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if not self.shown and (done >= total or time.monotonic() - self.start < self.after):
            return  # not worth showing yet, or finished before it was
        self.shown = True
        bar = "#" * (30 * done // max(total, 1))
        end = "\n" if done >= total else ""
        print(f"\r[{bar:<30}] {done}/{total}", end=end, file=self.stream, flush=True)
