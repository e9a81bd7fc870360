"""What results.nc keeps: every draw (exact, or float32 when large) or per-month quantiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

import revsim.results.storage as storage
from revsim.cli.main import cli
from revsim.pipeline import simulate
from revsim.results.storage import (
    AUTO_DRAWS_LIMIT,
    STORED_QUANTILES,
    quantile_dataset,
    resolve_keep,
    stored_form,
    write_results,
)
from revsim.results.summary import QUANTILES, summary_table

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "saas_sales_led.yaml"


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return simulate(EXAMPLE, draws=120, seed=11, threads=2)


def test_auto_keeps_draws_of_small_runs_and_quantiles_of_large_ones():
    assert resolve_keep("auto", draws=2000, months=36, segments=3) == "draws"
    assert resolve_keep("auto", draws=10_000, months=120, segments=10) == "quantiles"
    assert resolve_keep("auto", draws=AUTO_DRAWS_LIMIT, months=1, segments=1) == "draws"
    assert resolve_keep("auto", draws=AUTO_DRAWS_LIMIT + 1, months=1, segments=1) == "quantiles"
    assert resolve_keep("draws", draws=10_000, months=120, segments=10) == "draws"
    assert resolve_keep("quantiles", draws=2, months=2, segments=1) == "quantiles"
    with pytest.raises(ValueError):
        resolve_keep("some", draws=1, months=1, segments=1)


def test_quantile_form(ds):
    q = quantile_dataset(ds)
    assert q.attrs["revsim_keep"] == "quantiles"
    assert tuple(q["quantile"].values) == STORED_QUANTILES
    assert q["arr"].dims == ("quantile", "month", "segment")
    assert q["arr_mean"].dims == ("month", "segment")
    assert q["arr_total"].dims == ("quantile", "month")
    assert q["stage_entries"].dims == ("quantile", "month", "segment", "stage")
    assert q["nrr_12m"].dims == ("quantile", "month") and "nrr_12m_total" not in q
    assert q["ltv"].dims == ("quantile",) and q["ltv_mean"].dims == ()
    assert q["arr"].attrs["units"] == ds["arr"].attrs["units"]
    # the sampled inputs keep every draw, and nothing else does
    params = [name for name in ds.data_vars if str(name).startswith("param_")]
    assert params and all(q[name].dims == ("draw",) for name in params)
    xr.testing.assert_identical(q[params[0]], ds[params[0]])
    assert all("draw" not in q[name].dims for name in q.data_vars if not str(name).startswith("param_"))
    # values: the same as computing them by hand, and as summary.csv where both report them
    arr = ds["arr"].sum("segment")
    np.testing.assert_allclose(q["arr_total"].sel(quantile=0.25).values, arr.quantile(0.25, "draw").values)
    np.testing.assert_allclose(q["arr_mean"].values, ds["arr"].mean("draw").values)
    table = summary_table(ds).query("metric == 'arr'")
    for p in QUANTILES:
        np.testing.assert_allclose(q["arr_total"].sel(quantile=p).values, table[f"p{round(p * 100)}"].values)
    # NRR is undefined in the first 11 months: NaN there, defined after
    assert np.isnan(q["nrr_12m"].isel(month=slice(0, 11))).all() and np.isfinite(q["nrr_12m"].isel(month=-1)).all()


def test_small_runs_keep_every_value_exactly(ds, tmp_path):
    path = tmp_path / "results.nc"
    write_results(ds, path, "draws")
    with xr.open_dataset(path, engine="h5netcdf") as back:
        back = back.load()
        encoding = back["arr"].encoding
    assert back.attrs["revsim_keep"] == "draws"
    assert back["arr"].dtype == np.float64 and back["active_customers"].dtype == np.int32
    assert not encoding["zlib"] and encoding["chunksizes"][0] == min(storage.DRAW_CHUNK, ds.sizes["draw"])
    xr.testing.assert_identical(back.drop_attrs(), stored_form(ds, "draws").drop_attrs())
    xr.testing.assert_equal(back, ds)


def test_large_runs_keep_draws_as_float32(ds, tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "AUTO_DRAWS_LIMIT", 100)
    path = tmp_path / "results.nc"
    write_results(ds, path, "draws")
    with xr.open_dataset(path, engine="h5netcdf") as back:
        back = back.load()
        assert back["arr"].encoding["zlib"] and back["arr"].encoding["shuffle"]
    assert back["arr"].dtype == np.float32 and back["nrr_12m"].dtype == np.float32
    assert back["ltv"].dtype == np.float64 and back["param_pricing_smb_acv"].dtype == np.float64
    np.testing.assert_allclose(back["arr"].values, ds["arr"].values, rtol=1e-7)
    xr.testing.assert_identical(back.drop_attrs(), stored_form(ds, "draws").drop_attrs())


def test_quantile_file_reads_back_as_its_stored_form(ds, tmp_path):
    path = tmp_path / "results.nc"
    write_results(ds, path, "quantiles")
    with xr.open_dataset(path, engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), stored_form(ds, "quantiles"))


def test_cli_summary_is_the_same_whatever_is_kept(tmp_path):
    runner = CliRunner()
    outputs = {}
    for keep in ("draws", "quantiles", "auto"):
        out = tmp_path / keep
        result = runner.invoke(cli, ["run", str(EXAMPLE), "--draws", "40", "--seed", "4", "--out", str(out),
                                     "--keep", keep])
        assert result.exit_code == 0, result.output
        outputs[keep] = out
        assert ("keeps per-month quantiles" in result.stdout) == (keep == "quantiles")
    summaries = {keep: (out / "summary.csv").read_bytes() for keep, out in outputs.items()}
    assert summaries["draws"] == summaries["quantiles"] == summaries["auto"]
    for keep, expected in (("draws", "draws"), ("quantiles", "quantiles"), ("auto", "draws")):
        with xr.open_dataset(outputs[keep] / "results.nc", engine="h5netcdf") as ds:
            assert ds.attrs["revsim_keep"] == expected
            assert ("draw" in ds["arr"].dims) == (expected == "draws")
    table = pd.read_csv(outputs["quantiles"] / "summary.csv")
    assert set(table["metric"]) >= {"arr", "active_customers"}


@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "2"], "--workers applies to --backend dask only"),
    (["--chunk-size", "10", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler and --chunk-size apply"),
    (["--backend", "dask", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "give one or the other"),
    (["--backend", "dask", "--threads", "2"], "--threads applies to --backend local"),
])
def test_cli_refuses_backend_options_that_do_not_go_together(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["run", str(EXAMPLE), "--draws", "5", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "x").exists()
