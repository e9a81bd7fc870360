"""Opening the results of a run for a report, with a clear error for anything that is not one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["open_results", "REQUIRED_VARIABLES", "is_quantile_form"]

#: What a report reads in every run (other variables are optional: their charts or rows are skipped).
REQUIRED_VARIABLES = ("arr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "initial_arr",
                      "new_customers", "active_customers", "advocates", "stage_entries", "loop_entries")
REQUIRED_DIMS = ("draw", "month", "segment", "stage", "loop")
#: Money a report draws: never NaN or infinite in results revsim wrote.
MONEY_VARIABLES = ("arr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "initial_arr")


def is_quantile_form(ds: Any) -> bool:
    """Whether results hold per-month quantiles (``--keep quantiles``) rather than every draw."""
    return ds.attrs.get("revsim_keep") == "quantiles" or "quantile" in ds.dims


def open_results(path: str | Path, *, draws: bool = True) -> xr.Dataset:
    """The results of a run (a ``results.nc``, a ``results.zarr`` store, or the output folder holding one),
    checked to be a revsim run's (see :func:`revsim.results.storage.open_results`).

    Parameters
    ----------
    draws
        Refuse results that keep per-month quantiles rather than every draw (``--keep quantiles``).

    Raises
    ------
    InputError
        When the path is not a revsim run's results, or (with ``draws``) holds quantiles.
    """
    from revsim.results.reading import open_results as open_any
    from revsim.results.reading import reading_store, results_source

    ds = open_any(path)
    file = results_source(ds)
    quantile_form = is_quantile_form(ds)
    dims = [d for d in REQUIRED_DIMS if d != "draw"] + (["quantile"] if quantile_form else ["draw"])
    missing = [d for d in dims if d not in ds.dims] + [v for v in REQUIRED_VARIABLES if v not in ds]
    if missing:
        raise InputError.single("is not a revsim results file: it lacks " + ", ".join(missing), file=file)
    if ds.sizes.get("draw", 1) == 0 or ds.sizes["month"] == 0:
        raise InputError.single("holds no draws or no months", file=file)
    if quantile_form and draws:
        raise InputError.single("holds per-month quantiles, not draws (it was written with --keep quantiles); "
                                "run again with --keep draws", file=file)
    with reading_store(ds):
        _check_finite_money(ds, file)
    return ds


def _check_finite_money(ds: Any, file: str) -> None:
    """Refuse money that is not finite: revsim run never writes it (its invariants refuse it), and charts
    would draw NaN as 0. Reads a lazily opened store one chunk of draws at a time."""
    import numpy as np

    for name in MONEY_VARIABLES:
        finite = np.isfinite(ds[name])
        bad_count = int((~finite).sum())
        if bad_count:
            values = np.asarray(ds[name].values, dtype=float)
            bad = ~np.isfinite(values)
            parts = []
            for dim, i in zip(ds[name].dims, np.argwhere(bad)[0], strict=True):
                label = ds[dim].values[i] if dim in ds.coords and dim != "draw" else i
                parts.append(f"{dim} {str(label)[:7] if dim == 'month' else label}")
            where = ", ".join(parts)
            raise InputError.single(
                f"{name} holds {bad_count:,} value(s) that are not numbers or not finite (the first at {where}): "
                "revsim run never writes them, so the file was edited or damaged; run the scenario again",
                file=file)
