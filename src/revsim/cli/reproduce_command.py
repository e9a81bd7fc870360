"""``revsim reproduce``: run a recorded run again from its results file and check every number is the same."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from revsim.cli.errors import reports_errors
from revsim.cli.options import OUTPUT_DIR, allow_files_option

__all__ = ["reproduce"]

OUTPUT_FILES = ["results.nc", "summary.csv"]


@click.command()
@click.argument("results", type=click.Path(path_type=str))
@click.option("--out", "-o", "out_dir", type=OUTPUT_DIR, default=None,
              help="Also write the new results.nc and summary.csv to this directory.")
@click.option("--force", is_flag=True, help="Replace results already in the --out directory.")
@click.option("--from-file", is_flag=True,
              help="Insist on the scenario file: refuse if it changed or is gone, rather than use the copy stored "
                   "in RESULTS.")
@click.option("--threads", type=click.IntRange(min=1, max=1024), default=None,
              help="Worker threads [default: all cores]. Results do not depend on it.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@allow_files_option
@reports_errors
def reproduce(results: str, out_dir: Path | None, force: bool, from_file: bool, threads: int | None,
              quiet: bool) -> None:
    """Run again the run recorded in RESULTS (the output folder of revsim run, or its results.nc or
    results.zarr), with the same scenario, seed and draws, and check that every value is identical.

    The scenario file is used if its hash is the one recorded; otherwise the copy of the scenario stored in
    RESULTS is used (with --from-file, revsim refuses instead). Exits with 0 when the results are reproduced
    exactly, 1 when they differ (each difference is listed), 2 when RESULTS or the scenario cannot be used.

    \b
    Example:
      revsim reproduce out/sales_led/results.nc
    """
    from revsim.cli.progress import ProgressBar
    from revsim.errors import SimulationError
    from revsim.pipeline import run_dataset
    from revsim.results.output_dir import check_output_dir, write_files
    from revsim.results.reading import reading_store
    from revsim.results.reproduce import (as_recorded, compare_results, read_recorded_run, recorded_scenario,
                                          version_changes)
    from revsim.results.storage import write_results
    from revsim.results.summary import summary_table

    run = read_recorded_run(results)
    keep = str(run.attrs.get("revsim_keep", "draws"))  # what the recorded results.nc holds
    if keep not in ("draws", "quantiles"):
        keep = "draws"
    if out_dir is not None:
        check_output_dir(out_dir, OUTPUT_FILES, force=force)
    loaded, source = recorded_scenario(run, from_file=from_file)
    if not quiet:
        click.echo(f"reproducing {results}: '{loaded.name}', {run.draws:,} draws, seed {run.seed}, from {source}")
        for note in loaded.notes:
            click.echo(f"note: {note}", err=True)

    command = "revsim " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    bar = ProgressBar(run.draws)
    try:
        ds, _ = run_dataset(loaded, draws=run.draws, seed=run.seed, threads=threads, progress=bar,
                            cohorts=run.has_cohorts, command=command)
    finally:
        bar.close()
    with reading_store(run.dataset):  # a recorded store is read one variable at a time
        differences = compare_results(run.dataset, as_recorded(ds, run.dataset))

    if out_dir is not None:
        table = summary_table(ds)
        written = write_files(out_dir, {
            "results.nc": lambda path: write_results(ds, path, keep),
            "summary.csv": lambda path: table.to_csv(path, index=False, float_format="%.10g"),
        })
        if not quiet:
            click.echo("wrote " + ", ".join(str(p) for p in written))
    if differences:
        listed = differences[:8]
        more = len(differences) - len(listed)
        lines = [f"{results} was not reproduced: {len(differences)} difference(s)"]
        lines += [f"  - {text}" for text in listed]
        if more:
            lines.append(f"  - ... and {more} more")
        changes = version_changes(run.dataset, ds)
        if changes:
            lines.append(f"  versions changed since the run: {', '.join(changes)}")
        raise SimulationError("\n".join(lines))
    if not quiet:
        click.echo(f"reproduced exactly: every value of the {len(run.dataset.data_vars)} variables is identical "
                   f"(scenario {run.scenario_sha256[:12]}, seed {run.seed}, {run.draws:,} draws)")
