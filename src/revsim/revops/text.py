"""Team KPIs, targets, AARRR and the North Star as text: the lines ``revsim run`` and ``revsim kpis`` print,
and the long table ``kpis.csv`` holds."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from revsim.plot.money import (
    format_count,
    format_money,
    format_months,
    format_percent,
    format_probability,
    format_ratio,
)
from revsim.revops.structure import TEAM_LABELS, TEAMS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from revsim.revops.north_star import DriverTree, NorthStarView
    from revsim.revops.targets import TargetReport

__all__ = ["format_kpi", "format_kpi_range", "kpi_long_table", "kpi_text", "aarrr_text", "north_star_text",
           "drivers_text", "target_lines", "QUANTILES", "CSV_COLUMNS"]

#: The quantiles ``kpis.csv`` reports, besides the mean (as ``summary.csv``).
QUANTILES = (0.05, 0.10, 0.50, 0.90, 0.95)
CSV_COLUMNS = ["team", "kpi", "label", "units", "kind", "period", "period_start", "period_end", "months", "complete",
               "mean", "p5", "p10", "p50", "p90", "p95"]
#: At most this many periods are printed side by side (kpis.csv holds them all).
PRINTED_PERIODS = 4


def format_kpi(value: float, unit: str, currency: str) -> str:
    """A KPI value in its unit: ``$1.2M``, ``1,234``, ``35%``, ``2.6 mo``, ``3.1x``."""
    if not np.isfinite(value):
        return "n/a"
    if unit in ("money", "arr"):
        return format_money(value, currency)
    if unit == "ratio":
        return format_percent(value, decimals=1 if abs(value) < 0.1 else 0)
    if unit == "months":
        return format_months(value)
    if unit == "multiple":
        return format_ratio(value)
    return format_count(value)


def format_kpi_range(low: float, high: float, unit: str, currency: str) -> str:
    """``1,100\u20131,400``, ``2.3\u20132.7 mo``, ``30\u201340%``: a unit written after the number once; the same
    text at both ends once."""
    a, b = format_kpi(low, unit, currency), format_kpi(high, unit, currency)
    if a == b:
        return a
    for suffix in (" mo", "%", "x"):
        if a.endswith(suffix) and b.endswith(suffix):
            a = a.removesuffix(suffix)
            break
    return f"{a}\u2013{b}"


def _unit_of(da: xr.DataArray, currency: str) -> str:
    units = str(da.attrs.get("units", ""))
    if units.endswith("of ARR"):
        return "arr"
    if units == currency:
        return "money"
    return {"ratio": "ratio", "months": "months", "multiple": "multiple"}.get(units, "count")


def _quantiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and :data:`QUANTILES` per column, NaN-aware (columns undefined in every draw stay NaN)."""
    values = np.where(np.isfinite(values), values, np.nan)
    defined = ~np.isnan(values).all(axis=0)
    mean = np.full(values.shape[1], np.nan)
    q = np.full((len(QUANTILES), values.shape[1]), np.nan)
    if defined.any():
        mean[defined] = np.nanmean(values[:, defined], axis=0)
        q[:, defined] = np.nanquantile(values[:, defined], QUANTILES, axis=0)
    return mean, q


def kpi_long_table(table: xr.Dataset) -> pd.DataFrame:
    """``kpis.csv``: one row per KPI and period with the mean and quantiles across draws."""
    import pandas as pd

    frames = []
    starts = pd.DatetimeIndex(table["period_start"].values).strftime("%Y-%m")
    ends = pd.DatetimeIndex(table["period_end"].values).strftime("%Y-%m")
    for name, da in table.data_vars.items():
        mean, q = _quantiles(np.asarray(da.transpose("draw", "period").values, dtype=float))
        frame = pd.DataFrame({"team": da.attrs["team"], "kpi": name, "label": da.attrs["label"],
                              "units": da.attrs["units"], "kind": da.attrs["kind"],
                              "period": table["period"].values, "period_start": starts, "period_end": ends,
                              "months": table["months"].values, "complete": table["complete"].values, "mean": mean})
        for quantile, row in zip(QUANTILES, q, strict=True):
            frame[f"p{round(quantile * 100)}"] = row
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=CSV_COLUMNS)
    long = pd.concat(frames, ignore_index=True)
    order = {team: i for i, team in enumerate(TEAMS)}
    long["_team"] = long["team"].map(order)
    return long.sort_values(["_team"], kind="stable").drop(columns="_team").reset_index(drop=True)[CSV_COLUMNS]


def _period_heading(table: xr.Dataset, index: int) -> str:
    label = str(table["period"].values[index])
    if bool(table["complete"].values[index]):
        return label
    kind = table.attrs.get("period_kind", "year")
    size = {"month": 1, "quarter": 3, "year": 12}.get(kind, 12)
    return f"{label} ({int(table['months'].values[index])}/{size} mo)"


def _shown(table: xr.Dataset) -> list[int]:
    n = table.sizes["period"]
    return list(range(max(0, n - PRINTED_PERIODS), n))


def _header(table: xr.Dataset, shown: list[int], label_width: int, cell: int) -> str:
    return " " * label_width + "".join(f"{_period_heading(table, i):>{cell}}" for i in shown)


