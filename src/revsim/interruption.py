"""Stopping cleanly on Ctrl-C (SIGINT), SIGTERM or SIGHUP: no partial output, previous outputs untouched.

The command line wraps every command in :func:`stop_on_signals`. On SIGINT, SIGTERM or SIGHUP (the terminal
closed) it sets :data:`STOP`
(worker threads check it between draws and give up at once) and raises :class:`Interrupted` in the main
thread, which unwinds through the writers: temporary files are removed and nothing is renamed into place.
Long loops of a command that run in the main thread call :func:`check_stop` too, and code that catches
KeyboardInterrupt itself (a sampler that stops early and returns what it has) runs inside
:func:`stop_checkpoint`, which raises :class:`Interrupted` when the block ends (or fails) after a signal, so
that partial work is never taken for complete work.
The few renames that publish a complete set of outputs run inside :func:`deferred_interruption`, so a signal
that arrives then takes effect only once the set is complete.

Outside the command line (``revsim.simulate`` in a notebook) nothing is installed: Ctrl-C raises Python's
own KeyboardInterrupt as usual.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["STOP", "Interrupted", "check_stop", "stop_checkpoint", "stop_on_signals", "deferred_interruption",
           "HANDLED_SIGNALS"]

#: Set when the process was asked to stop; long loops (the engine's draws) check it between steps.
STOP = threading.Event()

#: The signals that stop a command cleanly: Ctrl-C, ``kill``, and the terminal that started it closing.
HANDLED_SIGNALS = tuple(s for s in (getattr(signal, name, None) for name in ("SIGINT", "SIGTERM", "SIGHUP"))
                        if s is not None)
_state = threading.local()
_received: list[int] = []  # the signal that set STOP, for workers that notice it
_deferred = {"depth": 0, "pending": None}


class Interrupted(KeyboardInterrupt):
    """The process received SIGINT, SIGTERM or SIGHUP; the command line exits with 128 + the signal's number.

    Parameters
    ----------
    signum
        The signal received.
    detail
        What state the outputs were left in, for the message.
    """

    def __init__(self, signum: int = signal.SIGINT, detail: str = "nothing was written") -> None:
        super().__init__(signum)
        self.signum = int(signum)
        self.detail = detail

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:  # pragma: no cover - only the HANDLED_SIGNALS are raised
            return f"signal {self.signum}"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def check_stop() -> None:
    """Raise :class:`Interrupted` if the process was asked to stop (call it between units of work)."""
    if STOP.is_set():
        raise Interrupted(_received[-1] if _received else signal.SIGINT)


@contextmanager
def stop_checkpoint() -> Iterator[None]:
    """Run a phase of work that may swallow an interruption; raise :class:`Interrupted` after it if one came.

    Samplers (nutpie, PyMC) catch KeyboardInterrupt themselves and return the draws made so far, or fail on
    the half-made trace with an error of their own. Inside this block, either outcome becomes
    :class:`Interrupted` once a signal was received, so a stopped phase is never taken for a complete one
    and never ends in a traceback.
    """
    try:
        yield
    except Interrupted:
        raise
    except BaseException:
        check_stop()  # a failure that follows a signal is the signal's doing
        raise
    check_stop()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`Interrupted` (and set :data:`STOP`) while the block runs.

    Only the main thread can install signal handlers; elsewhere the block runs unchanged. The first signal
    raises :class:`Interrupted`; a second one is absorbed, so that it cannot cut short the clean-up (worker
    threads stopping, temporary files removed), and a third raises again. On exit the previous handlers
    are restored and :data:`STOP` is cleared (the code that started worker threads has waited for them).
    """
    if threading.current_thread() is not threading.main_thread() or getattr(_state, "active", False):
        yield
        return
    STOP.clear()
    _received.clear()
    previous = {signum: signal.getsignal(signum) for signum in HANDLED_SIGNALS}

    def handler(signum: int, frame: object) -> None:
        _received.append(signum)
        STOP.set()
        if _deferred["depth"] > 0:
            _deferred["pending"] = signum
            return
        if len(_received) == 2:  # already stopping: let the clean-up finish
            return
        raise Interrupted(signum)

    for signum in HANDLED_SIGNALS:
        if signum == getattr(signal, "SIGHUP", None) and previous[signum] == signal.SIG_IGN:
            continue  # started with nohup: the terminal closing must not stop it
        signal.signal(signum, handler)
    _state.active = True
    try:
        yield
    finally:
        _state.active = False
        for signum, old in previous.items():
            signal.signal(signum, old)
        STOP.clear()


@contextmanager
def deferred_interruption(detail: str = "stopped after the outputs were written") -> Iterator[None]:
    """Hold back an interruption until the block is done (for the renames that publish outputs together).

    A signal received during the block is raised as :class:`Interrupted` with ``detail`` when it ends.
    """
    _deferred["depth"] += 1
    try:
        yield
    finally:
        _deferred["depth"] -= 1
        pending = _deferred["pending"]
        if _deferred["depth"] == 0 and pending is not None:
            _deferred["pending"] = None
            raise Interrupted(pending, detail)
