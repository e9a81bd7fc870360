"""Opening a ``results.nc`` for a report, with a clear error for anything that is not one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["open_results", "REQUIRED_VARIABLES"]

#: What a report reads in every run (other variables are optional: their charts or rows are skipped).
REQUIRED_VARIABLES = ("arr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "initial_arr",
                      "new_customers", "active_customers", "advocates", "stage_entries", "loop_entries")
REQUIRED_DIMS = ("draw", "month", "segment", "stage", "loop")
#: Money a report draws: never NaN or infinite in results revsim wrote.
MONEY_VARIABLES = ("arr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "initial_arr")


def open_results(path: str | Path) -> xr.Dataset:
    """Read a results file written by ``revsim run`` into memory.

    Raises
    ------
    InputError
        When the file does not exist, is not netCDF, or lacks the variables of a revsim run.
    """
    import xarray as xr

    from revsim.special_files import special_kind

    path = Path(path)
    if not path.exists():
        raise InputError.single("no such file (give the results.nc written by revsim run)", file=str(path))
    if path.is_dir():
        hint = " (did you mean its results.nc?)" if (path / "results.nc").is_file() else ""
        raise InputError.single(f"is a directory, not a results file{hint}", file=str(path))
    kind = special_kind(path)
    if kind is not None:
        raise InputError.single(f"is {kind}, not a regular file; expected a results.nc file", file=str(path))
    try:
        with xr.open_dataset(path, engine="h5netcdf") as opened:
            ds = opened.load()
    except MemoryError:  # a good file too large for this machine is not a bad input
        raise
    except Exception as exc:  # h5py, h5netcdf and xarray raise many kinds of errors for a bad file
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise InputError.single(f"cannot be read as a netCDF results file ({reason})", file=str(path)) from None
    missing = [d for d in REQUIRED_DIMS if d not in ds.dims] + [v for v in REQUIRED_VARIABLES if v not in ds]
    if missing:
        raise InputError.single("is not a revsim results file: it lacks " + ", ".join(missing), file=str(path))
    if ds.sizes["draw"] == 0 or ds.sizes["month"] == 0:
        raise InputError.single("holds no draws or no months", file=str(path))
    ds.encoding["source"] = str(path.resolve())
    if ds.attrs.get("revsim_keep") == "quantiles" or "draw" not in ds.dims:
        raise InputError.single("holds per-month quantiles, not draws (it was written with --keep quantiles); "
                                "run again with --keep draws to draw the report", file=str(path))
    _check_finite_money(ds, str(path))
    return ds


def _check_finite_money(ds: Any, file: str) -> None:
    """Refuse money that is not finite: revsim run never writes it (its invariants refuse it), and charts
    would draw NaN as 0."""
    import numpy as np

    for name in MONEY_VARIABLES:
        values = np.asarray(ds[name].values, dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            parts = []
            for dim, i in zip(ds[name].dims, np.argwhere(bad)[0], strict=True):
                label = ds[dim].values[i] if dim in ds.coords and dim != "draw" else i
                parts.append(f"{dim} {str(label)[:7] if dim == 'month' else label}")
            where = ", ".join(parts)
            raise InputError.single(
                f"{name} holds {int(bad.sum()):,} value(s) that are not numbers or not finite (the first at {where}): "
                "revsim run never writes them, so the file was edited or damaged; run the scenario again",
                file=file)
