"""``revsim calibrate``: learn a scenario's inputs from history with PyMC; write posterior.nc and calibrated.yaml."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from revsim.cli.errors import reports_errors
from revsim.cli.options import OUTPUT_DIR, SEED, allow_files_option

__all__ = ["calibrate"]


def _fewer_collections(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run the command with the garbage collector set as for a calibration
    (:func:`revsim.calibrate.calibration.fewer_collections`) until it has written and printed its results: set
    back in between, its next pass went over everything the calibration had left (0.25 s)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from revsim.calibrate.calibration import fewer_collections

        with fewer_collections():
            return function(*args, **kwargs)

    return wrapper


@click.command()
@click.argument("scenario", required=False, type=click.Path(path_type=str))
@click.option("--history", "-H", "history", multiple=True, required=True, type=click.Path(path_type=str),
              help="A directory holding funnel.csv, cohorts.csv, mrr.csv, referrals.csv (any of them), or the "
                   "files themselves; repeat for several.")
@click.option("--out", "-o", "out_dir", type=OUTPUT_DIR, default=None,
              help="Output directory [default: out/<scenario>_calibrated, or out/calibration].")
@click.option("--sampler", type=click.Choice(["nutpie", "pymc"]), default="nutpie", show_default=True,
              help="nutpie (compiled, fast) or PyMC's own NUTS.")
@click.option("--draws", type=click.IntRange(min=10, max=1_000_000), default=1000, show_default=True,
              help="Posterior draws kept per chain.")
@click.option("--tune", type=click.IntRange(min=10, max=1_000_000), default=1000, show_default=True,
              help="Tuning steps per chain (discarded).")
@click.option("--chains", type=click.IntRange(min=1, max=64), default=4, show_default=True, help="Chains.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the sampler.")
@click.option("--cores", type=click.IntRange(min=1, max=1024), default=None,
              help="Chains sampled at once [default: one per chain, up to the cores available].")
@click.option("--retention", type=click.Choice(["auto", "sbg", "constant", "both"]), default="auto",
              show_default=True,
              help="Retention model: the scenario's (auto; sBG without a scenario), one of them, or both (the "
                   "better one by LOO).")
@click.option("--period-months", type=click.IntRange(min=1, max=120), default=1, show_default=True,
              help="Months per period of cohorts.csv (12 for a table of annual periods).")
@click.option("--accept-diagnostics", is_flag=True,
              help="Write calibrated.yaml even when the sampler's diagnostics fail the gate (R-hat above 1.05, ESS "
                   "of a forecast input below 100, divergences); recorded in its header and in posterior.nc. "
                   "Without it such a calibration exits with code 3 and writes only what is needed to inspect it.")
@click.option("--no-charts", is_flag=True, help="Skip the posterior-predictive charts.")
@click.option("--force", is_flag=True, help="Replace results already in the output directory.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but warnings and errors.")
@allow_files_option
@reports_errors
@_fewer_collections
def calibrate(scenario: str | None, history: tuple[str, ...], out_dir: Path | None, sampler: str, draws: int,
              tune: int, chains: int, seed: int, cores: int | None, retention: str, period_months: int,
              accept_diagnostics: bool, no_charts: bool, force: bool, quiet: bool) -> None:
    """Learn SCENARIO's inputs from history and write DIR/posterior.nc, DIR/calibrated.yaml, DIR/diagnostics.csv
    and posterior-predictive charts. Without SCENARIO, fit what the history supports and list the calibrated
    inputs in DIR/calibrated_inputs.yaml.

    \b
    Example:
      revsim calibrate scenarios/history/northwind.yaml --history scenarios/history --out out/northwind_cal
      revsim run out/northwind_cal/calibrated.yaml
    """
    import gc
    import time

    from revsim.calibrate.calibration import (
        DIAGNOSTICS_FILE,
        INPUTS_FILE,
        POSTERIOR_FILE,
        SCENARIO_FILE,
        calibrate,
    )
    from revsim.cli.progress import PhaseDisplay
    from revsim.calibrate.diagnostics import gate_message
    from revsim.cli import main as main_module
    from revsim.cli.options import command_line
    from revsim.errors import DiagnosticsError
    from revsim.results.output_dir import check_output_dir

    started = time.perf_counter()
    out = out_dir or Path("out") / (f"{Path(scenario).stem}_calibrated" if scenario else "calibration")
    names = [POSTERIOR_FILE, DIAGNOSTICS_FILE, SCENARIO_FILE if scenario else INPUTS_FILE]
    check_output_dir(out, names, force=force)
    with PhaseDisplay() as display:
        result = calibrate(list(history), scenario, sampler=sampler, draws=draws, tune=tune, chains=chains,
                           seed=seed, cores=cores, retention=retention, period_months=period_months, out_dir=out,
                           progress=False, checks=not no_charts, charts_in_background=not no_charts,
                           prior_in_background=True,
                           announce=None if quiet else display.message,
                           display=None if quiet else display,
                           accept_diagnostics=accept_diagnostics, command=command_line())
        if not quiet:
            display.phase("writing the results")
        written = result.write(out, force=force, charts=not no_charts)
    for message in result.warnings:
        click.echo(f"warning: {message}", err=True)
    if result.gate is not None and result.gate.accepted:
        click.echo(f"warning: the diagnostics gate failed ({result.gate.summary()}); {result.scenario_file} was "
                   "written anyway (--accept-diagnostics), and says so in its header", err=True)
    if not quiet:
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        click.echo(summary_text(result, time.perf_counter() - started))
        click.echo("wrote " + ", ".join(str(p) for p in written))
    if main_module.ENDS_AFTER_COMMAND:
        # The process ends after this command: the collector's next passes (set back to Python's thresholds,
        # then the interpreter's last one at exit) would go over every object the calibration left (0.2 s
        # each) only to free memory the process is about to return.
        gc.freeze()
    if not result.forecast_ready:
        raise DiagnosticsError(gate_message(result.gate, withheld=str(out / result.scenario_file),
                                            inspect=[str(out / POSTERIOR_FILE), str(out / DIAGNOSTICS_FILE)]))
    if scenario and not quiet:
        click.echo(f"next: revsim run {out / SCENARIO_FILE}")


def summary_text(result: object, seconds: float) -> str:
    """A few lines: what was fitted, how long it took, and the calibrated values with their 90% intervals."""
    fit = result.fit  # type: ignore[attr-defined]
    table = result.diagnostics  # type: ignore[attr-defined]
    blocks = ", ".join(b.name for b in fit.blocks)
    timing = fit.timings
    lines = [
        f"calibrated {blocks} from {len(fit.history.files)} file(s): {fit.options.chains} chains x "
        f"{fit.options.draws} draws with {fit.options.sampler} in {seconds:.0f} s ({_compiled(fit)} "
        f"{timing.get('compile', 0):.0f} s, sampling {timing.get('sample', 0):.0f} s, prior draws "
        f"{timing.get('prior_draws', 0):.0f} s); {fit.divergences} divergences, "
        f"max r_hat {table.r_hat.max():.3f}, min ESS {table.ess_bulk.min():.0f}",
    ]
    gate = getattr(result, "gate", None)
    if gate is not None:
        lines.append(f"diagnostics gate: {gate.summary()}")
    for text in getattr(result, "weak", []):
        lines.append(f"weakly identified: {text}")
    if fit.retention_choice:
        choice = ", ".join(f"{seg} {model}" for seg, model in fit.retention_choice.items())
        lines.append(f"retention: {choice}")
    shown = {"conversion", "months_in_stage", "volume", "growth", "sbg_alpha", "sbg_beta", "churn",
             "onboarding_success", "acv", "upgrade_probability", "downgrade_probability", "loop_coefficient",
             "expansion_rate", "contraction_rate", "renewal_churn"}
    for row in table.itertuples():
        if row.variable in shown or row.variable.endswith("onboarding_success"):
            label = f"{row.variable}[{row.coords}]" if row.coords else row.variable
            lines.append(f"  {label:<52} {_fmt(row.q50):>10}  (90%: {_fmt(row.q05)} to {_fmt(row.q95)})")
    return "\n".join(lines)


def _compiled(fit: object) -> str:
    """How the model was compiled: ``compile`` (a new structure), ``cached model``..."""
    source = getattr(fit, "compiled_from", "")
    return {"memory": "compiled model reused", "disk": "compiled model from the cache"}.get(source, "compile")


def _fmt(x: float) -> str:
    if abs(x) >= 1e7:
        return f"{x:.3g}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.4g}"
