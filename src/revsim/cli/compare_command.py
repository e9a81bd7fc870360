"""``revsim compare``: variants of a scenario on the same random numbers; paired differences per draw."""

from __future__ import annotations

from pathlib import Path

import click

from revsim.cli.errors import reports_errors
from revsim.cli.options import (allow_files_option, command_line, default_out_dir, echo_notes, out_options, run_options,
                               set_option)

__all__ = ["compare"]


@click.command()
@click.argument("base", type=click.Path(path_type=str))
@click.argument("variants", nargs=-1, type=click.Path(path_type=str))
@click.option("--lever", "-l", "levers", multiple=True, metavar="NAME",
              help="A variant: the base with one of its levers applied (repeatable). NAME is a lever of the "
                   "scenario's levers: block, several joined by + (a+b), or PATH=CHANGE (retention.smb.churn=-20%).")
@click.option("--store", type=click.Choice(["auto", "netcdf", "zarr"]), default="auto", show_default=True,
              help="As for revsim run: netcdf holds every run in memory and writes NAME.nc; zarr writes each block "
                   "of draws into NAME.zarr as it is computed and reads the compared metrics back from it chunk "
                   "by chunk; auto: zarr when the runs together would need more than 2 GiB or half the "
                   "available memory.")
@set_option
@run_options()
@out_options("compare")
@allow_files_option
@reports_errors
def compare(base: str, variants: tuple[str, ...], levers: tuple[str, ...], overrides: tuple[str, ...], draws: int,
            seed: int, threads: int | None, quiet: bool, out_dir: Path | None, force: bool, store: str = "auto") -> None:
    """Compare VARIANTS (scenario files) or levers of BASE with BASE, draw by draw.

    Every run uses the same seed and the same random numbers, so the difference in each draw is the effect
    of the change alone. Writes DIR/compare.csv (per variant and metric: the paired difference's mean,
    P10, P50, P90 and the probability that the variant is better), DIR/compare.png and the results of each
    run (DIR/NAME.nc, or DIR/NAME.zarr when streamed: --store). --set applies to every scenario compared.

    \b
    Examples:
      revsim compare scenarios/saas_sales_led.yaml --lever mql_plus_3pts --lever churn_down_fifth
      revsim compare base.yaml more_reps.yaml price_rise.yaml --draws 2000 --out out/what-if
    """
    from revsim.cli.progress import ProgressBar
    from revsim.results.output_dir import check_output_dir
    from revsim.whatif.compare import plan_comparison, write_comparison

    plan = plan_comparison(base, list(variants), levers=list(levers), overrides=list(overrides), source="--set")
    notes = [note for variant in (plan.base, *plan.variants) for note in variant.scenario.notes]
    echo_notes([*notes, *plan.notes], quiet=quiet)
    out_dir = out_dir or default_out_dir(base, "compare")
    check_output_dir(out_dir, plan.output_files, force=force)

    bar = ProgressBar(draws * (1 + len(plan.variants)))
    try:
        result, written = write_comparison(plan, out_dir, draws=draws, seed=seed, threads=threads, store=store,
                                           force=force, progress=bar, command=command_line())
    finally:
        bar.close()
    for message in result.warnings:
        click.echo(f"warning: {message}", err=True)
    if not quiet:
        click.echo(result.summary_text())
        click.echo("wrote " + ", ".join(str(p) for p in written))
