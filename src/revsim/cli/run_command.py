"""``revsim run``: simulate a scenario, write ``results.nc`` and ``summary.csv``, print a summary."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from revsim.cli.errors import reports_errors

__all__ = ["run"]

OUTPUT_FILES = ["results.nc", "summary.csv"]


@click.command()
@click.argument("scenario", type=click.Path(path_type=str))
@click.option("--draws", "-n", type=click.IntRange(min=1, max=10_000_000), default=1000, show_default=True,
              help="Monte Carlo draws (each samples every uncertain input once).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the run: the same scenario and seed give identical results.")
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output directory [default: out/<scenario name>].")
@click.option("--threads", type=click.IntRange(min=1, max=1024), default=None,
              help="Worker threads [default: all cores]. Results do not depend on it.")
@click.option("--force", is_flag=True, help="Replace results already in the output directory.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@reports_errors
def run(scenario: str, draws: int, seed: int, out_dir: Path | None, threads: int | None, force: bool,
        quiet: bool) -> None:
    """Simulate SCENARIO and write DIR/results.nc (every draw) and DIR/summary.csv (per-month quantiles).

    \b
    Example:
      revsim run scenarios/saas_sales_led.yaml --draws 2000 --seed 7 --out out/sales_led
    """
    from revsim.cli.progress import ProgressBar
    from revsim.engine.compile import compile_scenario
    from revsim.engine.run import check_flags, run_draws
    from revsim.results.dataset import build_dataset
    from revsim.results.output_dir import check_output_dir, write_files
    from revsim.results.summary import summary_table, summary_text
    from revsim.scenario.load import load_scenario

    loaded = load_scenario(scenario)
    out_dir = out_dir or Path("out") / Path(scenario).stem
    check_output_dir(out_dir, OUTPUT_FILES, force=force)
    compiled = compile_scenario(loaded)

    bar = ProgressBar(draws)
    try:
        raw = run_draws(compiled, seed, 0, draws, threads=threads, progress=bar)
    finally:
        bar.close()
    messages = check_flags(compiled, raw)
    command = "revsim " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    ds = build_dataset(compiled, raw, seed=seed, warnings=messages, command=command)
    from revsim.results.invariants import check_invariants

    check_invariants(ds)
    table = summary_table(ds)
    written = write_files(out_dir, {
        "results.nc": lambda path: ds.to_netcdf(path, engine="h5netcdf"),
        "summary.csv": lambda path: table.to_csv(path, index=False, float_format="%.6g"),
    })
    for message in messages:
        click.echo(f"warning: {message}", err=True)
    if not quiet:
        click.echo(summary_text(ds))
        click.echo("wrote " + ", ".join(str(p) for p in written))
