"""``revsim report``: board-ready charts, ``report.pdf`` and ``forecast.xlsx`` from a run's results."""

from __future__ import annotations

from pathlib import Path

import click

from revsim.cli.errors import reports_errors
from revsim.cli.options import OUTPUT_DIR, allow_files_option, results_scenario

__all__ = ["report"]


@click.command()
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--out", "-o", "out_dir", type=OUTPUT_DIR, default=None,
              help="Output directory [default: a 'report' directory in the run's output folder].")
@click.option("--format", "formats", default="png", show_default=True, metavar="FORMATS",
              help="Chart file formats, comma-separated: png, svg, pdf.")
@click.option("--target", "targets", multiple=True, metavar="ARR",
              help="An ARR target at the horizon (20M, 1.5B, 250k), drawn with the share of draws that reach "
                   "it; repeatable. The scenario's targets are always drawn.")
@click.option("--period", "periods", multiple=True, metavar="FROM:TO",
              help="A period for the ARR bridge, like 2028-01:2028-12; repeatable "
                   "[default: the first 12 months and the whole horizon].")
@click.option("--scenario", type=click.Path(path_type=Path), default=None,
              help="The run's scenario file, if it is no longer where the run found it (it must be unchanged).")
@click.option("--force", is_flag=True, help="Replace an earlier report in the output directory.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@allow_files_option
@reports_errors
def report(results: Path, out_dir: Path | None, formats: str, targets: tuple[str, ...], periods: tuple[str, ...],
           scenario: Path | None, force: bool, quiet: bool) -> None:
    """Draw the charts of RESULTS (the output folder of revsim run, or its results.nc or results.zarr) and
    write them with report.pdf and forecast.xlsx: ARR fan chart, ARR bridges, bowtie, retention, NRR and GRR,
    KPI panel, ARR distribution. Results kept as quantiles (--keep quantiles) give the charts quantiles can
    draw; the others are listed as skipped.

    \b
    Example:
      revsim report out/sales_led --format png,svg --target 30M
    """
    from revsim.errors import InputError
    from revsim.report.build import parse_formats, parse_period, write_report
    from revsim.report.results_file import open_results
    from revsim.results.reading import reading_store, run_folder
    from revsim.scenario.distributions import parse_amount

    chart_formats = parse_formats(formats)
    values = []
    for text in targets:
        value = parse_amount(text)
        if value is None or value <= 0:
            raise InputError.single(f"expected an ARR amount like 20M, 1.5B or 250000, got '{text}'",
                                    path=("--target",))
        values.append(value)
    ds = open_results(results, draws=False)
    chosen_periods = [parse_period(ds, text) for text in periods] or None
    linked = results_scenario(ds, scenario)
    out_dir = out_dir or run_folder(results) / "report"
    if not quiet:
        from revsim.plot.targets import arr_target, scenario_targets
        from revsim.report.build import same_goal

        for text, value in zip(targets, values, strict=True):
            if any(same_goal(arr_target(ds, value), known) for known in scenario_targets(ds)):
                click.echo(f"note: --target {text} is already a target of the scenario; it is shown once", err=True)
    with reading_store(ds):
        result = write_report(ds, out_dir, formats=chart_formats, targets=values, periods=chosen_periods,
                              scenario=linked, force=force)
    if not quiet:
        for note in result.notes:
            click.echo(f"note: {note}")
        click.echo(f"wrote {len(result.written)} files to {out_dir}: " + ", ".join(p.name for p in result.written))
