"""Reading a run's results.zarr store (lazily, chunk by chunk) gives what the same run gives in memory."""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from revsim.cli.main import cli
from revsim.errors import InputError
from revsim.pipeline import simulate
from revsim.results.quantile_sketch import DEFAULT_BINS
from revsim.results.reading import open_results
from revsim.results.storage import STORED_QUANTILES, quantile_dataset, write_store
from revsim.results.summary import summary_table, summary_text
from revsim.revops.targets import target_report

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "saas_sales_led.yaml"
DRAWS = 300
CHUNK = 128  # does not divide the draws: the last chunk is short


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[xr.Dataset, Path]:
    """A run in memory, and its output folder holding it as results.zarr (chunks of 128 draws)."""
    ds = simulate(EXAMPLE, draws=DRAWS, seed=17, threads=2)
    folder = tmp_path_factory.mktemp("streamed")
    write_store(ds, folder / "results.zarr", draw_chunk=CHUNK)
    return ds, folder


def _copy(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(folder, target)
    return target


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


# --------------------------------------------------------------------------------------------- opening


def test_a_store_opens_lazily_in_chunks_of_draws(run) -> None:
    ds, folder = run
    for path in (folder, folder / "results.zarr"):
        lazy = open_results(path)
        assert lazy["arr"].chunks is not None and lazy["arr"].chunks[0] == (128, 128, 44)
        assert lazy.attrs["revsim_store"] == "zarr" and lazy.attrs["revsim_keep"] == "draws"
        assert lazy.encoding["source"] == str((folder / "results.zarr").resolve())
    xr.testing.assert_equal(open_results(folder)["arr"].load(), ds["arr"])


def test_a_results_file_is_read_into_memory(run, tmp_path: Path) -> None:
    ds, _ = run
    ds.to_netcdf(tmp_path / "results.nc", engine="h5netcdf")
    opened = open_results(tmp_path)
    assert opened["arr"].chunks is None
    xr.testing.assert_equal(opened["arr"], ds["arr"])


@pytest.mark.parametrize("case", ["missing", "empty folder", "both forms", "not netcdf", "not a store"])
def test_what_is_not_results_is_refused_naming_it(run, tmp_path: Path, case: str) -> None:
    _, folder = run
    path = tmp_path / "x"
    expected = {"missing": "no such file or folder", "empty folder": "is a folder without results.nc or results.zarr",
                "both forms": "holds both results.nc and results.zarr", "not netcdf": "cannot be read as a netCDF",
                "not a store": "cannot be read as a Zarr results store"}[case]
    if case == "empty folder":
        path.mkdir()
    elif case == "both forms":
        path = _copy(folder, tmp_path)
        (path / "results.nc").write_bytes(b"x")
    elif case == "not netcdf":
        path = tmp_path / "results.nc"
        path.write_text("not netCDF")
    elif case == "not a store":
        path.mkdir()
        (path / "zarr.json").write_text("{not json")
    with pytest.raises(InputError, match=expected) as info:
        open_results(path)
    assert info.value.file == str(path)


def test_a_store_missing_a_chunk_is_refused(run, tmp_path: Path) -> None:
    _, folder = run
    copy = _copy(folder, tmp_path)
    chunk = sorted(glob.glob(str(copy / "results.zarr" / "arr" / "c" / "1" / "*" / "*")))[0]
    Path(chunk).unlink()
    with pytest.raises(InputError, match="incomplete Zarr store: arr has 2 of 3 chunks"):
        open_results(copy)
    for command in ("report", "kpis", "reproduce"):
        result = invoke(command, copy, "--out", tmp_path / command)
        assert result.exit_code == 2, result.output
        assert str(copy / "results.zarr") in result.stderr and "Traceback" not in result.output
        assert not (tmp_path / command).exists()


def test_a_damaged_chunk_exits_2_naming_the_store(run, tmp_path: Path) -> None:
    _, folder = run
    copy = _copy(folder, tmp_path)
    chunk = sorted(glob.glob(str(copy / "results.zarr" / "arr" / "c" / "1" / "*" / "*")))[0]
    with open(chunk, "r+b") as handle:
        handle.truncate(40)
    for command in ("report", "kpis", "reproduce"):
        result = invoke(command, copy, "--out", tmp_path / command)
        assert result.exit_code == 2, result.output
        assert "a chunk of the Zarr store cannot be read" in result.stderr
        assert str(copy / "results.zarr") in result.stderr and "Traceback" not in result.output
        assert not (tmp_path / command).exists()


# --------------------------------------------------------------------------------------------- summaries


def test_summaries_from_a_store_are_those_of_the_run_in_memory(run) -> None:
    ds, folder = run
    lazy = open_results(folder)
    pd.testing.assert_frame_equal(summary_table(lazy), summary_table(ds))
    assert summary_text(lazy) == summary_text(ds)
    memory, stored = target_report(ds), target_report(lazy)
    assert memory.targets and [t.probability for t in stored.targets] == [t.probability for t in memory.targets]
    assert stored.joint == memory.joint
    pd.testing.assert_frame_equal(stored.table(), memory.table())


def test_the_quantile_form_of_a_store_is_within_the_sketchs_bound(run) -> None:
    """Means and per-month quantiles of totals are exact; per-segment, stage and cohort quantiles are within
    one bin width of the exact ones: (max - min) / bins, and for whole numbers one bin's last value."""
    ds, folder = run
    exact, sketched = quantile_dataset(ds), quantile_dataset(open_results(folder))
    assert set(sketched.data_vars) == set(exact.data_vars)
    assert sketched.attrs == {**exact.attrs, "revsim_quantiles": "sketch", "revsim_draw_chunk": CHUNK}
    checked = 0
    for name in exact.data_vars:
        a, b = exact[name], sketched[name]
        assert a.dims == b.dims, name
        if "quantile" not in a.dims or set(a.dims) <= {"quantile", "month"}:
            np.testing.assert_allclose(b.values, a.values, rtol=1e-12, atol=1e-9, err_msg=name)
            continue
        source = ds[name.removesuffix("_total")]
        if name.endswith("_total"):
            source = source.sum("segment")
        values = np.asarray(source.transpose("draw", *a.dims[1:]).values, dtype=float)
        with np.errstate(invalid="ignore"):
            span = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
        bound = np.ceil((span + 1) / DEFAULT_BINS) - 1 if source.dtype.kind in "iu" else span / DEFAULT_BINS
        error = np.abs(b.values - a.values)
        assert np.array_equal(np.isnan(a.values), np.isnan(b.values)), name
        assert np.all(np.nan_to_num(error) <= np.nan_to_num(bound) * (1 + 1e-9) + 1e-9 * np.abs(np.nan_to_num(
            a.values))), name
        checked += 1
    assert checked >= 10  # arr, mrr, leads, stage and cohort variables...
    assert tuple(sketched["quantile"].values) == STORED_QUANTILES


# --------------------------------------------------------------------------------------------- commands


def test_kpis_of_a_store_are_those_of_its_results_nc(run, tmp_path: Path) -> None:
    ds, folder = run
    (tmp_path / "nc").mkdir()
    ds.to_netcdf(tmp_path / "nc" / "results.nc", engine="h5netcdf")
    from_file = invoke("kpis", tmp_path / "nc", "--quiet")
    from_store = invoke("kpis", _copy(folder, tmp_path), "--quiet", "--period", "year")
    assert from_file.exit_code == 0 and from_store.exit_code == 0, from_store.output
    for name in ("kpis.csv", "targets.csv", "aarrr.csv"):
        assert (tmp_path / "nc" / "kpis" / name).read_text() == (tmp_path / "run" / "kpis" / name).read_text()


def test_reproduce_compares_a_new_run_with_the_store(run, tmp_path: Path) -> None:
    ds, folder = run
    scenario = tmp_path / "scenario.yaml"
    shutil.copy(EXAMPLE, scenario)
    ran = invoke("run", scenario, "--draws", 60, "--seed", 3, "--out", tmp_path / "nc", "--quiet")
    assert ran.exit_code == 0, ran.output
    recorded = open_results(tmp_path / "nc")
    write_store(recorded, tmp_path / "store" / "results.zarr", draw_chunk=25)
    same = invoke("reproduce", tmp_path / "store")
    assert same.exit_code == 0, same.output
    assert "reproduced exactly" in same.output
    edited = open_results(tmp_path / "nc")
    edited["new_customers"][3, 2, 0] += 1
    write_store(edited, tmp_path / "edited" / "results.zarr", draw_chunk=25)
    differs = invoke("reproduce", tmp_path / "edited")
    assert differs.exit_code == 1, differs.output
    assert "new_customers: 1 of" in differs.stderr


def test_reproduce_summarises_a_new_run_as_a_sketched_quantile_file_was(run, tmp_path: Path) -> None:
    """A results.nc of quantiles written from a store (as a streamed --keep quantiles run writes it) is
    reproduced exactly: the new run is summarised from chunks of the same size."""
    from revsim.results.write_errors import write_netcdf

    scenario = tmp_path / "scenario.yaml"
    shutil.copy(EXAMPLE, scenario)
    ran = invoke("run", scenario, "--draws", 70, "--seed", 5, "--out", tmp_path / "nc", "--quiet")
    assert ran.exit_code == 0, ran.output
    write_store(open_results(tmp_path / "nc"), tmp_path / "store" / "results.zarr", draw_chunk=32)
    (tmp_path / "q").mkdir()
    write_netcdf(quantile_dataset(open_results(tmp_path / "store")), tmp_path / "q" / "results.nc")
    result = invoke("reproduce", tmp_path / "q")
    assert result.exit_code == 0, result.output
    assert "reproduced exactly" in result.output


def test_compare_reads_its_metrics_from_a_store_as_from_memory(run) -> None:
    from revsim.scenario.load import load_scenario
    from revsim.whatif.compare import comparison_metrics

    ds, folder = run
    lazy = open_results(folder)
    for metric in comparison_metrics(load_scenario(EXAMPLE)):
        np.testing.assert_array_equal(metric.values(lazy), metric.values(ds), err_msg=metric.name)


def test_the_store_size_bound_holds_and_is_not_loose(tmp_path: Path) -> None:
    """store_bytes bounds the disk space of a written store (uncompressed chunks in whole disk blocks), and the
    store takes more than the share of it below which a run is refused."""
    from revsim.engine.compile import compile_scenario
    from revsim.engine.run import RawResults
    from revsim.pipeline import run_store
    from revsim.results.dataset import build_dataset
    from revsim.results.zarr_store import SMALLEST_COMPRESSED_SHARE, store_bytes
    from revsim.scenario.load import load_scenario

    compiled = compile_scenario(load_scenario(Path(__file__).parents[2] / "scenarios" / "saas_sales_led.yaml"))
    store = tmp_path / "results.zarr"
    run_store(compiled, store, draws=300, seed=3, threads=2, cohorts=False)
    chunk = int(xr.open_zarr(store)["arr"].encoding["chunks"][0])
    sample = build_dataset(compiled, RawResults.zeros(compiled, compiled.draw_parameters(3, 0, 1), cohorts=False),
                           seed=3, provenance=False)
    bound = store_bytes(sample, draws=300, chunk=chunk, large=False)
    on_disk = sum(p.stat().st_blocks * 512 for p in [store, *store.rglob("*")])  # files and folders, as du
    assert SMALLEST_COMPRESSED_SHARE * bound < on_disk <= bound, (on_disk, bound)
