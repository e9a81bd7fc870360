"""The KPI panel: each RevOps metric's median and P10-P90, at 12 months and at the horizon.

Metrics the run does not have (no ``costs`` block: no CAC, payback, LTV, cost per lead; no sales quota: no
pipeline coverage) are left out and named in a note under the panel.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from revsim.plot import style
from revsim.plot.draws import at_month, currency_of, draw_count, interval, is_quantile_form, month_interval
from revsim.plot.money import format_money, format_money_range, format_months, format_percent, format_ratio
from revsim.plot.style import PALETTE, house_style

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr
    from matplotlib.axes import Axes

__all__ = ["kpi_panel", "kpi_table", "kpi_months", "missing_kpis", "KPIS"]

#: (Dataset variable, name on the panel, kind of number, what it needs when missing). Logo churn and the
#: sales cycle are read over the 12 months to the month shown, from the team KPIs (:mod:`revsim.revops`).
KPIS = (
    ("nrr_12m", "Net revenue retention (12 mo)", "percent", None),
    ("grr_12m", "Gross revenue retention (12 mo)", "percent", None),
    ("logo_churn", "Logo churn (12 mo)", "percent1", None),
    ("cac", "CAC (trailing 12 mo)", "money", "a costs block"),
    ("cac_payback_months", "CAC payback", "months", "a costs block"),
    ("ltv", "LTV (lifetime margin)", "money", "a costs block"),
    ("ltv_cac", "LTV : CAC", "ratio", "a costs block"),
    ("pipeline_coverage", "Pipeline coverage (quarter)", "ratio", "a sales quota (sales_capacity.quota_per_rep)"),
    ("win_rate", "Win rate", "percent", None),
    ("sales_cycle_months", "Sales cycle (12 mo)", "months", None),
    ("cost_per_lead", "Cost per lead", "money", "a costs block"),
    ("revenue_per_lead", "New ARR per lead", "money", None),
)


#: KPIs read over the 12 months to the month shown, in each draw: results kept as quantiles cannot give them.
_WINDOWED = ("logo_churn", "sales_cycle_months")


def _formatter(kind: str, currency: str) -> Callable[[float], str]:
    return {
        "percent": format_percent,
        "percent1": lambda v: format_percent(v, decimals=1),
        "money": lambda v: format_money(v, currency),
        "months": format_months,
        "ratio": format_ratio,
    }[kind]


def _range(kind: str, currency: str, low: float, high: float) -> str:
    """``87–94%``, ``5.3–9.5 mo``, ``$7.64k–$12.8k``: the unit once where it is a suffix."""
    fmt = _formatter(kind, currency)
    if fmt(low) == fmt(high):
        return "the same in every draw"
    if kind in ("percent", "percent1", "months", "ratio"):
        unit = {"percent": "%", "percent1": "%", "months": " mo", "ratio": "x"}[kind]
        return f"{fmt(low).removesuffix(unit)}\u2013{fmt(high)}"
    return format_money_range(low, high, currency)


def kpi_months(ds: xr.Dataset) -> list[int]:
    """The month positions the panel reads: month 12 and the horizon (just the horizon for short runs)."""
    n = ds.sizes["month"]
    return [11, n - 1] if n > 12 else [n - 1]


def missing_kpis(ds: xr.Dataset) -> list[tuple[str, str]]:
    """(name, what it needs) of each KPI this run does not have."""
    missing = [(name, needs or "a newer revsim") for variable, name, _, needs in KPIS if variable not in ds]
    if is_quantile_form(ds):
        missing += [(name, "per-draw values (it kept quantiles)") for variable, name, _, _ in KPIS
                    if variable in _WINDOWED and variable in ds]
    return missing


def kpi_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per KPI and month read: median, P10, P90 and their text as printed on the panel.

    Columns: ``variable``, ``kpi``, ``month`` (YYYY-MM), ``p10``, ``p50``, ``p90``, ``median_text``,
    ``range_text``. Per-draw KPIs without a month (LTV, sales cycle) have the same value in every month.
    """
    import pandas as pd

    currency = currency_of(ds)
    windowed, first_stage = _windowed_kpis(ds)
    rows = []
    for variable, name, kind, _ in KPIS:
        if variable not in ds or (variable in _WINDOWED and is_quantile_form(ds)):
            continue
        fmt = _formatter(kind, currency)
        if variable == "cost_per_lead" and first_stage:
            name = textwrap.shorten(f"Cost per {first_stage}", 32, placeholder="\u2026")
        for index in kpi_months(ds):
            if variable in windowed:
                p10, p50, p90 = interval(windowed[variable](index))
            elif is_quantile_form(ds):  # the stored quantiles of the month (or of the value per draw)
                p10, p50, p90 = month_interval(ds, variable, index)
            else:
                p10, p50, p90 = interval(at_month(ds[variable], index))
            rows.append({
                "variable": variable, "kpi": name, "month": str(ds["month"].values[index])[:7],
                "p10": p10, "p50": p50, "p90": p90, "median_text": fmt(p50),
                "range_text": "not defined yet" if not np.isfinite(p50) else _range(kind, currency, p10, p90),
            })
    return pd.DataFrame(rows)


