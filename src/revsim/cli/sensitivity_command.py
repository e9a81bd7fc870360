"""``revsim sensitivity``: rank the uncertain inputs by their influence on ARR; tornado chart."""

from __future__ import annotations

from pathlib import Path

import click

from revsim.cli.errors import reports_errors
from revsim.cli.options import (allow_files_option, default_out_dir, echo_notes, load_with_overrides, out_options,
                               run_options, set_option)

__all__ = ["sensitivity"]


@click.command()
@click.argument("scenario", type=click.Path(path_type=str))
@click.option("--top", type=click.IntRange(min=1), default=None,
              help="Tornado runs for the N inputs with the largest rank correlation only [default: every input].")
@click.option("--at", "at", metavar="YYYY-MM", default=None,
              help="Explain ARR in this month [default: the last simulated month].")
@click.option("--no-tornado", is_flag=True, help="Rank correlations and regression only: one run.")
@set_option
@run_options()
@out_options("sensitivity")
@allow_files_option
@reports_errors
def sensitivity(scenario: str, top: int | None, at: str | None, no_tornado: bool, overrides: tuple[str, ...],
                draws: int, seed: int, threads: int | None, quiet: bool, out_dir: Path | None, force: bool) -> None:
    """Rank every uncertain input of SCENARIO by its influence on ARR at the horizon.

    One run gives each input's rank correlation with ARR and its standardized rank regression coefficient;
    then, for the tornado, two runs per input with that input fixed at its P10 and at its P90 and every
    other input drawn as before (the same seed and draws). Writes DIR/sensitivity.csv and DIR/tornado.png.

    \b
    Example:
      revsim sensitivity scenarios/saas_sales_led.yaml --draws 1000 --top 8
    """
    from revsim.cli.progress import ProgressBar
    from revsim.results.output_dir import check_output_dir
    from revsim.whatif.sensitivity import CHART_NAME, CSV_NAME, tornado_inputs
    from revsim.whatif.sensitivity import sensitivity as analyse

    loaded = load_with_overrides(scenario, overrides, quiet=quiet)
    out_dir = out_dir or default_out_dir(scenario, "sensitivity")
    check_output_dir(out_dir, [CSV_NAME, CHART_NAME], force=force)
    runs = 1 + (0 if no_tornado else 2 * tornado_inputs(loaded, top))
    bar = ProgressBar(draws * runs)
    try:
        result = analyse(loaded, draws=draws, seed=seed, threads=threads, at=at, top=top, tornado=not no_tornado,
                         progress=bar)
    finally:
        bar.close()
    written = result.write(out_dir, force=force)
    echo_notes(result.notes, quiet=quiet)
    for message in result.warnings:
        click.echo(f"warning: {message}", err=True)
    if not quiet:
        click.echo(result.summary_text())
        click.echo("wrote " + ", ".join(str(p) for p in written))
