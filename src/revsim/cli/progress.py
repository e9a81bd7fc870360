"""A progress bar for runs that take more than a second (on a terminal only)."""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["ProgressBar"]


class ProgressBar:
    """Counts finished draws (from any thread) and redraws a bar on stderr at most ten times a second.

    Nothing is shown for the first second, nor when stderr is not a terminal, so quick runs and logs stay
    clean.
    """

    def __init__(self, total: int, *, label: str = "simulating", delay: float = 1.0) -> None:
        self.total = total
        self.label = label
        self.delay = delay
        self.done = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._shown = False
        self._enabled = sys.stderr.isatty()

    def __call__(self, finished: int) -> None:
        with self._lock:
            self.done += finished
            now = time.monotonic()
            if not self._enabled or now - self._started < self.delay or now - self._last_draw < 0.1:
                return
            self._last_draw = now
            self._shown = True
            width = 30
            filled = int(width * self.done / self.total)
            rate = self.done / (now - self._started)
            remaining = (self.total - self.done) / rate if rate > 0 else 0.0
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                             f"{self.done:,}/{self.total:,} draws, {remaining:4.0f} s left ")
            sys.stderr.flush()

    def close(self) -> None:
        """Clear the bar's line if it was shown."""
        if self._shown:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()
