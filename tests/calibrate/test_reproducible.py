"""A calibration is bit-identical for the same data, seed and versions, whatever the process: a cold or warm
compile cache, another hash seed (dict and set order), another number of cores.

The two runs are ``revsim calibrate`` of the synthetic company of ``test_company_history.py`` in new processes,
one after the other (``conftest._twice_in_fresh_processes``, started by the ``fits`` fixture): the first compiles
with empty PyTensor and numba caches, the second finds everything the first compiled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="module")
def twice(fits: dict[str, Any]) -> list[Path]:
    runs, outs = fits["twice"].result()
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
    return outs


@pytest.mark.slow
def test_the_posterior_is_bit_identical_across_processes_and_cache_states(twice: list[Path]) -> None:
    import xarray as xr

    first, second = (xr.open_dataset(out / "posterior.nc", group="posterior", engine="h5netcdf").load()
                     for out in twice)
    assert sorted(first.data_vars) == sorted(second.data_vars)
    for name in first.data_vars:
        np.testing.assert_array_equal(first[name].values, second[name].values, err_msg=name)
    stats = [xr.open_dataset(out / "posterior.nc", group="sample_stats", engine="h5netcdf").load() for out in twice]
    np.testing.assert_array_equal(stats[0]["step_size"].values, stats[1]["step_size"].values)


@pytest.mark.slow
def test_the_calibrated_scenario_and_diagnostics_are_identical(twice: list[Path]) -> None:
    for name in ("calibrated.yaml", "diagnostics.csv"):
        texts = [(out / name).read_text(encoding="utf-8") for out in twice]
        assert texts[0] == texts[1], name
