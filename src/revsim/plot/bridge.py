"""The ARR bridge of a period as a waterfall: start, + new, + expansion, - contraction, - churn, = end.

Bar heights are **means** across draws: means add up, so the bars close exactly (start + new + expansion -
contraction - churn = end, as the ARR bridge holds in every draw), which medians do not. Each bar carries a
P10-P90 whisker: the spread of that movement (or of ARR itself for the start and end bars) across draws.

Results kept as quantiles (``--keep quantiles``) give the same bars (a mean of a sum is the sum of the
means) and the whiskers of the start and end ARR; the spread of a movement summed over a period needs every
draw, so those bars have no whisker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.plot import style
from revsim.plot.draws import (
    currency_of,
    draw_count,
    is_quantile_form,
    month_index,
    monthly_mean,
    monthly_quantiles,
    quantiles,
    start_arr,
    total,
)
from revsim.plot.money import format_money, format_money_range
from revsim.plot.style import PALETTE, house_style

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr
    from matplotlib.axes import Axes

__all__ = ["bridge_waterfall", "bridge_values", "bridge_title", "bridge_subtitle", "default_periods",
           "resolve_period", "period_label", "BRIDGE_STEPS"]

#: (row name, label on the chart, Dataset variable, sign)
BRIDGE_STEPS = (
    ("start", "Start ARR", None, 0),
    ("new", "New logos", "new_arr", +1),
    ("expansion", "Expansion", "expansion_arr", +1),
    ("contraction", "Contraction", "contraction_arr", -1),
    ("churn", "Churn", "churned_arr", -1),
    ("end", "End ARR", None, 0),
)

Period = tuple[int, int]


def resolve_period(ds: xr.Dataset, period: Any = None) -> Period:
    """(first, last) month positions of a period: ``("2027-01", "2027-12")``, month positions, or None (all)."""
    n = ds.sizes["month"]
    if period is None:
        return 0, n - 1
    first, last = (month_index(ds, p) for p in period)
    if last < first:
        raise ValueError(f"the period ends ({last}) before it starts ({first})")
    return first, last


def default_periods(ds: xr.Dataset) -> list[Period]:
    """The first 12 months and the whole horizon (just the horizon when it is 12 months or shorter)."""
    n = ds.sizes["month"]
    return [(0, 11), (0, n - 1)] if n > 12 else [(0, n - 1)]


def period_label(ds: xr.Dataset, period: Period) -> str:
    """``Jan-Dec 2027`` or ``Jan 2027-Dec 2029``."""
    months = ds["month"].values
    first, last = (style.month_label(months[i]) for i in period)
    if first[-4:] == last[-4:]:
        return f"{first[:3]}\u2013{last}" if first != last else last
    return f"{first}\u2013{last}"


def _per_draw(ds: xr.Dataset, period: Period) -> dict[str, np.ndarray]:
    first, last = period
    arr = total(ds, "arr").transpose("draw", "month").values
    start = np.full(arr.shape[0], start_arr(ds)) if first == 0 else arr[:, first - 1]
    values = {"start": start, "end": arr[:, last]}
    for name, _, variable, _ in BRIDGE_STEPS:
        if variable is not None:
            values[name] = total(ds, variable).transpose("draw", "month").values[:, first:last + 1].sum(axis=1)
    return values


def _from_draws(ds: xr.Dataset, period: Period) -> dict[str, tuple[float, float, float, float]]:
    """Per bar: the mean, P10, median and P90 across draws."""
    out = {}
    for name, draws in _per_draw(ds, period).items():
        p10, p50, p90 = quantiles(draws, (0.1, 0.5, 0.9))
        out[name] = (float(np.mean(draws)), p10, p50, p90)
    return out


def _from_quantiles(ds: xr.Dataset, period: Period) -> dict[str, tuple[float, float, float, float]]:
    """Per bar, from results kept as quantiles: the mean (exact), and the quantiles of the ARR levels (the
    movements' are NaN: a sum over months has no stored quantiles)."""
    first, last = period
    arr_mean = monthly_mean(ds, "arr")
    arr_q = monthly_quantiles(ds, "arr", (0.1, 0.5, 0.9))
    start = start_arr(ds)
    out = {"start": (start, start, start, start) if first == 0 else
           (float(arr_mean[first - 1]), *(float(v) for v in arr_q[:, first - 1])),
           "end": (float(arr_mean[last]), *(float(v) for v in arr_q[:, last]))}
    for name, _, variable, _ in BRIDGE_STEPS:
        if variable is not None:
            out[name] = (float(monthly_mean(ds, variable)[first:last + 1].sum()), np.nan, np.nan, np.nan)
    return out


def bridge_values(ds: xr.Dataset, period: Any = None) -> pd.DataFrame:
    """The bridge of ``period`` (default: the whole horizon): one row per bar.

    Columns: ``label``, ``sign`` (+1 adds, -1 takes away, 0 for the ARR levels), ``mean``, ``p10``, ``p50``,
    ``p90`` (the movements are positive amounts; ``sign`` says which way they go), and ``base``, ``top``:
    where the floating bar starts and ends on the chart.
    """
    import pandas as pd

    summaries = _from_quantiles(ds, resolve_period(ds, period)) if is_quantile_form(ds) else \
        _from_draws(ds, resolve_period(ds, period))
    rows = []
    running = 0.0
    for name, label, _, sign in BRIDGE_STEPS:
        mean, p10, p50, p90 = summaries[name]
        if sign == 0:
            base, top = 0.0, mean
            running = mean
        else:
            base, top = running, running + sign * mean
            running = top
        rows.append({"step": name, "label": label, "sign": sign, "mean": mean, "p10": p10, "p50": p50,
                     "p90": p90, "base": base, "top": top})
    return pd.DataFrame(rows).set_index("step")


def _phrase(ds: xr.Dataset, period: Period) -> str:
    first, last = period
    n = last - first + 1
    if first == 0 and last == ds.sizes["month"] - 1:
        return f"over {n} months"
    if first == 0 and n == 12:
        return "in the first 12 months"
    return f"in {period_label(ds, period)}"


def bridge_title(ds: xr.Dataset, period: Any = None) -> str:
    """The finding: which movement adds most ARR in the period, and how much."""
    table = bridge_values(ds, period)
    currency = currency_of(ds)
    gains = table[table["sign"] > 0]["mean"]
    driver = gains.idxmax()
    name = {"new": "New logos add", "expansion": "Expansion adds"}[driver]
    return f"{name} {format_money(gains[driver], currency)} of ARR {_phrase(ds, resolve_period(ds, period))}"


def bridge_subtitle(ds: xr.Dataset, period: Any = None) -> str:
    table = bridge_values(ds, period)
    currency = currency_of(ds)
    m = table["mean"]
    money = lambda v: format_money(v, currency)  # noqa: E731
    return (f"Churn takes {money(m['churn'])} and contraction {money(m['contraction'])}; ARR goes from "
            f"{money(m['start'])} to {money(m['end'])} ({period_label(ds, resolve_period(ds, period))}).\n"
            + (f"Bars: means of {draw_count(ds):,} simulated draws, which add up; whiskers: P10\u2013P90 of ARR "
               "(kept as quantiles)." if is_quantile_form(ds) else
               f"Bars: means of {ds.sizes['draw']:,} simulated draws, which add up; whiskers and ranges: "
               "P10\u2013P90."))


@house_style
def bridge_waterfall(ds: xr.Dataset, period: Sequence[Any] | None = None, ax: Axes | None = None, *,
                     title: str | None = None) -> Axes:
    """ARR bridge waterfall of one period with P10-P90 whiskers on every bar.

    Parameters
    ----------
    ds
        Results of a run.
    period
        ``(first, last)`` months, as ``YYYY-MM`` or positions; default the whole horizon.
        :func:`default_periods` gives the report's two (first 12 months, whole horizon).
    ax
        Axes to draw into; a new slide-sized figure when None.
    title
        Title of a new figure (default: the finding).

    Returns
    -------
    matplotlib.axes.Axes
        The value printed on each bar is its mean (:func:`bridge_values`).
    """
    currency = currency_of(ds)
    if ax is None:
        _, ax = style.house_figure(ds, title or bridge_title(ds, period), bridge_subtitle(ds, period),
                                   content=(0.085, 0.19, 0.975, 0.76))
    table = bridge_values(ds, period)
    colours = {"start": PALETTE["total"], "end": PALETTE["total"], "new": PALETTE["gain"],
               "expansion": PALETTE["gain_light"], "contraction": PALETTE["loss_light"], "churn": PALETTE["loss"]}
    x = np.arange(len(table))
    width = 0.62
    lows, highs = [], []
    for i, (step, row) in enumerate(table.iterrows()):
        bottom, height = min(row["base"], row["top"]), abs(row["top"] - row["base"])
        ax.bar(i, height, bottom=bottom, width=width, color=colours[step], zorder=2)
        if row["sign"] == 0:
            low, high = row["p10"], row["p90"]
        elif row["sign"] > 0:
            low, high = row["base"] + row["p10"], row["base"] + row["p90"]
        else:
            low, high = row["base"] - row["p90"], row["base"] - row["p10"]
        if not high > low:  # no spread (or none kept): the bar alone
            low = high = row["top"] if row["sign"] else row["mean"]
        if high > low:
            ax.errorbar(i, (low + high) / 2, yerr=[[(high - low) / 2]], fmt="none", ecolor=PALETTE["ink"],
                        elinewidth=1.6, capsize=7, capthick=1.6, zorder=3)
        lows.append(min(low, bottom))
        highs.append(max(high, bottom + height))
        if i < len(table) - 1:  # connector to the next bar
            level = row["top"]
            ax.plot([i + width / 2, i + 1 - width / 2], [level, level], color=PALETTE["faint"], linewidth=1,
                    linestyle=(0, (2, 2)), zorder=1)

    span = max(highs) - min(0.0, min(lows))
    for i, (_, row) in enumerate(table.iterrows()):
        text = format_money(row["mean"] * (row["sign"] or 1), currency, signed=row["sign"] != 0)
        above = row["sign"] >= 0
        ax.text(i, highs[i] + 0.02 * span if above else lows[i] - 0.02 * span, text, ha="center",
                va="bottom" if above else "top", fontsize=15, fontweight="bold",
                color=PALETTE["ink"] if above else PALETTE["loss"], gid=f"bridge-value-{table.index[i]}")
        if row["p90"] > row["p10"]:  # the range, under the bar's name
            interval = format_money_range(row["p10"], row["p90"], currency)
            ax.text(i, -0.12, interval, transform=ax.get_xaxis_transform(), ha="center", va="top",
                    fontsize=12, color=PALETTE["muted"])
    ax.text(-0.6, -0.12, "P10\u2013P90", transform=ax.get_xaxis_transform(), ha="right", va="top",
            fontsize=12, color=PALETTE["muted"])
    ax.set_xticks(x, list(table["label"]), fontsize=14)
    ax.set_xlim(-0.6, len(table) - 0.4)
    label_room = min(lows[i] for i in range(len(table)) if table["sign"].iloc[i] < 0) - 0.1 * span
    ax.set_ylim(min(0.0, label_room), max(highs) + 0.1 * span)
    style.clean_axes(ax)
    ax.tick_params(axis="x", length=0, pad=8)
    style.money_axis(ax, currency)
    return ax
