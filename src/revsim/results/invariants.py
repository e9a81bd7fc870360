"""Checks a run makes on its own results before anything is written."""

from __future__ import annotations

import numpy as np
import xarray as xr

from revsim.errors import SimulationError

__all__ = ["check_invariants", "bridge_residual"]


def bridge_residual(ds: xr.Dataset) -> xr.DataArray:
    """``arr[t] - (arr[t-1] + new + expansion - contraction - churned)`` per draw, month and segment.

    The kernels count money in integer cents, so this is zero up to the rounding of the conversion to
    floating-point currency units.
    """
    previous = ds["arr"].shift(month=1)
    previous[dict(month=0)] = ds["initial_arr"]
    return ds["arr"] - (previous + ds["new_arr"] + ds["expansion_arr"] - ds["contraction_arr"] - ds["churned_arr"])


def check_invariants(ds: xr.Dataset) -> None:
    """Refuse results that break the model's identities.

    Raises
    ------
    SimulationError
        If the ARR bridge does not close, a stock is negative, or a value that must be finite is not.
    """
    _check_countable(ds)
    residual = np.abs(bridge_residual(ds).values)
    scale = np.maximum(1.0, np.abs(ds["arr"].values))
    if (residual > 1e-9 * scale).any():
        index = np.unravel_index(np.argmax(residual / scale), residual.shape)
        raise SimulationError(f"the ARR bridge does not close in draw {int(ds.draw[index[0]])} "
                              f"(residual {residual[index]:.6g}); this is a bug in revsim")
    for name in ("active_customers", "advocates", "arr", "open_in_stage", "stage_entries"):
        values = ds[name].values
        if (values < 0).any():
            draw = int(ds.draw[np.argwhere(values < 0)[0][0]])
            raise SimulationError(f"{name} is negative in draw {draw}; this is a bug in revsim")
    for name in ("arr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr"):
        if not np.isfinite(ds[name].values).all():
            raise SimulationError(f"{name} has a value that is not finite; this is a bug in revsim")
    # Ratios are NaN where their denominator is 0 (documented); nothing may be infinite.
    for name, variable in ds.data_vars.items():
        values = variable.values
        if values.dtype.kind == "f" and np.isinf(values).any():
            where = np.argwhere(np.isinf(values))[0]
            place = ", ".join(f"{dim} {_label(ds, dim, int(i))}" for dim, i in zip(variable.dims, where, strict=True))
            raise SimulationError(f"{name} is infinite ({place}); check the inputs of that draw (param_* variables)")


def _label(ds: xr.Dataset, dim: str, index: int) -> str:
    if dim == "month" and "month" in ds.coords:
        return str(ds["month"].values[index])[:7]
    return str(ds[dim].values[index]) if dim in ds.coords else str(index)


def _check_countable(ds: xr.Dataset) -> None:
    """Refuse money beyond what the kernels count in int64 cents (an overflow, not a bug in the bridge)."""
    from revsim.engine.layout import MONEY_CAP

    cap = MONEY_CAP / 100.0 * 12.0  # the largest ARR the kernels let MRR reach
    for name in ("arr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr"):
        beyond = np.abs(ds[name].values) > cap
        if beyond.any():
            draw, month = (int(i) for i in np.argwhere(beyond)[0][:2])
            raise SimulationError(
                f"draw {int(ds.draw[draw])}: {name} went beyond what revsim can count ({cap:.3g} "
                f"{ds.attrs.get('currency', '')} of ARR) in {_label(ds, 'month', month)}; the volumes, conversions "
                "and contract values of this draw are too large (see its param_* values)")
