"""``revsim compare --store zarr``: every run streamed into its store, the metrics read back chunk by chunk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from dask.callbacks import Callback

from revsim.cli.main import cli
from revsim.results.reading import open_results
from revsim.whatif.compare import plan_comparison, write_comparison

DRAWS = 30
CHUNK = 7  # does not divide the draws: the last chunk holds 2


class TaskResults(Callback):
    """The shapes of the arrays every dask task computes (reading a store lazily runs dask tasks)."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def _posttask(self, key, result, dsk, state, worker_id) -> None:  # noqa: ANN001
        if isinstance(result, np.ndarray):
            self.shapes.append(result.shape)


def test_a_streamed_comparison_gives_the_numbers_of_one_held_in_memory(funnel_scenario, tmp_path) -> None:
    plan = plan_comparison(funnel_scenario, levers=["mql_up", "churn_down"])
    held, held_files = write_comparison(plan, tmp_path / "netcdf", draws=DRAWS, seed=3, store="netcdf")
    streamed, files = write_comparison(plan, tmp_path / "zarr", draws=DRAWS, seed=3, store="zarr", chunk_size=CHUNK)
    assert sorted(p.name for p in held_files) == ["base.nc", "churn_down.nc", "compare.csv", "compare.png",
                                                  "mql_up.nc"]
    assert sorted(p.name for p in files) == ["base.zarr", "churn_down.zarr", "compare.csv", "compare.png",
                                             "mql_up.zarr"]
    assert sorted(p.name for p in (tmp_path / "zarr").iterdir()) == sorted(p.name for p in files)  # no .partial
    assert (tmp_path / "netcdf" / "compare.csv").read_bytes() == (tmp_path / "zarr" / "compare.csv").read_bytes()
    pd.testing.assert_frame_equal(held.table, streamed.table, check_exact=True)
    for name in ("base", "mql_up", "churn_down"):
        for metric in held.metrics:
            assert np.array_equal(held.values[name][metric.name], streamed.values[name][metric.name],
                                  equal_nan=True), (name, metric.name)
        ds = open_results(tmp_path / "zarr" / f"{name}.zarr")
        assert ds["arr"].chunks[0] == (7, 7, 7, 7, 2)  # read lazily, one chunk of draws at a time
        assert ds.attrs["variant"] == name and ds.attrs["variant_base"] == "base"
        assert ds["arr"].equals(held.datasets[name]["arr"])
        assert streamed.datasets[name]["arr"].chunks is not None  # the result's Datasets: the stores in place


def test_the_metrics_are_read_from_the_stores_without_loading_a_whole_variable(funnel_scenario, tmp_path) -> None:
    """Every array computed while reading the stores holds at most one metric's months of every draw (the
    12-month churn window), never a variable's every month: a reader that loaded the store would compute
    ``arr`` whole (draws x 18 months x segments)."""
    plan = plan_comparison(funnel_scenario, levers=["mql_up"])
    with TaskResults() as tasks:
        write_comparison(plan, tmp_path / "out", draws=DRAWS, seed=1, store="zarr", chunk_size=CHUNK)
    assert tasks.shapes, "the stores were not read through dask"
    assert max(int(np.prod(shape)) for shape in tasks.shapes) <= DRAWS * 12
    assert all(18 not in shape for shape in tasks.shapes)


def test_an_interrupted_streamed_comparison_leaves_nothing(funnel_scenario, tmp_path, monkeypatch) -> None:
    import revsim.pipeline

    real = revsim.pipeline.run_store
    calls = []

    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(revsim.pipeline, "run_store", interrupted)
    plan = plan_comparison(funnel_scenario, levers=["mql_up"])
    with pytest.raises(KeyboardInterrupt):
        write_comparison(plan, tmp_path / "out", draws=DRAWS, store="zarr")
    assert len(calls) == 2 and not (tmp_path / "out").exists()


