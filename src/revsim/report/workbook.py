"""``forecast.xlsx``: the monthly quantile tables and the assumptions, for finance (openpyxl).

Sheets:

========== =====================================================================================
Summary    the run, the headline numbers and each target's probability
ARR        ARR per month: mean, P5, P10, P50, P90, P95
Bridge     ARR movements per month (new, expansion, contraction, churn, net new): P10, P50, P90
Customers  active, new and churned customers and advocates per month: P10, P50, P90
Funnel     entries into each stage and each loop's entries per month: P10, P50, P90
Metrics    NRR, GRR, logo churn, win rate, pipeline, CAC, payback, LTV:CAC... per month: P10, P50, P90
All        every metric of ``summary.csv`` (long format: one row per month and metric)
Assumptions every uncertain input: distribution, P10, median, P90, mean, influence on ARR
About      provenance: versions, seed, scenario hash, command
========== =====================================================================================

Months are real dates (formatted ``mmm yyyy``), money is formatted in the run's currency, ratios as
percentages, so the numbers can be charted and summed in Excel directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.plot.draws import currency_of, month_interval, start_arr
from revsim.plot.targets import ChartTarget, chance_text, target_chance
from revsim.report.assumptions import assumptions_table, run_facts
from revsim.report.pages import input_label, target_name

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

__all__ = ["write_workbook", "SHEETS"]

SHEETS = ("Summary", "ARR", "Bridge", "Customers", "Funnel", "Metrics", "All", "Assumptions", "About")

_PERCENT = {"nrr_12m", "grr_12m", "logo_churn", "win_rate"}
_MULTIPLE = {"ltv_cac", "pipeline_coverage"}
_METRICS = ["nrr_12m", "grr_12m", "logo_churn", "win_rate", "open_pipeline_arr", "pipeline_coverage",
            "revenue_per_lead", "sales_marketing_spend", "cost_per_lead", "cac", "cac_payback_months", "ltv_cac"]
_HEADER_FILL = "1B2A41"
_BAND_FILL = "F3F5F8"


def _money_format(currency: str) -> str:
    from revsim.plot.money import currency_prefix

    symbol = currency_prefix(currency)
    return f'"{symbol}"#,##0' if symbol else f'#,##0 "{currency}"'


def _number_format(metric: str, units: str, currency: str) -> str:
    if metric in _PERCENT:
        return "0.0%"
    if metric in _MULTIPLE:
        return '0.00"x"'
    if units.startswith(currency):
        money = _money_format(currency)
        return money.replace("#,##0", "#,##0.00") if "per lead" in units else money
    if units == "months":
        return "0.0"
    return "#,##0"


def _style_header(ws: Any, rows: int = 1) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    for row in ws.iter_rows(min_row=1, max_row=rows):
        for cell in row:
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor=_HEADER_FILL)
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _widths(ws: Any, widths: dict[int, float] | None = None, default: float = 13) -> None:
    from openpyxl.utils import get_column_letter

    for index in range(1, ws.max_column + 1):
        ws.column_dimensions[get_column_letter(index)].width = (widths or {}).get(index, default)


def _wide_sheet(wb: Any, title: str, table: pd.DataFrame, metrics: Sequence[tuple[str, str]], currency: str,
                columns: Sequence[str] = ("p10", "p50", "p90")) -> None:
    """Months down, for each metric a block of quantile columns under a merged header."""
    from openpyxl.styles import Alignment

    ws = wb.create_sheet(title)
    present = [(m, label) for m, label in metrics if (table["metric"] == m).any()]
    if not present:
        ws.append(["Not in this run."])
        return
    months = sorted(set(table["month"]))
    ws.cell(row=1, column=1, value="Month")
    ws.cell(row=2, column=1, value="")
    ws.merge_cells(start_row=1, end_row=2, start_column=1, end_column=1)
    names = {"mean": "Mean", "p5": "P5", "p10": "P10", "p50": "P50 (median)", "p90": "P90", "p95": "P95"}
    for b, (metric, label) in enumerate(present):
        first = 2 + b * len(columns)
        ws.cell(row=1, column=first, value=label)
        if len(columns) > 1:
            ws.merge_cells(start_row=1, end_row=1, start_column=first, end_column=first + len(columns) - 1)
        for k, column in enumerate(columns):
            ws.cell(row=2, column=first + k, value=names[column])
    _style_header(ws, rows=2)
    import pandas as pd

    indexed = table.set_index(["metric", "month"])
    for r, month in enumerate(months, start=3):
        ws.cell(row=r, column=1, value=pd.Timestamp(f"{month}-01").to_pydatetime()).number_format = "mmm yyyy"
        for b, (metric, _) in enumerate(present):
            row = indexed.loc[(metric, month)]
            fmt = _number_format(metric, str(row["units"]), currency)
            for k, column in enumerate(columns):
                value = row[column]
                cell = ws.cell(row=r, column=2 + b * len(columns) + k,
                               value=None if not np.isfinite(value) else float(value))
                cell.number_format = fmt
    ws.freeze_panes = "B3"
    _widths(ws, {1: 11}, default=14)
    ws.row_dimensions[1].height = 30
    for cell in ws[1]:
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _summary_sheet(wb: Any, ds: xr.Dataset, targets: Sequence[ChartTarget]) -> None:
    from openpyxl.styles import Font

    currency = currency_of(ds)
    ws = wb.active
    ws.title = "Summary"
    ws.append([str(ds.attrs.get("scenario_name", "revsim forecast"))])
    ws["A1"].font = Font(bold=True, size=16)
    ws.append([])
    for label, value in run_facts(ds):
        ws.append([label, value])
    ws.append([])
    ws.append(["Headline", "P10", "P50 (median)", "P90"])
    header = ws.max_row
    money = _money_format(currency)
    ws.append(["ARR at start", start_arr(ds), start_arr(ds), start_arr(ds)])
    for cell in ws[ws.max_row][1:]:
        cell.number_format = money
    months = ds["month"].values
    end = str(months[-1])[:7]
    rows = [(f"ARR in {end}", "arr", money), (f"Customers in {end}", "active_customers", "#,##0")]
    if "nrr_12m" in ds:
        rows.append((f"NRR, 12 months to {end}", "nrr_12m", "0.0%"))
        rows.append((f"GRR, 12 months to {end}", "grr_12m", "0.0%"))
    for label, name, fmt in rows:
        p10, p50, p90 = month_interval(ds, name, -1)
        ws.append([label, *(None if not np.isfinite(v) else v for v in (p10, p50, p90))])
        for cell in ws[ws.max_row][1:]:
            cell.number_format = fmt
    for cell in ws[header]:
        cell.font = Font(bold=True)
    ws.append([])
    ws.append(["Target", "Metric", "Value", "Month", "Direction", "Probability of reaching it"])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for target in targets:
        ws.append([target_name(ds, target), target.metric, target.value if np.isfinite(target.value) else None,
                   target.at, target.direction, _probability_cell(ds, target)])
        ws.cell(row=ws.max_row, column=6).number_format = "0%"
        ws.cell(row=ws.max_row, column=3).number_format = money if target.metric in ("arr", "mrr") else (
            "0.0%" if target.metric in _PERCENT else "#,##0")
    _widths(ws, {1: 30, 2: 46}, default=16)


def _probability_cell(ds: xr.Dataset, target: ChartTarget) -> float | str | None:
    """The probability of reaching a target; a range as text when results kept as quantiles only bound it."""
    low, high = target_chance(ds, target)
    if not np.isfinite(low):
        return None
    return low if low == high else f"{chance_text(ds, target)} (bounds from the stored quantiles)"


def _assumptions_sheet(wb: Any, ds: xr.Dataset) -> None:
    ws = wb.create_sheet("Assumptions")
    table = assumptions_table(ds)
    ws.append(["Input", "Path", "Distribution", "Units", "P10", "Median", "P90", "Mean",
               "Influence on ARR at horizon (rank correlation)"])
    _style_header(ws)
    currency = currency_of(ds)
    for _, row in table.iterrows():
        ws.append([input_label(row["input"]), row["input"], row["distribution"], row["units"],
                   *(float(row[k]) if np.isfinite(row[k]) else None
                     for k in ("p10", "median", "p90", "mean", "influence"))])
        units = str(row["units"])
        fmt = "0.0%" if units == "ratio" else _money_format(currency) if units.startswith(currency) else "#,##0.####"
        for column in range(5, 9):
            ws.cell(row=ws.max_row, column=column).number_format = fmt
        ws.cell(row=ws.max_row, column=9).number_format = "+0.00;-0.00;0.00"
    ws.append([])
    ws.append(["Inputs held constant in the scenario are not stored in the results and are not listed."])
    ws.freeze_panes = "B2"
    _widths(ws, {1: 34, 2: 52, 3: 40, 4: 20, 9: 22}, default=13)


def _about_sheet(wb: Any, ds: xr.Dataset) -> None:
    ws = wb.create_sheet("About")
    ws.append(["Attribute", "Value"])
    _style_header(ws)
    for key, value in ds.attrs.items():
        ws.append([str(key), str(value)])
    _widths(ws, {1: 24, 2: 110})


def write_workbook(ds: xr.Dataset, path: str | Path, targets: Sequence[ChartTarget] = ()) -> None:
    """Write ``forecast.xlsx`` (see the module docstring for its sheets) to ``path``."""
    from openpyxl import Workbook

    from revsim.results.summary import summary_table

    currency = currency_of(ds)
    table = summary_table(ds)
    wb = Workbook()
    _summary_sheet(wb, ds, targets)
    _wide_sheet(wb, "ARR", table, [("arr", "ARR")], currency, columns=("mean", "p5", "p10", "p50", "p90", "p95"))
    _wide_sheet(wb, "Bridge", table, [("new_arr", "New ARR"), ("expansion_arr", "Expansion ARR"),
                                      ("contraction_arr", "Contraction ARR"), ("churned_arr", "Churned ARR"),
                                      ("net_new_arr", "Net new ARR")], currency)
    _wide_sheet(wb, "Customers", table, [("active_customers", "Customers"), ("new_customers", "New customers"),
                                         ("churned_customers", "Churned customers"), ("advocates", "Advocates")],
                currency)
    funnel = [(str(s), f"Entries: {s}") for s in ds["stage"].values] + \
        [(f"loop:{lp}", f"Loop: {lp}") for lp in ds["loop"].values]
    _wide_sheet(wb, "Funnel", table, funnel, currency)
    labels = {"nrr_12m": "NRR (12 mo)", "grr_12m": "GRR (12 mo)", "logo_churn": "Logo churn (per month)",
              "win_rate": "Win rate", "open_pipeline_arr": "Open pipeline ARR",
              "pipeline_coverage": "Pipeline coverage",
              "revenue_per_lead": "New ARR per lead", "sales_marketing_spend": "S&M spend per month",
              "cost_per_lead": "Cost per lead", "cac": "CAC", "cac_payback_months": "CAC payback (months)",
              "ltv_cac": "LTV:CAC"}
    _wide_sheet(wb, "Metrics", table, [(m, labels[m]) for m in _METRICS], currency)
    ws = wb.create_sheet("All")
    ws.append(list(table.columns))
    _style_header(ws)
    for row in table.itertuples(index=False):
        ws.append([None if isinstance(v, float) and not np.isfinite(v) else v for v in row])
    ws.freeze_panes = "A2"
    _widths(ws, {2: 24, 3: 24})
    _assumptions_sheet(wb, ds)
    _about_sheet(wb, ds)
    created = ds.attrs.get("created_at")
    if created:  # the workbook's dates are the run's, so the same results give the same workbook
        import pandas as pd

        stamp = pd.Timestamp(str(created)).tz_localize(None).to_pydatetime()
        wb.properties.created = stamp
        wb.properties.modified = stamp
    wb.properties.creator = "revsim"
    wb.properties.title = f"revsim forecast: {ds.attrs.get('scenario_name', '')}"
    wb.save(path)
