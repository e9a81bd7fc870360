"""Errors revsim reports to its users.

Every problem a user can cause (a bad scenario, a bad history file, a bad option) is raised as an
:class:`InputError` and ends the command line with exit code 2 and one clear message; problems found while
simulating are :class:`SimulationError` (exit code 1). Anything else is a bug in revsim.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Problem",
    "RevsimError",
    "InputError",
    "SimulationError",
    "DiagnosticsError",
    "format_path",
    "did_you_mean",
]


def format_path(path: Sequence[str | int]) -> str:
    """Render a field path the way users write it: ``funnel.stages[2].conversion``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """Return the closest of ``choices`` to a misspelt ``word``, or None when nothing is close."""
    matches = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what is wrong, and what would fix it."""

    message: str
    path: tuple[str | int, ...] = ()
    line: int | None = None
    column: int | None = None
    suggestion: str | None = None

    def render(self) -> str:
        where = format_path(self.path)
        text = f"{where}: {self.message}" if where else self.message
        if self.line is not None:
            loc = f"line {self.line}" + (f", column {self.column}" if self.column is not None else "")
            text = f"{text} ({loc})"
        if self.suggestion:
            text = f"{text}; did you mean '{self.suggestion}'?"
        return text


class RevsimError(Exception):
    """Base of every error revsim reports to a user; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


@dataclass
class InputError(RevsimError):
    """Bad input: a file, a field or an option that revsim cannot use. Exit code 2.

    Parameters
    ----------
    problems
        Every problem found (revsim reports all of them at once, not just the first).
    file
        The file the problems are in, when there is one.
    """

    problems: list[Problem] = field(default_factory=list)
    file: str | None = None
    exit_code = 2

    @classmethod
    def single(
        cls,
        message: str,
        *,
        file: str | None = None,
        path: Sequence[str | int] = (),
        line: int | None = None,
        column: int | None = None,
        suggestion: str | None = None,
    ) -> InputError:
        """Build an error holding one problem."""
        return cls([Problem(message, tuple(path), line, column, suggestion)], file=file)

    def __str__(self) -> str:
        head = f"{self.file}: " if self.file else ""
        if len(self.problems) == 1:
            return head + self.problems[0].render()
        lines = [f"{head}{len(self.problems)} problems:"]
        lines += [f"  - {p.render()}" for p in self.problems]
        return "\n".join(lines)


class SimulationError(RevsimError):
    """A run that cannot produce trustworthy numbers (NaN, overflow, a broken invariant). Exit code 1."""

    exit_code = 1


class DiagnosticsError(RevsimError):
    """A calibration whose sampler diagnostics failed, where a forecast would rest on it. Exit code 3.

    Raised by ``revsim calibrate`` and ``revsim backtest`` after writing what there is to inspect, and by
    ``revsim run`` for a scenario that reads such a posterior without the user's acceptance.
    """

    exit_code = 3
