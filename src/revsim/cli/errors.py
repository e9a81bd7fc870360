"""How the command line reports errors: one message on stderr, an exit code, never a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["reports_errors", "EXIT_INPUT", "EXIT_FAILURE", "EXIT_DIAGNOSTICS", "EXIT_INTERRUPTED"]

EXIT_INPUT = 2
EXIT_FAILURE = 1
#: A calibration failed its sampler diagnostics (see revsim.errors.DiagnosticsError).
EXIT_DIAGNOSTICS = 3
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Wrap a command body: revsim's errors become a message and their exit code (2 for bad input).

    SIGINT and SIGTERM stop the command with exit code 130 or 143 (see :mod:`revsim.interruption`).
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from revsim.errors import RevsimError
        from revsim.interruption import Interrupted, stop_on_signals
        from revsim.printable import printable
        from revsim.results.output_claim import command_scope

        try:
            with stop_on_signals(), command_scope():  # signals stop it cleanly; its --out is its own
                return command(*args, **kwargs)
        except RevsimError as exc:
            click.echo(f"error: {printable(str(exc))}", err=True)  # file names and values may hold escapes
            sys.exit(exc.exit_code)
        except Interrupted as exc:
            click.echo(f"interrupted by {exc.signal_name}: {exc.detail}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: nothing was written", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except MemoryError:  # not the input's fault: the machine ran out of memory
            click.echo("error: out of memory; nothing was written (fewer draws, --keep quantiles, --no-cohorts, "
                       "or a machine with more memory)", err=True)
            sys.exit(EXIT_FAILURE)

    return wrapper  # type: ignore[return-value]