def _cells(table: xr.Dataset, name: str, shown: list[int], currency: str) -> list[str]:
    """One variable per shown period: its median and P10-P90."""
    da = table[name]
    unit = _unit_of(da, currency)
    values = np.asarray(da.transpose("draw", "period").values, dtype=float)[:, shown]
    _, q = _quantiles(values)
    cells = []
    for low, median, high in zip(q[1], q[2], q[3], strict=True):
        text = format_kpi(median, unit, currency)
        spread = format_kpi_range(low, high, unit, currency) if np.isfinite(low) else ""
        cells.append(text + (f" ({spread})" if spread and spread != text else ""))
    return cells


def _block(table: xr.Dataset, names: list[str], shown: list[int], label_width: int, currency: str,
           cell: int | None = None) -> list[str]:
    """A header and one row per variable, columns as wide as their widest cell (or ``cell``)."""
    rows = {name: _cells(table, name, shown, currency) for name in names}
    cell = cell or _cell_width(table, rows.values(), shown)
    lines = [_header(table, shown, label_width, cell)]
    for name, cells in rows.items():
        label = textwrap.shorten(str(table[name].attrs["label"]), label_width - 2, placeholder="\u2026")
        lines.append(f"  {label:<{label_width - 2}}" + "".join(f"{c:>{cell}}" for c in cells))
    return lines


def _cell_width(table: xr.Dataset, rows: Iterable[list[str]], shown: list[int]) -> int:
    return max([len(_period_heading(table, i)) for i in shown] + [len(c) for cs in rows for c in cs]) + 2


def kpi_text(table: xr.Dataset) -> str:
    """The KPIs of a table (:func:`revsim.kpis`) grouped by team: per period, median and P10-P90.

    At most :data:`PRINTED_PERIODS` periods are printed (the last ones); a partial period says how many of
    its months the run covers.
    """
    currency = str(table.attrs.get("currency", "USD"))
    label_width = 40
    shown = _shown(table)
    n = table.sizes["period"]
    from revsim.printable import printable

    lines = [f"{printable(str(table.attrs.get('scenario_name', '')), lines=False)}: team KPIs per {table.attrs.get('period_kind', 'period')} "
             f"({table.attrs.get('calendar', '')}), median and P10\u2013P90 of {table.sizes['draw']:,} draws"]
    if len(shown) < n:
        lines.append(f"(the last {len(shown)} of {n} periods; the CSV files have them all)")
    groups: dict[str, list[str]] = {team: [] for team in TEAMS}
    for name, da in table.data_vars.items():
        groups[str(da.attrs["team"])].append(str(name))
    cell = _cell_width(table, (_cells(table, str(name), shown, currency) for name in table.data_vars), shown)
    for team in TEAMS:
        if groups[team]:
            lines += ["", TEAM_LABELS[team], *_block(table, groups[team], shown, label_width, currency, cell)]
    return "\n".join(lines)


def aarrr_text(view: xr.Dataset) -> str:
    """The AARRR view (:func:`revsim.revops.aarrr.aarrr`): each stage's value and the conversion into it."""
    currency = str(view.attrs.get("currency", "USD"))
    lines = ["AARRR: Acquisition, Activation, Retention, Referral, Revenue (median and P10\u2013P90)"]
    lines += _block(view, [str(n) for n in view.data_vars], _shown(view), 40, currency)
    return "\n".join(lines)


def north_star_text(star: NorthStarView, currency: str) -> str:
    """The North Star and its inputs per period."""
    lines = [f"North Star: {star.name} ({star.metric}), and its input metrics"]
    lines += _block(star.table, [str(n) for n in star.table.data_vars], _shown(star.table), 40, currency)
    return "\n".join(lines)


def drivers_text(tree: DriverTree) -> str:
    """The driver tree as lines: per input, its lever, how much it moved the input and the North Star."""
    lines = [f"What moves the North Star ({tree.name}, {tree.period}): paired runs, {tree.draws:,} draws, seed "
             f"{tree.seed}"]
    for _, row in tree.table.iterrows():
        if row["note"]:
            lines.append(f"  {row['label']}: not measured ({row['note']})")
            continue
        lines.append(f"  {row['label']}: {row['lever']} moves it {_signed_percent(row['input_change'])} and the "
                     f"North Star {_signed_percent(row['north_star_change'])} (elasticity {row['elasticity']:.2f}; "
                     f"up in {row['p_up']:.0%} of draws)")
    return "\n".join(lines)


def _signed_percent(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value * 100:+.1f}%"


def target_lines(report: TargetReport, currency: str) -> list[str]:
    """Per target the share of draws that reach it; then, with two targets or more, the share that reaches
    them all and each conflicting pair."""

    lines = []
    for t in report.targets:
        sign = "<=" if t.below else ">="
        condition = f"{t.metric} {sign} {t.goal_text} in {t.period}"
        name = f"'{t.spec['name']}' ({condition})" if t.spec.get("name") else condition
        lines.append(f"Target {name}: {format_probability(t.probability)} of draws reach it")
    if len(report.targets) >= 2:
        independent = float(np.prod([t.probability for t in report.targets]))
        lines.append(f"All {len(report.targets)} targets together: {format_probability(report.joint)} of draws "
                     f"({format_probability(independent)} if they were independent)")
        for pair in report.conflicts():
            lines.append(f"Conflict: '{pair['first']}' and '{pair['second']}' are reached together in "
                         f"{format_probability(pair['p_both'])} of draws, "
                         f"{format_probability(pair['p_both_if_independent'])} if they were independent")
    return lines
