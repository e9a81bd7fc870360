"""The scenario's assumptions as the results hold them: the run's facts and every uncertain input.

Each uncertain input is a ``param_*`` variable of the Dataset (its path, distribution and unit in its
attributes, its value in every draw). The table adds the sampled P10, median and P90 and the input's
**influence**: the rank correlation of its draws with ARR at the horizon, the usual first look at what
moves the forecast. Inputs held constant are not stored in the results and so are not listed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from revsim.plot.draws import currency_of, draw_count, is_quantile_form, total
from revsim.plot.input_labels import format_input
from revsim.plot.money import format_count, format_money
from revsim.plot.style import month_label

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

__all__ = ["assumptions_table", "run_facts", "format_input", "rank_correlation"]


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    import pandas as pd

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return float("nan")
    rx = pd.Series(x[keep]).rank().to_numpy()
    ry = pd.Series(y[keep]).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def assumptions_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per uncertain input, most influential on ARR at the horizon first.

    Columns: ``input`` (path), ``distribution``, ``units``, ``p10``, ``median``, ``p90``, ``mean``,
    ``influence`` (rank correlation with ARR at the horizon, -1 to 1), and ``p10_text``, ``median_text``,
    ``p90_text`` as printed in the report.
    """
    import pandas as pd

    currency = currency_of(ds)
    # results kept as quantiles keep every draw of the inputs but not of ARR: no influence then
    arr_end = None if is_quantile_form(ds) else np.asarray(total(ds, "arr").isel(month=-1).values, dtype=float)
    rows = []
    for name in ds.data_vars:
        if not str(name).startswith("param_"):
            continue
        da = ds[name]
        values = np.asarray(da.values, dtype=float)
        units = str(da.attrs.get("units", ""))
        p10, p50, p90 = np.nanquantile(values, [0.1, 0.5, 0.9]) if np.isfinite(values).any() else (np.nan,) * 3
        rows.append({
            "input": str(da.attrs.get("path", str(name)[6:])),
            "distribution": str(da.attrs.get("distribution", "")),
            "units": units,
            "p10": float(p10), "median": float(p50), "p90": float(p90), "mean": float(np.nanmean(values)),
            "influence": float("nan") if arr_end is None else rank_correlation(values, arr_end),
            "p10_text": format_input(p10, units, currency, p50),
            "median_text": format_input(p50, units, currency, p50),
            "p90_text": format_input(p90, units, currency, p50),
        })
    columns = ["input", "distribution", "units", "p10", "median", "p90", "mean", "influence", "p10_text",
               "median_text", "p90_text"]
    table = pd.DataFrame(rows, columns=columns)
    order = np.argsort(-np.nan_to_num(np.abs(table["influence"].to_numpy(dtype=float)), nan=-1.0), kind="stable")
    return table.iloc[order].reset_index(drop=True)


def run_facts(ds: xr.Dataset) -> list[tuple[str, str]]:
    """(label, value) pairs describing the run: scenario, horizon, segments, stages, loops, provenance."""
    attrs = ds.attrs
    months = ds["month"].values
    facts = [
        ("Scenario", str(attrs.get("scenario_name", ""))),
        ("Horizon", f"{ds.sizes['month']} months, {month_label(months[0])} to {month_label(months[-1])}"),
        ("Currency", currency_of(ds)),
        ("Segments", ", ".join(str(s) for s in ds["segment"].values)),
        ("Funnel stages", " > ".join(str(s) for s in ds["stage"].values)),
        ("Growth loops", ", ".join(str(s) for s in ds["loop"].values) or "none"),
        ("Starting book", f"{format_money(float(ds['initial_arr'].sum()), currency_of(ds))} ARR, "
                          f"{format_count(float(ds['initial_customers'].sum()))} customers"
         if "initial_arr" in ds and "initial_customers" in ds else "n/a"),
        ("Draws, seed", f"{draw_count(ds):,} draws, seed {attrs.get('seed', 'n/a')}"),
        ("Run", f"{attrs.get('created_at', 'n/a')} with revsim {attrs.get('revsim_version', 'n/a')}"),
        ("Scenario file", str(attrs.get("scenario_file", "n/a"))),
        ("Scenario SHA-256", str(attrs.get("scenario_sha256", "n/a"))[:16] + "\u2026"),
    ]
    warnings = json.loads(attrs.get("warnings", "[]") or "[]")
    if warnings:
        facts.append(("Warnings", "; ".join(warnings)))
    return facts
