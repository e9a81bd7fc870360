"""Options shared by several commands (``--set``, the run options of the what-if commands), and the loading
of a scenario with its ``--set`` overrides. Imports click only; the rest loads when a command runs."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.load import LoadedScenario

__all__ = ["set_option", "run_options", "out_options", "apply_cli_overrides", "load_with_overrides", "echo_notes",
           "command_line", "default_out_dir"]

F = TypeVar("F", bound=Callable[..., Any])

SET_HELP = ("Change a value of the scenario, as PATH=VALUE (repeatable): a dotted path through the file "
            "(funnel.stages.mql.conversion, retention.smb.churn, channels.inbound.volume) and a value written as "
            "in the file (0.32, [0.01, 0.02], 12k, '{dist: beta, mean: 0.3, sd: 0.02}').")


def set_option(function: F) -> F:
    """``--set PATH=VALUE`` (repeatable), passed as ``overrides``."""
    return click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=SET_HELP)(function)


def run_options(default_draws: int = 1000) -> Callable[[F], F]:
    """``--draws``, ``--seed``, ``--threads`` and ``--quiet``, as ``revsim run`` has them."""

    def decorate(function: F) -> F:
        for option in reversed([
            click.option("--draws", "-n", type=click.IntRange(min=1, max=10_000_000), default=default_draws,
                         show_default=True, help="Monte Carlo draws of every run (the same draws in each)."),
            click.option("--seed", type=SEED, default=0, show_default=True,
                         help="Seed of every run: the same seed gives every run the same random numbers."),
            click.option("--threads", type=click.IntRange(min=1, max=1024), default=None,
                         help="Worker threads [default: all cores]. Results do not depend on it."),
            click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors."),
        ]):
            function = option(function)
        return function

    return decorate


def _allow_files(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> None:
    """Allow the directories for the rest of the command (undone when its context closes)."""
    if not value:
        return
    from revsim.scenario.file_access import allow_files

    manager = allow_files(value)
    manager.__enter__()
    ctx.call_on_close(lambda: manager.__exit__(None, None, None))


def allow_files_option(function: F) -> F:
    """``--allow-files DIR`` (repeatable): files a scenario may read besides those in its own folder."""
    return click.option("--allow-files", "allow_files", multiple=True, metavar="DIR", expose_value=False,
                        type=click.Path(file_okay=False, path_type=Path), callback=_allow_files,
                        help="A directory whose files the scenario may read (empirical samples, posteriors) "
                             "besides its own folder; repeatable. Also REVSIM_ALLOW_FILES.")(function)


#: Seeds are stored in results files as 64-bit integers.
MAX_SEED = 2**63 - 1
#: The type of every ``--seed`` option.
SEED = click.IntRange(min=0, max=MAX_SEED)


class OutputDirectory(click.Path):
    """A ``--out`` directory: a path, never the empty string (which would name the current directory)."""

    def __init__(self) -> None:
        super().__init__(path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path names no directory; give a directory (. for the current one)", param, ctx)
        return super().convert(value, param, ctx)


#: The type of every ``--out`` option.
OUTPUT_DIR = OutputDirectory()


def out_options(what: str) -> Callable[[F], F]:
    """``--out DIR`` and ``--force``."""

    def decorate(function: F) -> F:
        function = click.option("--force", is_flag=True,
                                help="Replace results already in the output directory.")(function)
        return click.option("--out", "-o", "out_dir", type=OUTPUT_DIR, default=None, metavar="DIR",
                            help=f"Output directory [default: out/<scenario name>-{what}].")(function)

    return decorate


def default_out_dir(scenario: str, what: str) -> Path:
    return Path("out") / f"{Path(scenario).stem}-{what}"


def command_line() -> str:
    """The command as typed, for the results' provenance."""
    return "revsim " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def echo_notes(notes: list[str], *, quiet: bool) -> None:
    if not quiet:
        for note in dict.fromkeys(notes):
            click.echo(f"note: {note}", err=True)


def apply_cli_overrides(loaded: LoadedScenario, overrides: tuple[str, ...], *, quiet: bool = False) -> LoadedScenario:
    """The scenario with its ``--set`` overrides applied (validated like the file); notes go to stderr."""
    from revsim.scenario.overrides import override_scenario

    if not overrides:
        return loaded
    changed, notes = override_scenario(loaded, list(overrides), source="--set")
    echo_notes(notes, quiet=quiet)
    return changed


def load_with_overrides(scenario: str, overrides: tuple[str, ...], *, quiet: bool = False) -> LoadedScenario:
    """Load a scenario file and apply its ``--set`` overrides; print the notes of the files it reads."""
    from revsim.scenario.load import load_scenario

    loaded = load_scenario(scenario)
    if not quiet:
        for note in loaded.notes:
            click.echo(f"note: {note}", err=True)
    return apply_cli_overrides(loaded, overrides, quiet=quiet)


def results_scenario(ds: Any, scenario: Path | None) -> LoadedScenario | None:
    """The scenario given with ``--scenario`` for a results file (None when not given), refused unless it is the
    one the results were made from (its content's hash, when the results record it)."""
    if scenario is None:
        return None
    from revsim.errors import InputError
    from revsim.scenario.load import load_scenario

    linked = load_scenario(scenario)
    expected = ds.attrs.get("scenario_sha256")
    if expected and linked.sha256 != expected:
        raise InputError.single("is not the scenario these results were made from (its content differs)",
                                file=str(scenario), path=("--scenario",))
    return linked
