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
@set_option
@run_options()
@out_options("compare")
@allow_files_option
@reports_errors
def compare(base: str, variants: tuple[str, ...], levers: tuple[str, ...], overrides: tuple[str, ...], draws: int,
            seed: int, threads: int | None, quiet: bool, out_dir: Path | None, force: bool) -> None:
    """Compare VARIANTS (scenario files) or levers of BASE with BASE, draw by draw.

    Every run uses the same seed and the same random numbers, so the difference in each draw is the effect
    of the change alone. Writes DIR/compare.csv (per variant and metric: the paired difference's mean,
    P10, P50, P90 and the probability that the variant is better), DIR/compare.png and a results file per
    run. --set applies to every scenario compared.

    \b
    Examples:
      revsim compare scenarios/saas_sales_led.yaml --lever mql_plus_3pts --lever churn_down_fifth
      revsim compare base.yaml more_reps.yaml price_rise.yaml --draws 2000 --out out/what-if
    """
    from revsim.cli.progress import ProgressBar
    from revsim.results.output_dir import check_output_dir
    from revsim.whatif.compare import plan_comparison, run_comparison

    plan = plan_comparison(base, list(variants), levers=list(levers), overrides=list(overrides), source="--set")
    notes = [note for variant in (plan.base, *plan.variants) for note in variant.scenario.notes]
    echo_notes([*notes, *plan.notes], quiet=quiet)
    out_dir = out_dir or default_out_dir(base, "compare")
    check_output_dir(out_dir, plan.output_files, force=force)

    bar = ProgressBar(draws * (1 + len(plan.variants)))
    try:
        result = run_comparison(plan, draws=draws, seed=seed, threads=threads, progress=bar, command=command_line())
    finally:
        bar.close()
    written = result.write(out_dir, force=force)
    for message in result.warnings:
        click.echo(f"warning: {message}", err=True)
    if not quiet:
        click.echo(result.summary_text())
        click.echo("wrote " + ", ".join(str(p) for p in written))
