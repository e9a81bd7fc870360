"""The dask backend gives exactly the local results, whatever the number of workers or the chunk size.

One module-scoped ``LocalCluster`` of worker processes on the loopback interface, scaled to one or two
workers; the scenario is small so that the tests take seconds.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from revsim.cli.main import cli
from revsim.engine.compile import compile_scenario
from revsim.engine.run import run_draws
from revsim.errors import InputError
from revsim.results.dataset import build_dataset

distributed = pytest.importorskip("distributed")

from revsim.engine.distributed import (  # noqa: E402
    LOCAL_SCHEDULER_OPTIONS,
    dask_client,
    run_draws_distributed,
)

SEED = 2718
DRAWS = 90


@pytest.fixture(scope="module")
def clients():
    """``clients(n)``: the client of the module's local cluster, scaled to ``n`` worker processes."""
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=logging.ERROR,
                                       scheduler_kwargs=LOCAL_SCHEDULER_OPTIONS)
    client = distributed.Client(cluster)

    def scaled(workers: int):
        if len(client.nthreads()) != workers:
            cluster.scale(workers)
            client.wait_for_workers(workers, timeout=120)
            while len(client.nthreads()) > workers:  # scaling down retires workers
                time.sleep(0.05)
        return client

    yield scaled
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def compiled(example_scenario):
    return compile_scenario(example_scenario)


@pytest.fixture(scope="module")
def example_scenario():
    from revsim.scenario.load import load_scenario

    return load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "saas_sales_led.yaml")


@pytest.fixture(scope="module")
def local(compiled):
    return run_draws(compiled, SEED, 0, DRAWS, threads=2)


def without_run_attrs(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in ("created_at", "command")}
    return ds


@pytest.mark.parametrize(("workers", "chunk_size"), [(1, 25), (2, 7), (2, 64)])
def test_identical_to_the_local_backend(clients, compiled, local, workers, chunk_size):
    raw = run_draws_distributed(compiled, SEED, 0, DRAWS, client=clients(workers), chunk_size=chunk_size)
    for field in dataclasses.fields(raw):
        if field.name != "params":
            np.testing.assert_array_equal(getattr(raw, field.name), getattr(local, field.name), err_msg=field.name)
    xr.testing.assert_identical(without_run_attrs(build_dataset(compiled, raw, seed=SEED)),
                                without_run_attrs(build_dataset(compiled, local, seed=SEED)))


def test_a_range_of_draws_is_the_same_range_of_a_local_run(clients, compiled, local):
    raw = run_draws_distributed(compiled, SEED, 30, 75, client=clients(2), chunk_size=10)
    assert raw.params.start == 30 and raw.params.stop == 75
    np.testing.assert_array_equal(raw.money, local.money[30:75])
    np.testing.assert_array_equal(raw.params.seg_par, local.params.seg_par[30:75])


def test_progress_counts_every_draw(clients, compiled):
    done = []
    run_draws_distributed(compiled, SEED, 0, 40, client=clients(2), chunk_size=15, progress=done.append)
    assert sorted(done) == [10, 15, 15]


def test_inputs_the_model_cannot_use_are_reported_before_any_task(clients, make_scenario):
    scenario = make_scenario(channels=[{"name": "web", "volume": 10, "growth": {"dist": "normal", "mean": -0.5,
                                                                                 "sd": 1.0}}])
    with pytest.raises(InputError, match="growth"):
        run_draws_distributed(compile_scenario(scenario), SEED, 0, 50, client=clients(2))


