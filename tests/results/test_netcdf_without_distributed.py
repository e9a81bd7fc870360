"""Writing netCDF from memory does not import dask.distributed when no client can be running."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("distributed")

CODE = """
import sys
from pathlib import Path
import dask, dask.base
import numpy as np
import xarray as xr
import arviz as az
from revsim.results.write_errors import write_inference_data, write_netcdf

folder = Path(sys.argv[1])
ds = xr.Dataset({"x": (("chain", "draw"), np.arange(12.0).reshape(3, 4))})
write_netcdf(ds, folder / "plain.nc")
write_inference_data(az.InferenceData(posterior=ds), folder / "idata.nc")
assert "distributed" not in sys.modules, "distributed was imported"
assert dask.base._DISTRIBUTED_AVAILABLE is not False, "dask still believes distributed is missing"
with xr.open_dataset(folder / "plain.nc", engine="h5netcdf") as back:
    np.testing.assert_array_equal(back["x"].values, ds["x"].values)
with xr.open_dataset(folder / "idata.nc", engine="h5netcdf", group="posterior") as back:
    np.testing.assert_array_equal(back["x"].values, ds["x"].values)
# once distributed is in use, writing goes through the usual path (a client's lock where one runs)
import distributed
assert dask.base._distributed_available()
write_netcdf(ds, folder / "after.nc")
print("ok")
"""


def test_writing_from_memory_leaves_distributed_unimported(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-c", CODE, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
