"""``revsim kpis``: team KPIs, targets, AARRR and the North Star of a run, printed and written as CSV."""

from __future__ import annotations

from pathlib import Path

import click

from revsim.cli.errors import reports_errors
from revsim.cli.options import OUTPUT_DIR, allow_files_option, results_scenario

__all__ = ["kpis"]

KPIS_CSV = "kpis.csv"
TARGETS_CSV = "targets.csv"
AARRR_CSV = "aarrr.csv"
NORTH_STAR_CSV = "north_star.csv"
DRIVERS_CSV = "north_star_drivers.csv"
DRIVERS_CHART = "north_star_drivers.png"


@click.command()
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--team", "teams", multiple=True, metavar="TEAM",
              help="Only this team's KPIs: marketing, marketing_to_sales, sales, sales_to_success, "
                   "customer_success, finance (repeatable, or comma-separated) [default: all].")
@click.option("--period", default="year", show_default=True, metavar="month|quarter|year",
              help="The periods KPIs are read over: months, fiscal quarters or fiscal years.")
@click.option("--fiscal-year-start", default=None, metavar="MONTH",
              help="The month fiscal years start in (1-12 or a name: April) [default: the scenario's "
                   "kpis.fiscal_year_start, else January].")
@click.option("--out", "-o", "out_dir", type=OUTPUT_DIR, default=None,
              help="Output directory [default: a 'kpis' directory in the run's output folder].")
@click.option("--drivers", is_flag=True,
              help="Also measure each North Star input's contribution with paired runs of the run's scenario "
                   "(one run per input, same seed and draws).")
@click.option("--scenario", type=click.Path(path_type=Path), default=None,
              help="The run's scenario file, if it is no longer where the run found it (it must be unchanged).")
@click.option("--force", is_flag=True, help="Replace earlier KPI files in the output directory.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@allow_files_option
@reports_errors
def kpis(results: Path, teams: tuple[str, ...], period: str, fiscal_year_start: str | None, out_dir: Path | None,
         drivers: bool, scenario: Path | None, force: bool, quiet: bool) -> None:
    """Team KPIs of RESULTS (the output folder of revsim run, or its results.nc or results.zarr): marketing, the hand-offs, sales, customer success
    and finance, per month, fiscal quarter or fiscal year, with each target's probability, the AARRR view and
    the North Star. Prints a table and writes kpis.csv (and targets.csv, aarrr.csv, north_star.csv).

    \b
    Example:
      revsim kpis out/sales_led/results.nc --period quarter --team sales
      revsim kpis out/sales_led/results.nc --fiscal-year-start April --drivers
    """
    from revsim.errors import InputError
    from revsim.report.results_file import open_results
    from revsim.results.reading import reading_store, run_folder
    from revsim.results.output_dir import check_output_dir, write_files
    from revsim.revops.aarrr import aarrr
    from revsim.revops.compute import check_period_kind, check_teams, run_kpis
    from revsim.revops.north_star import driver_tree, north_star
    from revsim.revops.targets import evaluate_targets
    from revsim.revops.text import aarrr_text, drivers_text, kpi_long_table, kpi_text, north_star_text, target_lines

    kind = check_period_kind(period)
    chosen = check_teams(teams)
    ds = open_results(results)
    linked = results_scenario(ds, scenario)
    with reading_store(ds):  # the per-draw totals are read from a store here, chunk by chunk
        run = run_kpis(ds, scenario=linked, fiscal_year_start=fiscal_year_start)
    star = north_star(run)
    if drivers and star is None:
        raise InputError.single("--drivers needs a North Star: the scenario names none (kpis: north_star:)",
                                path=("--drivers",))
    out_dir = out_dir or run_folder(results) / "kpis"
    names = [KPIS_CSV, AARRR_CSV, TARGETS_CSV, NORTH_STAR_CSV, DRIVERS_CSV, DRIVERS_CHART]
    check_output_dir(out_dir, names, force=force)

    table = run.table(kind, chosen)
    view = aarrr(run, kind)
    report = evaluate_targets(run)
    tree = None
    if drivers:
        from revsim.cli.progress import ProgressBar

        bar = ProgressBar(ds.sizes["draw"] * len(star.inputs)) if not quiet else None  # type: ignore[union-attr]
        try:
            tree = driver_tree(run, progress=bar)
        finally:
            if bar is not None:
                bar.close()
    writers = {KPIS_CSV: lambda path: kpi_long_table(table).to_csv(path, index=False, float_format="%.10g"),
               AARRR_CSV: lambda path: kpi_long_table(_with_team(view, "aarrr")).to_csv(
                   path, index=False, float_format="%.10g")}
    if report.targets:
        writers[TARGETS_CSV] = lambda path: report.table().to_csv(path, index=False, float_format="%.10g")
    if star is not None:
        writers[NORTH_STAR_CSV] = lambda path: kpi_long_table(_with_team(star.table, "north_star")).to_csv(
            path, index=False, float_format="%.10g")
    if tree is not None:
        from revsim.plot import style
        from revsim.revops.charts import driver_tree_chart

        with style.offscreen():
            figure = driver_tree_chart(tree, ds)
        writers[DRIVERS_CSV] = lambda path: tree.table.to_csv(path, index=False, float_format="%.6g")
        writers[DRIVERS_CHART] = lambda path: figure.savefig(path, format="png", dpi=style.DPI,
                                                             metadata={"Software": None})
    stale = [name for name in names if name not in writers and (out_dir / name).exists()]
    written = write_files(out_dir, writers)
    for name in stale:  # files of an earlier call this one does not write (replaced with --force)
        (out_dir / name).unlink(missing_ok=True)
    if quiet:
        return
    click.echo(kpi_text(table))
    click.echo("")
    click.echo(aarrr_text(view))
    if report.targets:
        click.echo("")
        click.echo("\n".join(target_lines(report, run.currency)))
    if star is not None:
        click.echo("")
        click.echo(north_star_text(star, run.currency))
    if tree is not None:
        click.echo("")
        click.echo(drivers_text(tree))
    click.echo("wrote " + ", ".join(str(p) for p in written))


def _with_team(table, team: str):  # type: ignore[no-untyped-def]
    """A table of another view with the attributes ``kpis.csv`` rows need (team, kind, label)."""
    table = table.copy()
    for name in table.data_vars:
        attrs = table[name].attrs
        attrs.setdefault("team", team)
        attrs.setdefault("kind", "rate" if attrs.get("units") == "ratio" else "")
        attrs.setdefault("units", "")
    return table
