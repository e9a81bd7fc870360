"""Reading a results Dataset for charts: totals over segments, months, and quantiles across draws.

Quantiles ignore draws where a metric is undefined (NaN), as ``summary.csv`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

__all__ = ["total", "start_arr", "month_labels", "month_index", "quantiles", "interval", "currency_of",
           "at_month"]


def currency_of(ds: xr.Dataset) -> str:
    """The run's currency (``USD`` when the Dataset does not say)."""
    return str(ds.attrs.get("currency", "USD"))


def total(ds: xr.Dataset, name: str) -> xr.DataArray:
    """A variable summed over segments when it has them."""
    da = ds[name]
    return da.sum("segment") if "segment" in da.dims else da


def start_arr(ds: xr.Dataset) -> float:
    """ARR of the initial book at ``start`` (the same in every draw)."""
    return float(ds["initial_arr"].sum()) if "initial_arr" in ds else 0.0


def month_labels(ds: xr.Dataset) -> pd.DatetimeIndex:
    """The simulated months as a DatetimeIndex (first day of each month)."""
    import pandas as pd

    return pd.DatetimeIndex(ds["month"].values)


def month_index(ds: xr.Dataset, month: Any) -> int:
    """Position of ``month`` (``YYYY-MM``, a date, or an int position, negative from the end) in the run.

    Raises
    ------
    ValueError
        When the month is not simulated.
    """
    n = ds.sizes["month"]
    if isinstance(month, int | np.integer):
        index = int(month) + (n if month < 0 else 0)
        if not 0 <= index < n:
            raise ValueError(f"month {month} is outside the {n} simulated months")
        return index
    wanted = np.datetime64(str(month)[:7], "M")
    found = np.flatnonzero(ds["month"].values.astype("datetime64[M]") == wanted)
    if found.size == 0:
        first, last = (str(ds["month"].values[i])[:7] for i in (0, -1))
        raise ValueError(f"{str(month)[:7]} is not a simulated month ({first} to {last})")
    return int(found[0])


def at_month(da: xr.DataArray, index: int) -> np.ndarray:
    """The per-draw values of ``da`` in month ``index`` (or its only values when it has no month)."""
    if "month" in da.dims:
        da = da.isel(month=index)
    return np.asarray(da.values, dtype=float).reshape(-1)


def quantiles(values: Any, probabilities: Any, axis: int = 0) -> np.ndarray:
    """Quantiles across draws, ignoring NaN (NaN where every draw is NaN)."""
    array = np.asarray(values, dtype=float)
    array = np.where(np.isfinite(array), array, np.nan)
    probabilities = np.asarray(probabilities, dtype=float)
    defined = ~np.isnan(array).all(axis=axis)
    shape = (len(probabilities), *np.delete(array.shape, axis)) if array.ndim > 1 else (len(probabilities),)
    out = np.full(shape, np.nan)
    if array.ndim == 1:
        if defined:
            out[:] = np.nanquantile(array, probabilities)
        return out
    moved = np.moveaxis(array, axis, 0)
    if defined.any():
        out[:, defined] = np.nanquantile(moved[:, defined], probabilities, axis=0)
    return out


def interval(values: Any) -> tuple[float, float, float]:
    """(P10, median, P90) of per-draw values, NaN ignored."""
    p10, p50, p90 = quantiles(np.asarray(values, dtype=float).reshape(-1), (0.1, 0.5, 0.9))
    return float(p10), float(p50), float(p90)
