"""Reproducibility of runs: keyed random streams and common random numbers.

Draw ``i`` depends only on the seed and ``i`` (not on threads or how draws are split into blocks), each
uncertain input has its own stream and each random event its own uniforms, so changing one input leaves every
other input's draws and every untouched event as they were.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr

from revsim.engine.compile import DrawParameters, compile_scenario
from revsim.engine.run import RawResults, run_draws
from revsim.pipeline import simulate
from revsim.results.dataset import build_dataset
from revsim.scenario.load import scenario_from_dict

SEED = 4242
#: every per-draw output array of the kernels, and every per-draw parameter array laid out for them
RAW_ARRAYS = tuple(f.name for f in dataclasses.fields(RawResults) if f.name != "params")
PARAM_ARRAYS = tuple(f.name for f in dataclasses.fields(DrawParameters) if f.name not in ("start", "stop", "inputs"))


def without_timestamp(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k != "created_at"}
    return ds


def test_threads_do_not_change_results(example_scenario):
    one = simulate(example_scenario, draws=150, seed=SEED, threads=1)
    two = simulate(example_scenario, draws=150, seed=SEED, threads=2)
    xr.testing.assert_identical(without_timestamp(one), without_timestamp(two))


def test_draws_do_not_depend_on_blocks(example_scenario):
    compiled = compile_scenario(example_scenario)
    whole = run_draws(compiled, SEED, 0, 200, threads=1)
    parts = [run_draws(compiled, SEED, 0, 80, threads=2), run_draws(compiled, SEED, 80, 200, threads=1)]
    for name in RAW_ARRAYS:
        np.testing.assert_array_equal(getattr(whole, name), np.concatenate([getattr(p, name) for p in parts]),
                                      err_msg=name)
    for name in PARAM_ARRAYS:
        np.testing.assert_array_equal(getattr(whole.params, name),
                                      np.concatenate([getattr(p.params, name) for p in parts]), err_msg=name)
    assert whole.params.inputs.keys() == parts[0].params.inputs.keys()
    for path, values in whole.params.inputs.items():
        np.testing.assert_array_equal(values, np.concatenate([p.params.inputs[path] for p in parts]), err_msg=path)
    # a single draw alone is the same draw
    alone = run_draws(compiled, SEED, 137, 138, threads=1)
    for name in RAW_ARRAYS:
        np.testing.assert_array_equal(getattr(alone, name)[0], getattr(whole, name)[137], err_msg=name)

    # and so are the datasets built from the blocks, draw for draw (metrics are computed per draw)
    def dataset(raw):
        ds = build_dataset(compiled, raw, seed=SEED)
        ds.attrs = {}  # provenance: draws and creation time differ
        return ds

    pieces = xr.concat([dataset(p) for p in parts], dim="draw", data_vars="minimal", coords="minimal",
                       compat="identical")
    xr.testing.assert_identical(dataset(whole), pieces)


def test_parameters_sampled_on_threads_are_those_sampled_on_one(example_scenario, example_data):
    """A run on several threads samples its parameters in pieces at once (correlated inputs included):
    the same values, and the same refusal of a bad draw, naming the same first draw."""
    from revsim.engine.compile import PARALLEL_SAMPLING_DRAWS
    from revsim.errors import InputError

    compiled = compile_scenario(example_scenario)
    assert compiled.correlated, "the example correlates inputs"
    n = PARALLEL_SAMPLING_DRAWS * 3 + 7
    one = compiled.draw_parameters(SEED, 5, 5 + n)
    three = compiled.draw_parameters(SEED, 5, 5 + n, threads=3)
    for name in PARAM_ARRAYS:
        np.testing.assert_array_equal(getattr(one, name), getattr(three, name), err_msg=name)
    for path, values in one.inputs.items():
        np.testing.assert_array_equal(values, three.inputs[path], err_msg=path)

    example_data["channels"][0]["volume"] = {"dist": "lognormal", "median": 100, "sigma": 2000}
    wild = compile_scenario(scenario_from_dict(example_data))
    messages = []
    for threads in (1, 3):
        with pytest.raises(InputError) as refused:
            wild.draw_parameters(SEED, 0, n, threads=threads)
        messages.append(str(refused.value))
    assert "drew a value that is not finite; draw " in messages[0]
    assert messages[0] == messages[1]


def test_different_seeds_give_different_results(example_scenario):
    a = simulate(example_scenario, draws=50, seed=1, threads=2)
    b = simulate(example_scenario, draws=50, seed=2, threads=2)
    for name in ("leads", "new_customers", "active_customers", "arr", "param_channels_inbound_volume"):
        assert not np.array_equal(a[name].values, b[name].values), name
    # and within one run, draws differ from each other
    assert len(np.unique(a["arr"].isel(month=-1).sum("segment").values)) == 50


@pytest.mark.parametrize(("path", "before", "after"), [
    (("expansion", "default", "rate"), [0.005, 0.015], [0.08, 0.15]),
    (("expansion", "default", "size"), [0.15, 0.35], [0.1, 0.5]),
])
def test_common_random_numbers(example_data, path, before, after):
    def variant(value):
        data = {**example_data}
        data["expansion"] = {"default": {**example_data["expansion"]["default"], path[-1]: value}}
        return simulate(scenario_from_dict(data), draws=200, seed=SEED, threads=2)

    base, changed = variant(before), variant(after)
    params = sorted(v for v in base.data_vars if v.startswith("param_"))
    assert params == sorted(v for v in changed.data_vars if v.startswith("param_"))
    [changed_param] = [v for v in params if base[v].attrs["path"] == ".".join(path)]
    # the input that changed, changed; every other input's draws are untouched
    assert not np.array_equal(base[changed_param].values, changed[changed_param].values)
    for name in params:
        if name != changed_param:
            np.testing.assert_array_equal(base[name].values, changed[name].values, err_msg=name)
    # expansion moves money only: arrivals, conversions, wins, churn and advocates (so the referral loop)
    # draw the same numbers in every draw
    for name in ("leads", "stage_entries", "open_in_stage", "loop_entries", "new_customers", "churned_customers",
                 "active_customers", "advocates", "new_arr"):
        np.testing.assert_array_equal(base[name].values, changed[name].values, err_msg=name)
    assert not np.array_equal(base["expansion_arr"].values, changed["expansion_arr"].values)


def test_an_event_that_cannot_happen_moves_no_other_events_numbers(example_data):
    """Each random event has its own uniforms, addressed by what it is: a channel added at the end with no
    volume takes its own uniforms (and draws no lead), so every other event keeps its own and the draws are
    the same. (With streams shared by a process, its uniforms would have shifted those of every later month.)"""
    data = {**example_data, "channels": [*example_data["channels"], {"name": "dormant", "volume": 0}]}
    base = run_draws(compile_scenario(scenario_from_dict(example_data)), SEED, 0, 30, threads=2)
    changed = run_draws(compile_scenario(scenario_from_dict(data)), SEED, 0, 30, threads=2)
    for name in RAW_ARRAYS:
        if name != "flags":  # one column per channel
            np.testing.assert_array_equal(getattr(base, name), getattr(changed, name), err_msg=name)
