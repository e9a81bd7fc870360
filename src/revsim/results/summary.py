"""What a run means in a table and in three lines: per-month quantiles, and the human summary.

Both read a run in memory or a ``results.zarr`` store opened lazily
(:func:`revsim.results.reading.open_results`): every metric is a total over segments per draw and month
(draws x months values, read one chunk of draws at a time, one metric at a time), so the table and the text
are exactly those of the same run in memory, without holding every variable of every draw.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from revsim.plot.money import format_money

__all__ = ["QUANTILES", "summary_table", "summary_text", "format_difference"]

#: The quantiles summary.csv reports, besides the mean.
QUANTILES = (0.05, 0.10, 0.50, 0.90, 0.95)

# metric name in summary.csv -> Dataset variable (summed over segments where it has them)
_TOTALS = [
    ("arr", "arr"),
    ("mrr", "mrr"),
    ("new_arr", "new_arr"),
    ("expansion_arr", "expansion_arr"),
    ("contraction_arr", "contraction_arr"),
    ("churned_arr", "churned_arr"),
    ("active_customers", "active_customers"),
    ("new_customers", "new_customers"),
    ("churned_customers", "churned_customers"),
    ("advocates", "advocates"),
]
_RATIOS = [
    "nrr_12m", "grr_12m", "logo_churn", "win_rate", "open_pipeline_arr", "pipeline_coverage", "revenue_per_lead",
    "sales_marketing_spend", "cost_per_lead", "cac", "cac_payback_months", "ltv_cac",
]


def _total(ds: xr.Dataset, name: str) -> xr.DataArray:
    da = ds[name]
    return da.sum("segment") if "segment" in da.dims else da


def summary_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per month and metric: the mean and the :data:`QUANTILES` across draws (long format).

    Results kept as quantiles (``--keep quantiles``) give the stored quantiles and means instead (net new
    ARR then has its mean only). Metrics are totals over segments: ARR and its movements, customers, the entries into each stage (named
    after the stage), each loop's entries (``loop:NAME``), net new ARR, and the ratios (NRR, GRR, logo
    churn, pipeline, CAC, payback, LTV:CAC) where the run has them. Months where a ratio is undefined (NRR in
    the first 11 months, which need a year of history) are left empty.
    """
    if ds.attrs.get("revsim_keep") == "quantiles" or "quantile" in ds.dims:
        return _table_from_quantiles(ds)
    series: list[tuple[str, str, xr.DataArray]] = []
    for metric, name in _TOTALS:
        series.append((metric, ds[name].attrs.get("units", ""), _total(ds, name)))
    net_new = _total(ds, "new_arr") + _total(ds, "expansion_arr") - _total(ds, "contraction_arr") - _total(ds, "churned_arr")
    series.append(("net_new_arr", ds["new_arr"].attrs.get("units", ""), net_new))
    for stage in ds["stage"].values:
        series.append((str(stage), "entries per month", ds["stage_entries"].sel(stage=stage).sum("segment")))
    for loop in ds["loop"].values:
        series.append((f"loop:{loop}", "entries per month", ds["loop_entries"].sel(loop=loop)))
    for name in _RATIOS:
        if name in ds:
            series.append((name, ds[name].attrs.get("units", ""), ds[name]))

    months = pd.DatetimeIndex(ds["month"].values).strftime("%Y-%m")
    frames = []
    for metric, units, da in series:
        values = np.asarray(da.transpose("draw", "month").values, dtype=float)
        values = np.where(np.isfinite(values), values, np.nan)
        defined = ~np.isnan(values).all(axis=0)  # months where the metric exists in some draw
        mean = np.full(values.shape[1], np.nan)
        quantiles = np.full((len(QUANTILES), values.shape[1]), np.nan)
        if defined.any():
            mean[defined] = np.nanmean(values[:, defined], axis=0)
            present = values[:, defined]
            # np.quantile works on whole arrays; nanquantile goes column by column (ten times slower)
            quantile = np.nanquantile if np.isnan(present).any() else np.quantile
            quantiles[:, defined] = quantile(present, QUANTILES, axis=0)
        frame = pd.DataFrame({"month": months, "metric": metric, "units": units, "mean": mean})
        for q, row in zip(QUANTILES, quantiles, strict=True):
            frame[f"p{round(q * 100)}"] = row
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _table_from_quantiles(ds: xr.Dataset) -> pd.DataFrame:
    """:func:`summary_table` of results kept as quantiles: the stored quantiles of each total and its mean
    (the sum of the per-segment means). Net new ARR has its mean only: a sum of four variables has no stored
    quantiles."""
    rows: list[tuple[str, str, np.ndarray, np.ndarray]] = []  # metric, units, mean [month], quantiles [q, month]

    def stored(name: str, **where: Any) -> np.ndarray:
        variable = f"{name}_total" if f"{name}_total" in ds else name
        kept = np.asarray(ds["quantile"].values, dtype=float)
        positions = [int(np.flatnonzero(np.isclose(kept, q))[0]) for q in QUANTILES]
        return np.asarray(ds[variable].sel(where).transpose("quantile", "month").values, dtype=float)[positions]

    def mean(name: str, **where: Any) -> np.ndarray:
        da = ds[f"{name}_mean"].sel(where)
        return np.asarray((da.sum("segment") if "segment" in da.dims else da).values, dtype=float)

    for metric, name in _TOTALS:
        rows.append((metric, ds[name].attrs.get("units", ""), mean(name), stored(name)))
    net_new = mean("new_arr") + mean("expansion_arr") - mean("contraction_arr") - mean("churned_arr")
    rows.append(("net_new_arr", ds["new_arr"].attrs.get("units", ""), net_new,
                 np.full((len(QUANTILES), ds.sizes["month"]), np.nan)))
    for stage in ds["stage"].values:
        rows.append((str(stage), "entries per month", mean("stage_entries", stage=stage),
                     stored("stage_entries", stage=stage)))
    for loop in ds["loop"].values:
        rows.append((f"loop:{loop}", "entries per month", mean("loop_entries", loop=loop),
                     stored("loop_entries", loop=loop)))
    for name in _RATIOS:
        if name in ds:
            rows.append((name, ds[name].attrs.get("units", ""), mean(name), stored(name)))
    months = pd.DatetimeIndex(ds["month"].values).strftime("%Y-%m")
    frames = []
    for metric, units, means, quantiles in rows:
        frame = pd.DataFrame({"month": months, "metric": metric, "units": units, "mean": means})
        for q, row in zip(QUANTILES, quantiles, strict=True):
            frame[f"p{round(q * 100)}"] = row
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def format_difference(value: float, kind: str, currency: str) -> str:
    """A signed difference for a reader: ``+$1.2M``, ``-35``, ``+1.4 pts``."""
    if not np.isfinite(value):
        return "n/a"
    sign = "+" if value > 0 else "-" if value < 0 else "\u00b1"
    if kind == "money":
        return sign + format_money(abs(value), currency)
    if kind == "count":
        return f"{sign}{abs(value):,.0f}"
    return f"{sign}{abs(value) * 100:.2f} pts"