def _windowed_kpis(ds: xr.Dataset) -> tuple[dict[str, Callable[[int], np.ndarray]], str | None]:
    """Logo churn and the sales cycle over the 12 months to a month (pooled: lost customers over customers at
    the window's start; months in the closing stage by Little's law), and the first stage's name (cost per
    lead is per entry into it); nothing when the run's scenario is not at hand."""
    from revsim.errors import RevsimError

    try:
        from revsim.revops.catalogue import display_stage
        from revsim.revops.compute import run_kpis

        run = run_kpis(ds)
    except RevsimError:
        return {}, None

    def window(name: str) -> Callable[[int], np.ndarray]:
        return lambda index: run.values(name, [(max(0, index - 11), index)])[:, 0]

    first = display_stage(run.structure.first)
    return {"logo_churn": window("logo_churn"), "sales_cycle_months": window("sales_cycle_months")}, \
        first if first.isupper() else first.lower()


def kpi_title(ds: xr.Dataset) -> str:
    """The finding: NRR at the horizon with LTV:CAC (or GRR when the run has no costs)."""
    table = kpi_table(ds)
    last = table[table["month"] == table["month"].iloc[-1]].set_index("variable")
    when = style.month_label(last["month"].iloc[0])
    parts = []
    if "nrr_12m" in last.index and np.isfinite(last.loc["nrr_12m", "p50"]):
        parts.append(f"NRR {last.loc['nrr_12m', 'median_text']}")
    if "ltv_cac" in last.index and np.isfinite(last.loc["ltv_cac", "p50"]):
        parts.append(f"LTV:CAC {last.loc['ltv_cac', 'median_text']}")
    elif "grr_12m" in last.index and np.isfinite(last.loc["grr_12m", "p50"]):
        parts.append(f"GRR {last.loc['grr_12m', 'median_text']}")
    if not parts:
        return f"Key metrics by {when}"
    return " and ".join(parts) + f" by {when}"


@house_style
def kpi_panel(ds: xr.Dataset, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """A table of the RevOps KPIs: median (large) and P10-P90 (small), at month 12 and at the horizon.

    Parameters
    ----------
    ds
        Results of a run.
    ax
        Axes to draw into (its frame is hidden); a new slide-sized figure when None.
    title
        Title of a new figure (default: the finding).

    Returns
    -------
    matplotlib.axes.Axes
        The texts are those of :func:`kpi_table`.
    """
    table = kpi_table(ds)
    months = kpi_months(ds)
    if ax is None:
        subtitle = (f"Median of {draw_count(ds):,} simulated draws, and the range holding 8 in 10 of them "
                    "(P10\u2013P90).")
        _, ax = style.house_figure(ds, title or kpi_title(ds), subtitle, content=(0.04, 0.1, 0.96, 0.8))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    kpis = list(dict.fromkeys(table["kpi"]))
    n = len(kpis)
    missing = missing_kpis(ds)
    footer = 0.09 if missing else 0.0
    header = 0.08
    row_height = (1 - header - footer) / max(n, 1)
    columns = [0.36, 0.70] if len(months) == 2 else [0.55]
    for x, index in zip(columns, months, strict=True):
        label = style.month_label(ds["month"].values[index])
        when = "month 12" if index == 11 and len(months) == 2 else "horizon"
        ax.text(x + 0.135, 1 - header / 2, f"{label} ({when})", ha="center", va="center", fontsize=14,
                fontweight="bold", color=PALETTE["muted"])
    ax.plot([0, 1], [1 - header, 1 - header], color=PALETTE["faint"], linewidth=1.2)
    for i, kpi in enumerate(kpis):
        y = 1 - header - (i + 0.5) * row_height
        if i % 2 == 0:
            ax.axhspan(y - row_height / 2, y + row_height / 2, color="#F3F5F8", zorder=0, linewidth=0)
        ax.text(0.01, y, kpi, ha="left", va="center", fontsize=15, color=PALETTE["ink"])
        rows = table[table["kpi"] == kpi]
        for x, (_, row) in zip(columns, rows.iterrows(), strict=True):
            ax.text(x + 0.1, y, row["median_text"], ha="right", va="center", fontsize=17, fontweight="bold",
                    color=PALETTE["primary"] if np.isfinite(row["p50"]) else PALETTE["faint"],
                    gid=f"kpi-median-{row['variable']}-{row['month']}")
            ax.text(x + 0.115, y, row["range_text"], ha="left", va="center", fontsize=13, color=PALETTE["muted"])
    if missing:
        needs: dict[str, list[str]] = {}
        for name, need in missing:
            needs.setdefault(need, []).append(name.split(" (")[0])
        note = "; ".join(f"{', '.join(names)}: the run has no {need[2:] if need.startswith('a ') else need}"
                         for need, names in needs.items())
        ax.text(0.01, footer / 2, "Not shown. " + note + ".", ha="left", va="center", fontsize=12,
                color=PALETTE["muted"], wrap=True)
    ax.set_ylim(0, 1)
    return ax
