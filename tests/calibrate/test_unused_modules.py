"""Modules a calibration does not import (dask, IPython, zarr), and dask working as usual afterwards."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from calibration_helpers import REPO_ROOT

from revsim.calibrate.unused_modules import hidden_modules


def run(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_hidden_module_cannot_be_imported_then_can() -> None:
    name = "revsim_no_such_module_imported_yet"
    sys.modules.pop(name, None)
    with hidden_modules([name, "sys"]) as hidden:
        assert hidden == [name]  # what is imported already is never hidden
        with pytest.raises(ModuleNotFoundError):
            __import__(name)
    assert name not in sys.modules
    assert sys.modules["sys"] is sys


WITHOUT_DASK = """
import io, json, sys
import numpy as np
from revsim.calibrate.unused_modules import without_dask
found = {}
with without_dask() as hidden:
    import xarray as xr
    ds = xr.Dataset({"a": (("x",), np.arange(4.0))})
    ds["b"] = ds.a * 2
    buffer = io.BytesIO()
    ds.to_netcdf(buffer, engine="h5netcdf")
    found["hidden"] = hidden
    found["inside"] = sys.modules.get("dask", "absent") is None
    found["sum"] = float(ds.b.sum())
found["after"] = "dask" in sys.modules
import dask.array as da
from xarray.namedarray.pycompat import is_duck_dask_array
array = xr.DataArray(da.ones(6, chunks=3))
found["dask_array"] = bool(is_duck_dask_array(array.data))
found["chunks"] = [list(c) for c in array.chunks]
found["total"] = float(array.sum())
print(json.dumps(found))
"""


def test_without_dask_xarray_works_in_memory_and_dask_works_again_afterwards() -> None:
    pytest.importorskip("dask")
    found = run(WITHOUT_DASK)
    assert found["hidden"] and found["inside"] and not found["after"]
    assert found["sum"] == 12.0
    assert found["dask_array"] and found["chunks"] == [[3, 3]] and found["total"] == 6.0


def test_dask_already_imported_is_left_alone() -> None:
    pytest.importorskip("dask")
    found = run("import json, dask\nfrom revsim.calibrate.unused_modules import without_dask\n"
                "with without_dask() as hidden:\n    import dask.array\n"
                "print(json.dumps({'hidden': hidden}))")
    assert found == {"hidden": False}


def test_importing_pymc_for_a_calibration_skips_ipython_and_zarr_3() -> None:
    pytest.importorskip("pymc")
    found = run("import json, sys\nfrom revsim.calibrate.arviz_numba import import_pymc\n"
                "from revsim.calibrate.unused_modules import pymc_unused_modules\nimport_pymc()\n"
                "import pymc.printing\n"
                "print(json.dumps({'unused': pymc_unused_modules(), "
                "'loaded': sorted(m for m in ('IPython', 'zarr') if m in sys.modules)}))")
    assert "IPython" in found["unused"]
    assert not set(found["loaded"]) & set(found["unused"])
