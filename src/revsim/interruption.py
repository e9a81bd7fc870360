"""Stopping cleanly on Ctrl-C (SIGINT) or SIGTERM: no partial output, previous outputs untouched.

The command line wraps every command in :func:`stop_on_signals`. On SIGINT or SIGTERM it sets :data:`STOP`
(worker threads check it between draws and give up at once) and raises :class:`Interrupted` in the main
thread, which unwinds through the writers: temporary files are removed and nothing is renamed into place.
Long loops of a command that run in the main thread call :func:`check_stop` too, and code that catches
KeyboardInterrupt itself (a sampler that stops early and returns what it has) must call it afterwards, so
that partial work is not written as if complete.
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

__all__ = ["STOP", "Interrupted", "check_stop", "stop_on_signals", "deferred_interruption"]

#: Set when the process was asked to stop; long loops (the engine's draws) check it between steps.
STOP = threading.Event()

_SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)
_state = threading.local()
_received: list[int] = []  # the signal that set STOP, for workers that notice it
_deferred = {"depth": 0, "pending": None}


class Interrupted(KeyboardInterrupt):
    """The process received SIGINT or SIGTERM; the command line exits with 128 + the signal's number.

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
        except ValueError:  # pragma: no cover - only SIGINT and SIGTERM are handled
            return f"signal {self.signum}"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def check_stop() -> None:
    """Raise :class:`Interrupted` if the process was asked to stop (call it between units of work)."""
    if STOP.is_set():
        raise Interrupted(_received[-1] if _received else signal.SIGINT)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` (and set :data:`STOP`) while the block runs.

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
    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}

    def handler(signum: int, frame: object) -> None:
        _received.append(signum)
        STOP.set()
        if _deferred["depth"] > 0:
            _deferred["pending"] = signum
            return
        if len(_received) == 2:  # already stopping: let the clean-up finish
            return
        raise Interrupted(signum)

    for signum in _SIGNALS:
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
