"""``revsim run``: simulate a scenario, write ``results.nc`` (or stream ``results.zarr``) and ``summary.csv``,
print a summary."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click

from revsim.cli.errors import reports_errors
from revsim.cli.options import OUTPUT_DIR, SEED, allow_files_option, set_option

__all__ = ["run", "default_run_dir"]

OUTPUT_FILES = ["results.nc", "results.zarr", "summary.csv"]
#: The folder of ``--report``, inside the output directory; replaced with the results it describes.
REPORT_FOLDER = "report"


def default_run_dir(scenario: str, overrides: tuple[str, ...] = ()) -> Path:
    """``out/<scenario file name>``; a run changed with ``--set`` goes to a directory of its own,
    ``out/<name>-set-<8 hex digits of the changes>``, so that it never meets the unchanged run's results."""
    stem = Path(scenario).stem
    if not overrides:
        return Path("out") / stem
    import hashlib

    digest = hashlib.sha256("\n".join(overrides).encode("utf-8")).hexdigest()[:8]
    return Path("out") / f"{stem}-set-{digest}"


@click.command()
@click.argument("scenario", type=click.Path(path_type=str))
@click.option("--draws", "-n", type=click.IntRange(min=1, max=10_000_000), default=1000, show_default=True,
              help="Monte Carlo draws (each samples every uncertain input once).")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of the run: the same scenario and seed give identical results.")
@click.option("--out", "-o", "out_dir", type=OUTPUT_DIR, default=None,
              help="Output directory [default: out/<scenario file name>; with --set, "
                   "out/<scenario file name>-set-<hash of the changes>].")
@click.option("--threads", type=click.IntRange(min=1, max=1024), default=None,
              help="Worker threads [default: all cores]. Results do not depend on it.")
@click.option("--force", is_flag=True, help="Replace results already in the output directory.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--report", "with_report", is_flag=True,
              help="Also write the charts, report.pdf and forecast.xlsx into DIR/report (as revsim report).")
@click.option("--keep", type=click.Choice(["auto", "draws", "quantiles"]), default="auto", show_default=True,
              help="What results.nc stores: every draw (compressed float32 above 1,000,000 draws x months x "
                   "segments), or per-month quantiles and means (with every draw of the sampled inputs); auto "
                   "keeps draws up to that size. summary.csv is the same either way.")
@click.option("--store", type=click.Choice(["auto", "netcdf", "zarr"]), default="auto", show_default=True,
              help="netcdf: hold the run in memory and write results.nc; zarr: write each block of draws into "
                   "results.zarr as it is computed (every draw, memory of a few blocks); auto: zarr on dask or "
                   "when the run would need more than 2 GiB or half the available memory, unless --keep "
                   "quantiles.")
@click.option("--cohorts/--no-cohorts", default=None,
              help="Keep every cohort's customers and ARR by age (for the retention heatmap) [default: when the "
                   "run is small: draws x months^2 x segments up to 10 million].")
@click.option("--backend", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Run the draws on this machine's threads, or on a dask.distributed cluster. Results do not "
                   "depend on it.")
@click.option("--workers", type=click.IntRange(min=1, max=4096), default=None,
              help="With --backend dask: worker processes of a local cluster [default: all cores].")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="With --backend dask: a running scheduler (tcp://HOST:8786) instead of a local cluster.")
@click.option("--chunk-size", type=click.IntRange(min=1, max=10_000_000), default=None,
              help="With --backend dask: draws per task [default: 256]. Results do not depend on it.")
@click.option("--accept-diagnostics", is_flag=True,
              help="Forecast even from a posterior.nc whose calibration failed its sampler diagnostics (otherwise "
                   "refused with exit code 3); recorded in results.nc.")