def _pct(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{100 * value:.0f}%"


def summary_text(ds: xr.Dataset, *, scenario: Any = None) -> str:
    """Three to six lines a finance lead can read: ARR now and at horizon, NRR, customers, and each target's
    probability with the joint one and conflicts (``scenario``: the run's, when at hand)."""
    from revsim.printable import printable

    currency = ds.attrs.get("currency", "USD")
    arr = _total(ds, "arr")
    months = pd.DatetimeIndex(ds["month"].values).strftime("%Y-%m")
    start_arr = float(ds["initial_arr"].sum())
    end = arr.isel(month=-1).compute()  # one value per draw (read chunk by chunk from a lazily opened store)
    p10, p50, p90 = (float(end.quantile(q)) for q in (0.1, 0.5, 0.9))
    lines = [
        f"{printable(ds.attrs.get('scenario_name', 'scenario'), lines=False)}: {ds.sizes['draw']:,} draws, seed "
        f"{ds.attrs.get('seed')}, "
        f"{ds.sizes['month']} months from {months[0]} to {months[-1]}",
        f"ARR   {format_money(start_arr, currency)} at start -> {format_money(p50, currency)} in {months[-1]} "
        f"(P10 {format_money(p10, currency)}, P90 {format_money(p90, currency)})",
    ]
    nrr = ds["nrr_12m"].isel(month=-1).compute()
    if np.isfinite(nrr).any():
        grr = ds["grr_12m"].isel(month=-1).compute()
        lines.append(f"NRR   {_pct(float(nrr.median()))} over the last 12 months (P10 {_pct(float(nrr.quantile(0.1)))}, "
                     f"P90 {_pct(float(nrr.quantile(0.9)))}); GRR {_pct(float(grr.median()))}")
    customers = ds["active_customers"].sum("segment").isel(month=-1).compute()
    lines.append(f"Customers {float(customers.median()):,.0f} at horizon (P10 {float(customers.quantile(0.1)):,.0f}, "
                 f"P90 {float(customers.quantile(0.9)):,.0f})")
    if json.loads(ds.attrs.get("targets", "[]") or "[]"):
        from revsim.revops.compute import run_kpis
        from revsim.revops.targets import evaluate_targets
        from revsim.revops.text import target_lines

        lines += target_lines(evaluate_targets(run_kpis(ds, scenario=scenario)), currency)
    return "\n".join(lines)
