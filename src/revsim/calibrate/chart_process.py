"""The posterior-predictive charts drawn by a child process while the calibration goes on.

Drawing the six charts of the worked example (matplotlib's import included) takes about 1.5 s of one core,
and the calibration's last steps (diagnostics, prior draws, writing posterior.nc) about as long on the other
core, which sits idle once the sampler is done. :func:`draw_in_background` forks a child that draws every
chart into a temporary folder and exits; :meth:`BackgroundCharts.writer` copies a finished chart into the
output, or draws it in the calling process when the child failed (or where there is no ``fork``: the charts
are then drawn as before, when they are written). The files are the same bytes either way (tested).

The child only draws (matplotlib's Agg backend) and leaves with ``os._exit``: it runs no exit handlers and
flushes none of the parent's buffers.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["BackgroundCharts", "draw_in_background"]


def draw_in_background(checks: list[Any]) -> BackgroundCharts | None:
    """Start drawing ``checks`` in a child process; None where a child cannot be forked (not Linux)."""
    if not checks or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return None
    from revsim.calibrate.checks import chart_file

    folder = Path(tempfile.mkdtemp(prefix="revsim-charts-"))
    try:
        pid = os.fork()
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    if pid == 0:  # the child: draw, then leave without running anything of the parent's
        status = 1
        try:
            from revsim.calibrate.checks import draw_check

            for check in checks:
                draw_check(check, folder / chart_file(check))
            status = 0
        finally:
            os._exit(status)
    return BackgroundCharts(pid, folder, checks)


class BackgroundCharts:
    """The child drawing the charts, and its folder (both cleaned up once used, or with this object)."""

    def __init__(self, pid: int, folder: Path, checks: list[Any]) -> None:
        self.pid = pid
        self.folder = folder
        self.checks = list(checks)
        self._status: int | None = None
        self._finalizer = weakref.finalize(self, _clean_up, pid, folder)

    def wait(self) -> bool:
        """Wait for the child; whether it drew every chart."""
        if self._status is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self._status = os.waitstatus_to_exitcode(status)
            except ChildProcessError:  # pragma: no cover - already collected
                self._status = -1
        return self._status == 0

    def writer(self, check: Any) -> Callable[[Path], None]:
        """A writer of ``check``'s chart: the child's file, or drawn here when the child failed."""
        from revsim.calibrate.checks import chart_file, draw_check

        def write(path: Path) -> None:
            drawn = self.folder / chart_file(check)
            if any(c is check for c in self.checks) and self.wait() and drawn.is_file():
                shutil.copyfile(drawn, path)
            else:
                draw_check(check, path)

        return write

    def close(self) -> None:
        """Wait for the child (killed if still drawing) and remove its folder."""
        self._status = self._status if self._status is not None else -1
        self._finalizer()


def _clean_up(pid: int, folder: Path) -> None:
    import signal

    try:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):  # still drawing: not needed any more
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError, OSError):
        pass
    shutil.rmtree(folder, ignore_errors=True)
