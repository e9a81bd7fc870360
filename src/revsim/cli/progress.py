"""A progress bar for runs that take more than a second (on a terminal only)."""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["ProgressBar", "PhaseDisplay", "DrawCounter"]


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


class PhaseDisplay:
    """One line on stderr for a run in phases: what is happening and for how long, then a bar of draws.

    ``compiling the model ...  12 s`` is redrawn twice a second by a background thread (compilation gives no
    progress of its own); :meth:`draws` turns the line into a bar with the time left. Shown on a terminal
    only, and only once a phase has lasted ``delay`` seconds, so quick runs and logs stay clean.
    """

    def __init__(self, *, delay: float = 1.0, stream: object = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._text = ""
        self._started = time.monotonic()
        self._done = 0
        self._total = 0
        self._width = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def phase(self, text: str) -> None:
        """A new phase begins."""
        with self._lock:
            self._text = text
            self._started = time.monotonic()
            self._done = self._total = 0
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="revsim-progress", daemon=True)
            self._thread.start()

    def draws(self, done: int, total: int) -> None:
        """Progress of the current phase in draws."""
        with self._lock:
            self._done, self._total = done, total

    def message(self, text: str) -> None:
        """Print ``text`` on a line of its own (the phase line, if shown, is cleared first and redrawn after)."""
        with self._lock:
            if self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self._width = 0
            self.stream.write(text + "\n")
            self.stream.flush()

    def counter(self, label: str, total: int) -> DrawCounter:
        """A new phase ``label`` whose progress is counted in finished draws (a simulation's ``progress``)."""
        self.phase(label)
        return DrawCounter(self, total)

    def line(self) -> str:
        """The text shown now."""
        with self._lock:
            elapsed = time.monotonic() - self._started
            if self._total <= 0:
                return f"{self._text} ... {elapsed:.0f} s"
            width = 30
            filled = min(width, int(width * self._done / self._total))
            rate = self._done / elapsed if elapsed > 0 else 0.0
            left = f", {(self._total - self._done) / rate:.0f} s left" if rate > 0 else ""
            return (f"{self._text} [{'#' * filled}{'.' * (width - filled)}] {self._done:,}/{self._total:,} draws"
                    f"{left}")

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            if not self._width and time.monotonic() - self._started < self.delay:
                continue
            text = self.line()
            with self._lock:
                pad = max(0, self._width - len(text))
                self._width = len(text)
                self.stream.write("\r" + text + " " * pad)
                self.stream.flush()

    def close(self) -> None:
        """Stop redrawing and clear the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> PhaseDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DrawCounter:
    """Adds finished draws (from any thread) and shows them as the progress of a :class:`PhaseDisplay`'s phase."""

    def __init__(self, display: PhaseDisplay, total: int) -> None:
        self.display = display
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, finished: int) -> None:
        with self._lock:
            self.done += finished
            done = self.done
        self.display.draws(done, self.total)

    def close(self) -> None:
        """Nothing to clear: the display's next phase replaces the line."""
