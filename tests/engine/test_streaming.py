"""A streamed run (results.zarr written block by block) holds exactly what the run held in memory holds.

Variable by variable, with block sizes that do not divide the draws, on one thread or two; the dask
backend's streamed runs are in test_distributed.py (they share its cluster). Also: a task's payload does not
grow with the posterior file's size, and a large run's store keeps the ``--keep draws`` float32 form.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from posterior_scenarios import posterior_scenario

from revsim.engine.compile import compile_scenario
from revsim.pipeline import Backend, run_dataset, run_store, streams
from revsim.results.storage import stored_form
from revsim.results.reading import open_results
from revsim.results.zarr_store import STORE_ATTRS, create_store, write_block
from revsim.scenario.load import scenario_from_dict

SEED = 99
DRAWS = 53

#: Attributes that differ between two runs of the same scenario and seed.
RUN_ATTRS = ("created_at", "command")


def assert_store_matches(store: Path, ds: xr.Dataset) -> None:
    """The store at ``store`` holds ``ds`` (a run held in memory): every variable, coordinate and attribute."""
    with open_results(store) as lazy:
        chunks = lazy.chunks["draw"]  # blocks of one size (the last one shorter)
        assert set(chunks[:-1]) <= {chunks[0]} and chunks[-1] <= chunks[0]
        streamed = lazy.load()
    assert set(streamed.data_vars) == set(ds.data_vars)
    assert set(streamed.coords) == set(ds.coords)
    for name in ds.variables:
        expected, got = ds[name].variable, streamed[name].variable
        assert got.dims == expected.dims, name
        if expected.dtype.kind in "iuf":
            assert got.dtype == expected.dtype, name
        np.testing.assert_array_equal(got.values, expected.values, err_msg=name)
        assert got.attrs == expected.attrs, name
    assert {k: v for k, v in streamed.attrs.items() if k not in RUN_ATTRS} == \
        {k: v for k, v in ds.attrs.items() if k not in RUN_ATTRS} | STORE_ATTRS


@pytest.fixture(scope="module")
def compiled(example_scenario):
    return compile_scenario(example_scenario)


@pytest.fixture(scope="module")
def in_memory(compiled):
    ds, _ = run_dataset(compiled, draws=DRAWS, seed=SEED, threads=2, cohorts=True, command="revsim run")
    return ds


@pytest.mark.parametrize(("threads", "chunk"), [(1, 10), (2, 7), (2, None)])
def test_a_streamed_run_holds_the_run_held_in_memory(compiled, in_memory, tmp_path, threads, chunk):
    store = tmp_path / "results.zarr"
    streamed = run_store(compiled, store, draws=DRAWS, seed=SEED, threads=threads, cohorts=True,
                         backend=Backend("local", chunk_size=chunk), command="revsim run")
    assert streamed.warnings == []
    assert_store_matches(store, in_memory)
    with open_results(store) as ds:
        if chunk is not None:
            assert ds.chunks["draw"][0] == chunk


def test_runaway_warnings_are_counted_over_every_block(tmp_path):
    """A loop that runs away in some draws: the same message as the run held in memory (over all draws)."""
    import yaml

    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "cli" / "data" / "base_scenario.yaml").read_text())
    data["horizon_months"] = 36
    data["loops"][0]["coefficient"] = {"dist": "uniform", "low": 0.0, "high": 1000.0}
    scenario = scenario_from_dict(data)
    ds, messages = run_dataset(scenario, draws=40, seed=SEED, threads=2)
    assert messages and " of 40 draws" in messages[0] and "in 40 of" not in messages[0], messages
    streamed = run_store(scenario, tmp_path / "r.zarr", draws=40, seed=SEED, threads=2,
                         backend=Backend("local", chunk_size=6))
    assert streamed.warnings == messages
    assert_store_matches(tmp_path / "r.zarr", ds)


def test_a_large_run_stores_float32_as_results_nc_does(in_memory, tmp_path, monkeypatch):
    """Above 1,000,000 draws x months x segments, results.nc and results.zarr both keep money and ratios as float32."""
    from revsim.results import storage

    store = tmp_path / "large.zarr"
    create_store(store, in_memory, draws=DRAWS, chunk=20, large=True, attrs=in_memory.attrs)
    for a in range(0, DRAWS, 20):
        write_block(store, in_memory.isel(draw=slice(a, a + 20)))
    monkeypatch.setattr(storage, "is_large", lambda *sizes: True)
    as_in_results_nc = stored_form(in_memory, "draws")
    with open_results(store) as streamed:
        for name, variable in in_memory.data_vars.items():
            expected = as_in_results_nc[name]
            if variable.dtype.kind == "f":
                assert streamed[name].dtype == expected.dtype, name
            np.testing.assert_array_equal(streamed[name].values, expected.values, err_msg=name)
    assert as_in_results_nc["arr"].dtype == np.float32 and as_in_results_nc["ltv"].dtype == np.float64


def test_the_store_is_chosen_for_dask_and_for_runs_too_large_to_hold(compiled, monkeypatch):
    from revsim.engine import memory

    assert streams("zarr", compiled, draws=10) and not streams("netcdf", compiled, draws=10**6)
    assert streams("auto", compiled, draws=10, backend=Backend("dask"))
    assert not streams("auto", compiled, draws=1000)
    monkeypatch.setattr(memory, "available_bytes", lambda: 2 * 2**30)
    need, _ = memory.run_bytes(compiled, 100_000, cohorts=False)
    assert need > 2**30 and streams("auto", compiled, draws=100_000)


# ------------------------------------------------------------------------------ what a task receives


def _posterior_scenario(tmp_path: Path, samples: int):
    """A scenario whose ACV and churn come from a posterior file of ``samples`` draws."""
    rng = np.random.default_rng(1)
    posterior = xr.Dataset({
        "acv": (("chain", "draw"), rng.uniform(8_000, 12_000, (2, samples // 2))),
        "churn": (("chain", "draw"), rng.uniform(0.01, 0.03, (2, samples // 2))),
    })
    return posterior_scenario(tmp_path / f"p{samples}", posterior)


def test_a_tasks_payload_does_not_grow_with_the_posterior(tmp_path):
    """What a worker receives: the scenario without its samples (once) and its own draws' inputs (per task)."""
    sizes = {}
    for samples in (1_000, 200_000):
        compiled = compile_scenario(_posterior_scenario(tmp_path, samples))
        full = len(pickle.dumps(compiled))
        slim = len(pickle.dumps(compiled.without_samples()))
        task = len(pickle.dumps(compiled.draw_parameters(SEED, 100, 132)))
        sizes[samples] = (full, slim, task)
    (full_small, slim_small, task_small), (full_big, slim_big, task_big) = sizes[1_000], sizes[200_000]
    assert full_big - full_small > 3_000_000  # 2 x 199,000 more float64 samples travel with the full scenario
    assert abs(slim_big - slim_small) < 100  # the descriptions say n=1000 or n=200000, in folders p1000, p200000
    assert task_big == task_small
    assert slim_big < 200_000 and task_big < 20_000


def test_a_scenario_without_samples_gives_the_same_results(tmp_path):
    compiled = compile_scenario(_posterior_scenario(tmp_path, 4_000))
    slim = compiled.without_samples()
    with pytest.raises(RuntimeError, match="drawn where the run started"):
        slim.draw_parameters(SEED, 0, 5)
    from revsim.engine.run import run_draws
    from revsim.results.dataset import build_dataset

    params = compiled.draw_parameters(SEED, 0, 30)
    full = build_dataset(compiled, run_draws(compiled, SEED, 0, 30, threads=1, params=params), seed=SEED,
                         provenance=False)
    light = build_dataset(slim, run_draws(slim, SEED, 0, 30, threads=1, params=params), seed=SEED,
                          provenance=False)
    xr.testing.assert_identical(full, light)
