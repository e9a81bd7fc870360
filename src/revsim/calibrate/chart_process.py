"""The posterior-predictive charts drawn by a child process while the calibration goes on.

Drawing the six charts of the worked example takes about 1.2 s of one core and importing matplotlib 0.4 s,
while the second core of a two-core machine sits idle twice: while the calibration imports PyMC and prepares
the model, and once the sampler is done, while it computes the diagnostics, draws the priors and writes
posterior.nc. :func:`start_chart_process` forks a child at the start of a calibration, which imports
matplotlib and waits; :meth:`ChartProcess.draw` sends it the checks once they are computed, and it draws
every chart into a temporary folder and exits. :meth:`BackgroundCharts.writer` copies a finished chart into
the output, or draws it in the calling process when the child failed (where there is no ``fork``, the charts
are drawn as before, when they are written). The files are the same bytes either way (tested).

Once the calibration has written its other files, it has nothing left to do but the charts: it writes them
in reverse order, and draws itself each chart the child has not begun (each chart is claimed, by the child
or the parent, by creating a file), so that the two cores share the last charts instead of one waiting for
the other.

The child only draws (matplotlib's Agg backend) and leaves with ``os._exit``: it runs no exit handlers and
flushes none of the parent's buffers. It leaves when the parent closes the pipe without sending anything
(a calibration that failed, or that has no charts to draw).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from revsim.calibrate.forked_child import can_fork, fork_child, stop_child, wait_child

__all__ = ["ChartProcess", "BackgroundCharts", "start_chart_process", "draw_in_background"]


def start_chart_process() -> ChartProcess | None:
    """Fork the child that will draw the charts (it imports matplotlib meanwhile); None where there is no
    ``fork`` (not Linux) or it failed."""
    if not can_fork():
        return None
    folder = Path(tempfile.mkdtemp(prefix="revsim-charts-"))
    try:
        read_end, write_end = os.pipe()
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return None

    def draw() -> None:  # in the child: draw what the parent sends
        os.close(write_end)
        _draw_from_pipe(read_end, folder)

    pid = fork_child(draw)
    os.close(read_end)
    if pid is None:
        os.close(write_end)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return ChartProcess(pid, folder, write_end)


def _draw_from_pipe(read_end: int, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot  # noqa: F401 - imported while the parent is busy

    from revsim.calibrate.checks import chart_file, draw_check

    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    if not data:  # the parent has nothing to draw
        return
    for check in pickle.loads(data):
        if _claim(folder, check):  # else the parent, done with its own work, is drawing it
            partial = folder / f"{chart_file(check)}.partial"
            draw_check(check, partial)
            os.replace(partial, folder / chart_file(check))


def _claim(folder: Path, check: Any) -> bool:
    """Claim the drawing of ``check``'s chart (for the child or the parent, whichever asks first)."""
    from revsim.calibrate.checks import chart_file

    try:
        os.close(os.open(folder / f"{chart_file(check)}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    except OSError:  # the folder is gone: the parent draws
        return not folder.exists()
    return True


def draw_in_background(checks: list[Any]) -> BackgroundCharts | None:
    """Start a child and have it draw ``checks`` at once (see :func:`start_chart_process`)."""
    process = start_chart_process()
    return process.draw(checks) if process is not None else None


class ChartProcess:
    """A child started by :func:`start_chart_process`, waiting for the checks to draw."""

    def __init__(self, pid: int, folder: Path, write_end: int) -> None:
        self.pid = pid
        self.folder = folder
        self._write_end: int | None = write_end
        self._finalizer = weakref.finalize(self, _clean_up, pid, folder, write_end)

    def draw(self, checks: list[Any]) -> BackgroundCharts | None:
        """Send ``checks`` to the child; the charts it draws (None when there are none or it is gone)."""
        write_end, self._write_end = self._write_end, None
        if write_end is None:
            return None
        self._finalizer.detach()
        drawn = BackgroundCharts(self.pid, self.folder, checks)
        try:
            with os.fdopen(write_end, "wb") as pipe:
                if checks:
                    pipe.write(pickle.dumps(list(checks), protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:  # the child is gone: the charts are drawn by the writer
            pass
        return drawn

    def close(self) -> None:
        """Tell the child there is nothing to draw, collect it and remove its folder."""
        self._write_end = None
        self._finalizer()


class BackgroundCharts:
    """The child drawing the charts, and its folder (both cleaned up once used, or with this object)."""

    def __init__(self, pid: int, folder: Path, checks: list[Any]) -> None:
        self.pid = pid
        self.folder = folder
        self.checks = list(checks)
        self._status: int | None = None
        self._finalizer = weakref.finalize(self, _clean_up, pid, folder, None)

    def wait(self) -> bool:
        """Wait for the child; whether it drew every chart."""
        if self._status is None:
            self._status = 0 if wait_child(self.pid) else -1
        return self._status == 0

    def writer(self, check: Any) -> Callable[[Path], None]:
        """A writer of ``check``'s chart: the child's file; or drawn here when the child has not begun it (the
        child draws the checks in order, so a caller that writes them in reverse order shares the work with
        it) or failed."""
        from revsim.calibrate.checks import chart_file, draw_check

        def write(path: Path) -> None:
            drawn = self.folder / chart_file(check)
            if (any(c is check for c in self.checks) and not _claim(self.folder, check) and self.wait()
                    and drawn.is_file()):
                shutil.copyfile(drawn, path)
            else:
                draw_check(check, path)

        return write

    def close(self) -> None:
        """Wait for the child (killed if still drawing) and remove its folder."""
        self._status = self._status if self._status is not None else -1
        self._finalizer()


def _clean_up(pid: int, folder: Path, write_end: int | None) -> None:
    if write_end is not None:  # nothing was sent
        try:
            os.close(write_end)
        except OSError:
            pass
    stop_child(pid)  # still importing or drawing: not needed any more
    shutil.rmtree(folder, ignore_errors=True)