@set_option
@allow_files_option
@reports_errors
def run(scenario: str, draws: int, seed: int, out_dir: Path | None, threads: int | None, force: bool,
        quiet: bool, with_report: bool = False, keep: str = "auto", store: str = "auto", backend: str = "local",
        workers: int | None = None, scheduler: str | None = None, chunk_size: int | None = None,
        overrides: tuple[str, ...] = (), cohorts: bool | None = None, accept_diagnostics: bool = False) -> None:
    """Simulate SCENARIO and write DIR/results.nc (every draw, or per-month quantiles of big runs: --keep) or,
    for runs streamed to disk as they are computed (--store), DIR/results.zarr (every draw); and
    DIR/summary.csv (per-month quantiles).

    \b
    Example:
      revsim run scenarios/saas_sales_led.yaml --draws 2000 --seed 7 --out out/sales_led
      revsim run scenarios/saas_sales_led.yaml --draws 100000 --backend dask --workers 8
    """
    from revsim.cli.progress import ProgressBar
    from revsim.engine.distributed import check_backend_options
    from revsim.engine.compile import compile_scenario
    from revsim.errors import InputError
    from revsim.pipeline import Backend, run_dataset, streams
    from revsim.results.output_dir import check_output_dir, write_files
    from revsim.results.storage import resolve_keep, write_results
    from revsim.results.summary import summary_table, summary_text
    from revsim.results.zarr_store import STORE_NAME
    from revsim.scenario.load import load_scenario

    check_backend_options(backend, workers=workers, scheduler=scheduler, chunk_size=chunk_size, threads=threads)
    loaded = load_scenario(scenario)
    if overrides:  # --set PATH=VALUE, validated like the file; results record the changed scenario
        from revsim.cli.options import apply_cli_overrides

        loaded = apply_cli_overrides(loaded, overrides, quiet=quiet)
    if not quiet:
        for note in loaded.notes:  # what was accepted in the files it reads (decimal commas, encodings...)
            click.echo(f"note: {note}", err=True)
    from revsim.scenario.posterior_diagnostics import check_posterior_diagnostics, diagnostics_attribute

    for message in check_posterior_diagnostics(loaded, accept=accept_diagnostics):  # refuses failed calibrations
        click.echo(f"warning: {message}", err=True)
    out_dir = out_dir or default_run_dir(scenario, overrides)
    check_output_dir(out_dir, [*OUTPUT_FILES, REPORT_FOLDER], force=force)
    if with_report:  # refuse an earlier report before the wait, as for the results
        from revsim.report.build import check_report_dir

        check_report_dir(out_dir / REPORT_FOLDER, force=force)
    command = "revsim " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    compiled = compile_scenario(loaded)
    run_backend = Backend(backend, workers, scheduler, chunk_size)
    if store == "zarr" and keep == "quantiles":
        raise InputError.single("--keep quantiles writes results.nc from a run held in memory; a streamed run "
                                "(--store zarr) keeps every draw in results.zarr: leave out one of them",
                                path=("--keep",))
    streamed = keep != "quantiles" and streams(store, compiled, draws=draws, cohorts=cohorts, backend=run_backend)
    verdicts = diagnostics_attribute(loaded)
    bar = ProgressBar(draws)
    if streamed:
        attrs = None if verdicts is None else {"calibration_diagnostics": verdicts}
        ds, messages, written = _stream(out_dir, compiled, draws=draws, seed=seed, threads=threads, bar=bar,
                                        cohorts=cohorts, backend=run_backend, command=command, attrs=attrs)
        kept = "draws"
    else:
        try:
            ds, messages = run_dataset(compiled, draws=draws, seed=seed, threads=threads, progress=bar,
                                       cohorts=cohorts, backend=run_backend, command=command)
        finally:
            bar.close()
        if verdicts is not None:
            ds.attrs["calibration_diagnostics"] = verdicts
        table = summary_table(ds)  # from every draw, whatever results.nc keeps
        kept = resolve_keep(keep, draws=draws, months=ds.sizes["month"], segments=ds.sizes["segment"])
        written = write_files(out_dir, {
            "results.nc": lambda path: write_results(ds, path, kept),
            "summary.csv": lambda path: table.to_csv(path, index=False, float_format="%.10g"),
        }, replaces=[REPORT_FOLDER, STORE_NAME])  # an earlier run's report describes other results: removed
    for message in messages:
        click.echo(f"warning: {message}", err=True)
    if not quiet:
        click.echo(summary_text(ds, scenario=loaded))
        click.echo("wrote " + ", ".join(str(p) for p in written))
        if kept == "quantiles":
            click.echo("results.nc keeps per-month quantiles and means, not every draw (--keep draws for all)")
    if with_report:
        from revsim.report.build import write_report

        report = write_report(ds, out_dir / REPORT_FOLDER, scenario=loaded, force=force)
        if not quiet:
            for note in report.notes:
                click.echo(f"note: {note}")
            click.echo(f"wrote {len(report.written)} report files to {out_dir / REPORT_FOLDER}")


def _stream(out_dir: Path, compiled: Any, *, bar: Any, attrs: dict[str, object] | None, **options: Any
            ) -> tuple[Any, list[str], list[Path]]:
    """Stream the run into ``out_dir/results.zarr`` and write ``summary.csv`` from it, both renamed into place
    together; return the store (opened lazily), the runaway warnings and the written paths."""
    from revsim.pipeline import run_store
    from revsim.results.output_dir import write_files
    from revsim.results.summary import summary_table
    from revsim.results.reading import open_results
    from revsim.results.zarr_store import STORE_NAME

    done: dict[str, Any] = {}

    def write_store(path: Path) -> None:
        path.unlink()  # the store is a directory in place of the temporary file
        try:
            done["run"] = run_store(compiled, path, progress=bar, attrs=attrs, **options)
        finally:
            bar.close()
        done["path"] = path

    def write_summary(path: Path) -> None:
        # the store opened lazily: the summary reads each metric's totals one chunk of draws at a time
        with open_results(done["path"]) as results:
            summary_table(results).to_csv(path, index=False, float_format="%.10g")

    written = write_files(out_dir, {STORE_NAME: write_store, "summary.csv": write_summary},
                          replaces=[REPORT_FOLDER, "results.nc"])  # an earlier run's results and report
    return open_results(out_dir / STORE_NAME), done["run"].warnings, written
