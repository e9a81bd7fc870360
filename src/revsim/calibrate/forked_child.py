"""Work done by a forked child process on the core a calibration leaves idle (Linux only).

A calibration hands three kinds of work to children: compiling the log density's other parts while it
compiles the first (:mod:`revsim.calibrate.nutpie_entry`), drawing the priors while it prepares the model
(:mod:`revsim.calibrate.identification`) and drawing the charts (:mod:`revsim.calibrate.chart_process`).
Each child is forked with :func:`fork_child`, does its work, writes its result where the parent will look
for it (numba's cache, a file, a folder) and leaves with ``os._exit``: it runs none of the parent's exit
handlers and flushes none of its buffers, and its exit status says whether the work finished. The parent
collects it with :func:`wait_child`, or :func:`stop_child` when the work is no longer needed. Where there
is no ``fork`` (not Linux) the work is done in the calling process by the caller instead.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Callable

__all__ = ["can_fork", "fork_child", "wait_child", "stop_child"]


def can_fork() -> bool:
    """Whether work can go to a forked child here (Linux; other systems' ``fork`` is unsafe with threads)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def fork_child(work: Callable[[], object]) -> int | None:
    """Run ``work`` in a forked child; its process id, or None where there is no ``fork`` or it failed.

    The child's warnings are not shown (the parent reports what matters) and it exits with status 0 when
    ``work`` returned, 1 when it raised.
    """
    if not can_fork():
        return None
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: work, then leave without running anything of the parent's
        status = 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                work()
            status = 0
        finally:
            os._exit(status)
    return pid


def wait_child(pid: int) -> bool:
    """Wait for the child to finish; whether its work did (False if it was collected already)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return False
    return os.waitstatus_to_exitcode(status) == 0


def stop_child(pid: int) -> None:
    """Kill the child if it is still working, and collect it."""
    try:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):  # still running: its work is not needed any more
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError, OSError):
        pass