def test_cli_runs_on_a_running_scheduler(clients, tmp_path):
    scheduler = clients(2).scheduler.address
    scenario = str(Path(__file__).resolve().parents[2] / "scenarios" / "saas_sales_led.yaml")
    runner = CliRunner()
    common = ["run", scenario, "--draws", "60", "--seed", "3", "--quiet"]
    result = runner.invoke(cli, [*common, "--out", str(tmp_path / "dask"), "--backend", "dask", "--scheduler",
                                 scheduler, "--chunk-size", "16"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, [*common, "--out", str(tmp_path / "local"), "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "dask").iterdir()) == ["results.zarr", "summary.csv"]  # streamed
    with xr.open_zarr(tmp_path / "dask" / "results.zarr") as a, \
            xr.open_dataset(tmp_path / "local" / "results.nc", engine="h5netcdf") as b:
        a, b = a.load(), b.load()
        assert a.attrs.pop("revsim_store") == "zarr"
        for name in b.variables:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=str(name))
        assert without_run_attrs(a).attrs == without_run_attrs(b).attrs
    assert (tmp_path / "dask" / "summary.csv").read_bytes() == (tmp_path / "local" / "summary.csv").read_bytes()
    result = runner.invoke(cli, [*common, "--out", str(tmp_path / "held"), "--backend", "dask", "--scheduler",
                                 scheduler, "--store", "netcdf"])
    assert result.exit_code == 0, result.output
    with xr.open_dataset(tmp_path / "held" / "results.nc", engine="h5netcdf") as a, \
            xr.open_dataset(tmp_path / "local" / "results.nc", engine="h5netcdf") as b:
        xr.testing.assert_identical(without_run_attrs(a.load()), without_run_attrs(b.load()))


def test_unreachable_scheduler_is_an_input_error():
    with pytest.raises(InputError, match="cannot reach the dask scheduler"):
        with dask_client(scheduler="tcp://127.0.0.1:9", timeout=1):
            pass


def test_missing_dask_is_explained(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(InputError, match=r"pip install 'dask\[distributed\]'"):
        with dask_client(workers=1):
            pass


def test_a_task_runs_the_parameters_it_is_given(compiled, local, monkeypatch):
    """Workers use the parameters drawn where the run started: they never draw them again (nor read files)."""
    from revsim.engine import distributed as backend

    def refuse(*args, **kwargs):
        raise AssertionError("a task drew the parameters again")

    params = backend._slice(local.params, 20, 35)
    monkeypatch.setattr(type(compiled), "draw_parameters", refuse)
    outputs = backend._run_chunk(compiled, SEED, params)
    np.testing.assert_array_equal(outputs["money"], local.money[20:35])
    np.testing.assert_array_equal(params.seg_par, local.params.seg_par[20:35])
    assert params.inputs.keys() == local.params.inputs.keys()


# ------------------------------------------------------------------------------------------ streamed runs


@pytest.mark.parametrize(("workers", "chunk_size"), [(1, 25), (2, 7)])
def test_a_streamed_run_on_dask_holds_the_local_run(clients, compiled, workers, chunk_size, tmp_path):
    """Each task writes its block into the store from its worker: the store holds the local in-memory run."""
    from test_streaming import assert_store_matches

    from revsim.pipeline import Backend, run_dataset, run_store

    scheduler = clients(workers).scheduler.address
    store = tmp_path / "results.zarr"
    run_store(compiled, store, draws=DRAWS, seed=SEED, cohorts=True, command="revsim run",
              backend=Backend("dask", scheduler=scheduler, chunk_size=chunk_size))
    ds, _ = run_dataset(compiled, draws=DRAWS, seed=SEED, threads=2, cohorts=True, command="revsim run")
    assert_store_matches(store, ds)
    with xr.open_zarr(store) as streamed:
        assert streamed.chunks["draw"][0] == chunk_size


def test_a_streamed_run_on_dask_sends_no_posterior_samples(clients, tmp_path):
    """A posterior scenario streamed on dask: the workers get the scenario without its samples, and the run
    is the local one."""
    from test_streaming import _posterior_scenario, assert_store_matches

    from revsim.pipeline import Backend, run_dataset, run_store

    compiled = compile_scenario(_posterior_scenario(tmp_path, 40_000))
    store = tmp_path / "results.zarr"
    run_store(compiled, store, draws=30, seed=SEED, backend=Backend("dask", scheduler=clients(2).scheduler.address,
                                                                    chunk_size=8))
    ds, _ = run_dataset(compiled, draws=30, seed=SEED, threads=1)
    assert_store_matches(store, ds)