def test_the_command_streams_with_store_zarr_and_replaces_the_other_form(funnel_data, write_scenario,
                                                                         tmp_path) -> None:
    funnel_data["levers"] = funnel_data["levers"][:1]
    scenario = write_scenario(funnel_data, "base.yaml")
    lever = funnel_data["levers"][0]["name"]
    out = tmp_path / "cmp"
    common = ["compare", str(scenario), "--lever", lever, "--draws", str(DRAWS), "--threads", "2", "--out", str(out)]
    runner = CliRunner()
    held = runner.invoke(cli, [*common, "--store", "netcdf", "-q"])
    assert held.exit_code == 0, held.output
    held_table = (out / "compare.csv").read_bytes()
    refused = runner.invoke(cli, [*common, "--store", "zarr"])
    assert refused.exit_code == 2 and "--force" in refused.output
    streamed = runner.invoke(cli, [*common, "--store", "zarr", "--force"])
    assert streamed.exit_code == 0, streamed.output
    assert "base.zarr" in streamed.output and "P(better)" in streamed.output
    assert (out / "compare.csv").read_bytes() == held_table
    assert sorted(p.name for p in out.iterdir()) == ["base.zarr", "compare.csv", "compare.png", f"{lever}.zarr"]
    assert open_results(out / f"{lever}.zarr").sizes["draw"] == DRAWS
    again = runner.invoke(cli, [*common, "--store", "netcdf", "--force", "-q"])  # the stores give way to files
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in out.iterdir()) == ["base.nc", "compare.csv", "compare.png", f"{lever}.nc"]
    bad = runner.invoke(cli, [*common, "--store", "hdf5"])
    assert bad.exit_code == 2


def test_a_large_streamed_comparison_keeps_float64_so_its_numbers_stay_exact(funnel_scenario, tmp_path,
                                                                             monkeypatch) -> None:
    """A large streamed run stores money and ratios as float32; compare's stores keep float64, so a run large
    enough to stream gives the table of the same runs held in memory (the size limit lowered to this run)."""
    import revsim.results.storage

    monkeypatch.setattr(revsim.results.storage, "AUTO_DRAWS_LIMIT", 100)
    plan = plan_comparison(funnel_scenario, levers=["churn_down"])
    held, _ = write_comparison(plan, tmp_path / "netcdf", draws=DRAWS, seed=2, store="netcdf")
    streamed, _ = write_comparison(plan, tmp_path / "zarr", draws=DRAWS, seed=2, store="zarr", chunk_size=CHUNK)
    assert streamed.datasets["base"]["arr"].dtype == np.float64
    pd.testing.assert_frame_equal(held.table, streamed.table, check_exact=True)


def test_auto_streams_when_the_runs_held_together_would_not_fit(funnel_scenario, monkeypatch) -> None:
    """``auto`` asks revsim run's test about every run's draws at once: a comparison held in memory holds
    every run."""
    import revsim.engine.memory as memory
    from revsim.engine.compile import compile_scenario
    from revsim.whatif.compare import comparison_streams

    plan = plan_comparison(funnel_scenario, levers=["mql_up", "churn_down"])
    one_run, _ = memory.run_bytes(compile_scenario(funnel_scenario), 1000, cohorts=False)
    monkeypatch.setattr(memory, "available_bytes", lambda: None)
    monkeypatch.setattr(memory, "STREAM_ABOVE_BYTES", 2 * one_run)  # one run fits, three do not
    assert comparison_streams(plan, "auto", draws=1000)
    assert not comparison_streams(plan, "auto", draws=600)  # three runs of 600 draws fit
    assert not comparison_streams(plan, "netcdf", draws=1000) and comparison_streams(plan, "zarr", draws=10)
    with pytest.raises(ValueError, match="store"):
        comparison_streams(plan, "hdf5", draws=10)


def test_a_store_the_device_cannot_take_is_named_as_compare_writes_it(funnel_scenario, tmp_path, monkeypatch) -> None:
    """The room check names the comparison's store (``base.zarr``), not its temporary name nor results.zarr."""
    import shutil

    from revsim.errors import InputError

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: type(real(path))(real(path).total, real(path).total - 1, 1))
    plan = plan_comparison(funnel_scenario, levers=["mql_up"])
    with pytest.raises(InputError) as raised:
        write_comparison(plan, tmp_path / "out", draws=DRAWS, seed=1, store="zarr", chunk_size=CHUNK)
    message = str(raised.value)
    assert " free, and base.zarr of 30 draws needs at least " in message, message
    left = sorted(p.name for p in (tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else []
    assert not [name for name in left if name.endswith((".zarr", ".partial", ".csv", ".png"))], left
