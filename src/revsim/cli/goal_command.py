"""``revsim goal``: the smallest lever setting that reaches a target with a given confidence."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from revsim.cli.errors import EXIT_FAILURE, reports_errors
from revsim.cli.options import OUTPUT_DIR, allow_files_option, echo_notes, load_with_overrides, run_options, set_option

__all__ = ["goal", "GOAL_CSV", "EXIT_UNREACHABLE"]

GOAL_CSV = "goal.csv"
#: Exit code when the target is not reached anywhere in the lever's range (the question has the answer "no").
EXIT_UNREACHABLE = EXIT_FAILURE


@click.command()
@click.argument("scenario", type=click.Path(path_type=str))
@click.option("--lever", "-l", required=True, metavar="NAME",
              help="A lever of the scenario's levers: block, or PATH=CHANGE (retention.smb.churn=-20%).")
@click.option("--target-arr", metavar="AMOUNT", default=None, help="Target ARR, at least this (12M, 250k...).")
@click.option("--target-customers", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Target number of active customers, at least this.")
@click.option("--at", "at", metavar="YYYY-MM", default=None,
              help="Month the target is read [default: the last simulated month].")
@click.option("--confidence", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=0.8,
              show_default=True, help="Probability of reaching the target to find the setting for.")
@click.option("--range", "search_range", nargs=2, type=str, metavar="FROM TO", default=None,
              help="Settings to search, in the lever's unit (0 -60% for a relative lever) [default: the lever's "
                   "range, else no change to three times its change].")
@click.option("--tolerance", type=str, default=None, metavar="STEP",
              help="Stop when the bracket is narrower than this, in the lever's unit [default: the range / 200].")
@click.option("--out", "-o", "out_dir", type=OUTPUT_DIR, default=None, metavar="DIR",
              help="Also write DIR/goal.csv: every setting evaluated, with its probability.")
@click.option("--force", is_flag=True, help="Replace a goal.csv already in the output directory.")
@set_option
@run_options()
@allow_files_option
@reports_errors
def goal(scenario: str, lever: str, target_arr: str | None, target_customers: float | None, at: str | None,
         confidence: float, search_range: tuple[str, str] | None, tolerance: str | None, out_dir: Path | None,
         force: bool, overrides: tuple[str, ...], draws: int, seed: int, threads: int | None, quiet: bool) -> None:
    """Find the smallest setting of a lever of SCENARIO at which ARR (or the customer count) reaches a target
    with the requested confidence.

    Bisection on the lever's setting, every evaluation a full run with the same seed and draws; the answer
    comes with its Monte Carlo error. Exits with 0 when a setting is found (or no change is needed), 1 when
    the target cannot be reached within the lever's range, 2 for bad input.

    \b
    Example:
      revsim goal scenarios/saas_sales_led.yaml --lever churn_down_fifth --target-arr 30M --at 2029-12
    """
    from revsim.errors import InputError
    from revsim.results.output_dir import check_output_dir, write_files
    from revsim.scenario.levers import get_lever, parse_setting
    from revsim.whatif.goal import UNREACHABLE, goal_seek

    loaded = load_with_overrides(scenario, overrides, quiet=quiet)
    step = None
    if tolerance is not None:
        try:
            step = abs(parse_setting(tolerance))
        except ValueError as exc:
            raise InputError.single(str(exc), path=("--tolerance",)) from None
    if out_dir is not None:
        check_output_dir(out_dir, [GOAL_CSV], force=force)

    spec = get_lever(loaded, lever)

    def report(setting: float, probability: float) -> None:
        if not quiet:
            click.echo(f"  setting {spec.change.describe_setting(setting)}: P = {probability:.1%}", err=True)

    result = goal_seek(loaded, spec, target_arr=target_arr, target_customers=target_customers, at=at,
                       confidence=confidence, draws=draws, seed=seed, threads=threads, search_range=search_range,
                       tolerance=step, on_evaluation=report)
    echo_notes(result.notes, quiet=quiet)
    for message in result.warnings:
        click.echo(f"warning: {message}", err=True)
    if out_dir is not None:
        written = write_files(out_dir, {
            GOAL_CSV: lambda path: result.evaluations.to_csv(path, index=False, float_format="%.6g")})
    if not quiet:
        click.echo(result.summary_text())
        if out_dir is not None:
            click.echo("wrote " + ", ".join(str(p) for p in written))
    if result.status == UNREACHABLE:
        sys.exit(EXIT_UNREACHABLE)
