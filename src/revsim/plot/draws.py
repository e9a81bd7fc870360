"""Reading a results Dataset for charts: totals over segments, months, and quantiles across draws.

Quantiles ignore draws where a metric is undefined (NaN), as ``summary.csv`` does. Results kept as quantiles
(``--keep quantiles``) hold no draws: :func:`monthly_quantiles`, :func:`month_interval` and
:func:`monthly_mean` read their stored quantiles and means instead, and :func:`needs_draws` stops a chart
that cannot be drawn from them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

__all__ = ["total", "start_arr", "month_labels", "month_index", "quantiles", "interval", "currency_of",
           "at_month", "is_quantile_form", "draw_count", "needs_draws", "stored_quantiles", "monthly_quantiles",
           "month_interval", "monthly_mean"]


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


def is_quantile_form(ds: xr.Dataset) -> bool:
    """Whether results hold per-month quantiles across draws (``--keep quantiles``) rather than every draw."""
    return ds.attrs.get("revsim_keep") == "quantiles" or "quantile" in ds.dims


def draw_count(ds: xr.Dataset) -> int:
    """How many draws the run simulated (results kept as quantiles say it in their ``draws`` attribute)."""
    if is_quantile_form(ds) or "draw" not in ds.dims:
        return int(ds.attrs.get("draws", ds.sizes.get("draw", 0)))
    return int(ds.sizes["draw"])


def needs_draws(ds: xr.Dataset, what: str) -> None:
    """Stop a chart that needs every draw when the results keep quantiles (a note in the report)."""
    from revsim.plot.unavailable import ChartUnavailable

    if is_quantile_form(ds):
        raise ChartUnavailable(f"{what} needs every draw; the run kept quantiles (--keep quantiles)")


def stored_quantiles(ds: xr.Dataset, name: str, probabilities: Any) -> np.ndarray:
    """The stored quantiles ``[probability, ...]`` of ``name`` in results kept as quantiles: of its total over
    segments (``NAME_total``) when it has segments."""
    from revsim.plot.unavailable import ChartUnavailable

    variable = f"{name}_total" if f"{name}_total" in ds else name
    if variable not in ds or "quantile" not in ds[variable].dims:
        raise ChartUnavailable(f"the results hold no quantiles of {name}")
    kept = np.asarray(ds["quantile"].values, dtype=float)
    positions = []
    for p in np.atleast_1d(np.asarray(probabilities, dtype=float)):
        found = np.flatnonzero(np.isclose(kept, p))
        if found.size == 0:
            raise ChartUnavailable(f"the run kept the quantiles {', '.join(f'{q:g}' for q in kept)}, not {p:g}")
        positions.append(int(found[0]))
    values = np.asarray(ds[variable].transpose("quantile", ...).values, dtype=float)
    return values[positions]


def monthly_quantiles(ds: xr.Dataset, name: str, probabilities: Any) -> np.ndarray:
    """Quantiles ``[probability, month]`` across draws of ``name`` (summed over segments), in either form."""
    if is_quantile_form(ds):
        return stored_quantiles(ds, name, probabilities)
    return quantiles(total(ds, name).transpose("draw", "month").values, probabilities, axis=0)


def month_interval(ds: xr.Dataset, name: str, index: int) -> tuple[float, float, float]:
    """(P10, median, P90) of ``name`` (summed over segments) in month ``index`` (or of a value per draw), in
    either form."""
    if is_quantile_form(ds):
        q = stored_quantiles(ds, name, (0.1, 0.5, 0.9))
        variable = f"{name}_total" if f"{name}_total" in ds else name
        if "month" in ds[variable].dims:
            q = q[:, index]
        return float(q[0]), float(q[1]), float(q[2])
    return interval(at_month(total(ds, name), index))


def monthly_mean(ds: xr.Dataset, name: str) -> np.ndarray:
    """The mean across draws of ``name`` summed over segments, per month, in either form (a mean of a sum is
    the sum of the means, so results kept as quantiles give it exactly)."""
    if is_quantile_form(ds):
        da = ds[f"{name}_mean"]
        return np.asarray((da.sum("segment") if "segment" in da.dims else da).values, dtype=float)
    return np.asarray(total(ds, name).transpose("draw", "month").values, dtype=float).mean(axis=0)
