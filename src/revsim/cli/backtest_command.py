"""``revsim backtest``: calibrate on the history before one or several cuts, forecast the months after each, and
score the forecasts."""

from __future__ import annotations

from pathlib import Path

import click

from revsim.cli.errors import reports_errors

__all__ = ["backtest"]


@click.command()
@click.argument("scenario", type=click.Path(path_type=str))
@click.option("--history", "-H", "history", multiple=True, required=True, type=click.Path(path_type=str),
              help="A directory holding the history files (funnel.csv, cohorts.csv, mrr.csv, referrals.csv), or "
                   "the files themselves.")
@click.option("--holdout", type=click.IntRange(min=1, max=120), required=True,
              help="Months at the end of the history held out: calibrated without them, then forecast.")
@click.option("--origins", type=click.IntRange(min=1, max=120), default=1, show_default=True,
              help="Cuts of the history (rolling origins): each is calibrated on what precedes it and forecast "
                   "HOLDOUT months; the scores are averaged over them.")
@click.option("--spacing", type=click.IntRange(min=1, max=120), default=None,
              help="Months between consecutive cuts [default: half the holdout, closer when the history is short].")
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output directory [default: out/<scenario>_backtest].")
@click.option("--sampler", type=click.Choice(["nutpie", "pymc"]), default="nutpie", show_default=True)
@click.option("--draws", type=click.IntRange(min=10, max=1_000_000), default=500, show_default=True,
              help="Posterior draws kept per chain.")
@click.option("--tune", type=click.IntRange(min=10, max=1_000_000), default=500, show_default=True,
              help="Tuning steps per chain.")
@click.option("--chains", type=click.IntRange(min=1, max=64), default=4, show_default=True)
@click.option("--simulation-draws", type=click.IntRange(min=10, max=1_000_000), default=1000, show_default=True,
              help="Monte Carlo draws of the forecast.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--cores", type=click.IntRange(min=1, max=1024), default=None,
              help="Chains sampled at once [default: one per chain, up to the cores available].")
@click.option("--retention", type=click.Choice(["auto", "sbg", "constant", "both"]), default="auto",
              show_default=True, help="Retention model (see revsim calibrate --help).")
@click.option("--period-months", type=click.IntRange(min=1, max=120), default=1, show_default=True,
              help="Months per period of cohorts.csv.")
@click.option("--force", is_flag=True, help="Replace results already in the output directory.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but warnings and errors.")
@reports_errors
def backtest(scenario: str, history: tuple[str, ...], holdout: int, origins: int, spacing: int | None,
             out_dir: Path | None, sampler: str, draws: int, tune: int, chains: int, simulation_draws: int, seed: int,
             cores: int | None, retention: str, period_months: int, force: bool, quiet: bool) -> None:
    """Calibrate SCENARIO on the history without its last HOLDOUT months, forecast them from the company as it
    was at the cut, and score ARR, new customers and churned ARR against naive baselines (last value, linear
    trend, seasonal naive): coverage of the 50/80/90% intervals, CRPS, MAPE of the median and the PIT. With
    --origins K, K cuts SPACING months apart are each calibrated and forecast, and the scores are averaged
    over them, per month ahead. Writes DIR/backtest.csv, DIR/backtest_summary.csv (per month ahead),
    DIR/backtest_pit.csv, DIR/backtest_diagnostics.csv, DIR/backtest.png and DIR/backtest_scores.png.

    \b
    Examples:
      revsim backtest scenarios/history/northwind.yaml --history scenarios/history --holdout 6
      revsim backtest scenarios/history/northwind.yaml --history scenarios/history --holdout 6 --origins 6
    """
    from revsim.calibrate.backtest import OUTPUT_FILES, backtest as run_backtest
    from revsim.cli.progress import PhaseDisplay
    from revsim.results.output_dir import check_output_dir

    out = out_dir or Path("out") / f"{Path(scenario).stem}_backtest"
    check_output_dir(out, OUTPUT_FILES, force=force)
    with PhaseDisplay() as display:  # one line on a terminal: the origin, its phase, and a bar of draws
        result = run_backtest(scenario, list(history), holdout, origins=origins, spacing=spacing, sampler=sampler,
                              draws=draws, tune=tune, chains=chains, seed=seed, cores=cores, retention=retention,
                              period_months=period_months, simulation_draws=simulation_draws,
                              announce=None if quiet else display.message,
                              progress=None if quiet else display.counter,
                              display=None if quiet else display)
        if not quiet:
            display.phase("writing the results")
        written = result.write(out, force=force)
    for origin in result.origins:
        prefix = f"origin {origin.cut}: " if result.origin_count > 1 else ""
        for message in origin.warnings:
            click.echo(f"warning: {prefix}{message}", err=True)
    if quiet:
        return
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(result.summary_text())
    click.echo("wrote " + ", ".join(str(p) for p in written))
