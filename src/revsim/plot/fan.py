"""The ARR fan chart: the median path and nested 50% / 80% / 90% bands, history, and the targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.plot import style
from revsim.plot.draws import currency_of, draw_count, month_labels, monthly_quantiles, start_arr
from revsim.plot.labels import spread
from revsim.plot.money import format_money
from revsim.plot.style import PALETTE, house_style
from revsim.plot.targets import (
    ChartTarget,
    chance_text,
    scenario_targets,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr
    from matplotlib.axes import Axes

__all__ = ["fan_chart", "fan_quantiles", "fan_title", "fan_subtitle", "target_label", "history_of"]

#: The quantiles drawn: the bands' edges and the median.
FAN_QUANTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)


def fan_quantiles(ds: xr.Dataset) -> pd.DataFrame:
    """ARR quantiles per month, with the start (the initial book, the month before ``start``) first.

    Columns ``p5``, ``p10``, ``p25``, ``p50``, ``p75``, ``p90``, ``p95``; the index is the month (first day).
    """
    import pandas as pd

    q = monthly_quantiles(ds, "arr", FAN_QUANTILES)  # the stored ones in results kept as quantiles
    months = month_labels(ds)
    index = pd.DatetimeIndex([months[0] - pd.DateOffset(months=1), *months])
    values = np.column_stack([np.full(len(FAN_QUANTILES), start_arr(ds)), q])
    return pd.DataFrame(values.T, index=index, columns=[f"p{round(p * 100)}" for p in FAN_QUANTILES])


def history_of(ds: xr.Dataset, history: Any = None) -> pd.Series | None:
    """Actual ARR before the forecast, as a Series indexed by month (None when there is none).

    ``history`` is a Series of ARR indexed by month (``YYYY-MM`` or dates), or an MRR history read for a
    calibration (an object with ``months`` and ``mrr`` [month, segment], MRR at month end: ARR is 12 x its
    total). By default the Dataset's ``history_arr`` (dimension ``history_month``) is used when the run has
    one.
    """
    import pandas as pd

    if history is not None and hasattr(history, "months") and hasattr(history, "mrr"):
        if history.mrr is None:
            return None
        mrr = np.asarray(history.mrr, dtype=float)
        history = pd.Series(12 * (mrr.sum(axis=1) if mrr.ndim == 2 else mrr), index=list(history.months))
    if history is None and "history_arr" in ds:
        da = ds["history_arr"]
        history = pd.Series(np.asarray(da.values, dtype=float), index=pd.DatetimeIndex(da[da.dims[0]].values))
    if history is None:
        return None
    series = pd.Series(history).astype(float).dropna()
    series.index = pd.DatetimeIndex(pd.to_datetime(series.index.astype(str).str[:7] + "-01"))
    return series.sort_index()


def _money_targets(ds: xr.Dataset, targets: Sequence[ChartTarget] | None) -> list[ChartTarget]:
    chosen = scenario_targets(ds) if targets is None else list(targets)
    return [t for t in chosen if t.on_arr_axis]


def target_label(ds: xr.Dataset, target: ChartTarget) -> str:
    """The text printed by a target on the fan chart: ``$20M by Dec 2028: 30% chance``."""
    value = target.value * (12 if target.metric == "mrr" else 1)
    what = format_money(value, currency_of(ds)) + (" ARR" if target.metric == "mrr" else "")
    verb = "at most " if target.below else ""
    chance = chance_text(ds, target)
    return f"{verb}{what} by {style.month_label(target.at)}: {chance} chance"


def fan_title(ds: xr.Dataset) -> str:
    """The finding: where the median goes from the start, in how long."""
    fan = fan_quantiles(ds)
    currency = currency_of(ds)
    start, end = fan["p50"].iloc[0], fan["p50"].iloc[-1]
    when = style.month_label(fan.index[-1])
    if start <= 0:
        return f"ARR reaches {format_money(end, currency)} by {when}"
    verb = "grows" if end >= start else "falls"
    return f"ARR {verb} from {format_money(start, currency)} to {format_money(end, currency)} by {when}"


def fan_subtitle(ds: xr.Dataset) -> str:
    fan = fan_quantiles(ds)
    currency = currency_of(ds)
    draws = draw_count(ds)
    return (f"Median and the ranges holding 50%, 80% and 90% of {draws:,} simulated futures. "
            f"8 in 10 end between {format_money(fan['p10'].iloc[-1], currency)} and "
            f"{format_money(fan['p90'].iloc[-1], currency)}.")


@house_style
def fan_chart(ds: xr.Dataset, ax: Axes | None = None, *, targets: Sequence[ChartTarget] | None = None,
              history: Any = None, title: str | None = None) -> Axes:
    """ARR over the horizon: median, nested 50% / 80% / 90% bands, history and targets.

    Parameters
    ----------
    ds
        Results of a run (:func:`revsim.simulate` or ``results.nc``).
    ax
        Axes to draw into; a new slide-sized figure with title and source line when None.
    targets
        Targets to draw (:class:`revsim.plot.targets.ChartTarget`); default: the scenario's ARR and MRR targets.
        Each is printed with the share of draws that reach it.
    history
        Actual ARR before the start, as a Series indexed by month, or the MRR history of a calibration
        (:func:`history_of`); default: the Dataset's ``history_arr`` when the run has one.
    title
        Title of a new figure (default: the finding, e.g. "ARR grows from $8M to $26.3M by Dec 2029").

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import revsim, revsim.plot
    >>> ds = revsim.simulate("scenarios/saas_sales_led.yaml", draws=500)   # doctest: +SKIP
    >>> ax = revsim.plot.fan_chart(ds)                                      # doctest: +SKIP
    >>> ax.figure.savefig("arr_fan.png")                                    # doctest: +SKIP
    """
    currency = currency_of(ds)
    fan = fan_quantiles(ds)
    own_figure = ax is None
    if ax is None:
        # leave the right margin the end labels need ("Median $26.3M", "Median 3,92 M EUR")
        width = max(style.text_width(text, 14) for text in _end_texts(fan, currency))
        right = min(0.88, 0.985 - (width + 22) / (style.FIGSIZE[0] * 72))
        _, ax = style.house_figure(ds, title or fan_title(ds), fan_subtitle(ds),
                                   content=(0.075, 0.12, right, 0.76))
    x = fan.index
    for coverage, colour in style.BANDS:
        low, high = (f"p{round(50 - 50 * coverage)}", f"p{round(50 + 50 * coverage)}")
        ax.fill_between(x, fan[low], fan[high], color=colour, linewidth=0,
                        label=f"{round(coverage * 100)}% of draws", zorder=1)
    ax.plot(x, fan["p50"], color=PALETTE["primary"], linewidth=3, label="Median", zorder=3,
            solid_capstyle="round")
    ax.plot(x[:1], fan["p50"].iloc[:1], "o", color=PALETTE["total"], markersize=8, zorder=4, clip_on=False)

    top = float(np.nanmax(fan["p95"].values))
    hist = history_of(ds, history)
    if hist is not None and len(hist):
        ax.plot(hist.index, hist.values, color=PALETTE["history"], linewidth=2.5, marker="o", markersize=3.5,
                label="Actual", zorder=4)
        top = max(top, float(hist.max()))

    chosen = _money_targets(ds, targets)
    for target in chosen:
        top = max(top, target.value * (12 if target.metric == "mrr" else 1))
    ax.set_ylim(0, top * 1.1)
    ax.set_xlim(hist.index[0] if hist is not None and len(hist) else x[0], x[-1])
    start = fan["p50"].iloc[0]
    taken = _draw_targets(ds, ax, chosen, x[0], x[-1], fan)
    # the start's label goes under the point, or over it when the book is too small to leave room below or
    # a target's label is there
    points = _points_per_unit(ax)
    places = {"below": ((-20, (start - 24 / points, start - 4 / points))),
              "above": ((12, (start + 8 / points, start + 28 / points)))}
    free = [name for name, (_, (low, high)) in places.items()
            if low > 0 and not any(low < t_high and high > t_low for t_low, t_high in taken)]
    offset = places[free[0] if free else "below" if start > 0.12 * top * 1.1 else "above"][0]
    ax.annotate(f"{format_money(start, currency)} at start", (x[0], start), xytext=(8, offset),
                textcoords="offset points", fontsize=13, color=PALETTE["total"], ha="left")
    _end_labels(ax, fan, currency)

    style.clean_axes(ax)
    style.money_axis(ax, currency)
    style.month_axis(ax, np.asarray(x))
    if own_figure:
        style.make_room_for_tick_labels(ax)
    handles, labels = ax.get_legend_handles_labels()
    order = [labels.index(name) for name in ("Median", "50% of draws", "80% of draws", "90% of draws", "Actual")
             if name in labels]
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower left", ncols=len(order),
              bbox_to_anchor=(0, 1.0), handlelength=1.6, columnspacing=1.4, borderaxespad=0.3)
    return ax


def _points_per_unit(ax: Axes) -> float:
    """Points per data unit along the y axis (the axes' height on the page over its data range)."""
    bottom, top = ax.get_ylim()
    height = ax.get_position().height * ax.figure.get_figheight() * 72
    return height / (top - bottom)


def _draw_targets(ds: xr.Dataset, ax: Axes, targets: list[ChartTarget], first: Any, last: Any,
                  fan: pd.DataFrame) -> list[tuple[float, float]]:
    """Each target as a dashed line to its month with its label; returns the (low, high) y span of each label."""
    import pandas as pd

    if not targets:
        return []
    spans = []
    bottom, top = ax.get_ylim()
    ys = [t.value * (12 if t.metric == "mrr" else 1) for t in targets]
    # the labels sit just above their line, moved apart when two targets are close
    label_ys = spread([y + 0.012 * (top - bottom) for y in ys], gap=0.06 * (top - bottom))
    for target, y, label_y in zip(targets, ys, label_ys, strict=True):
        when = pd.Timestamp(f"{target.at}-01")
        ax.hlines(y, first, when, colors=PALETTE["target"], linestyles=(0, (5, 3)), linewidth=1.8, zorder=2)
        ax.plot([when], [y], marker="D", color=PALETTE["target"], markersize=9, zorder=5, clip_on=False,
                markeredgecolor="white", markeredgewidth=1.2)
        # write the label at the end of the line that is farther from the fan, so it hides no data
        label_top = label_y + 0.05 * (top - bottom)
        left_gap = _clearance(fan.loc[:first].iloc[-1], label_y, label_top)
        right_gap = _clearance(fan.loc[:when].iloc[-1], label_y, label_top)
        at_left = left_gap > right_gap
        spans.append((label_y, label_top))
        ax.annotate(target_label(ds, target), (first if at_left else when, label_y),
                    xytext=(8 if at_left else -12, 2), textcoords="offset points",
                    ha="left" if at_left else "right", va="bottom", fontsize=13.5, fontweight="bold",
                    color=PALETTE["target"], zorder=6,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.7})
    return spans


def _clearance(row: pd.Series, low: float, high: float) -> float:
    """Vertical distance between a label spanning [low, high] and the 90% band in one month (0: overlap)."""
    return max(0.0, low - row["p95"], row["p5"] - high)


_END_NAMES = ("P90", "Median", "P10")


def _end_texts(fan: pd.DataFrame, currency: str) -> list[str]:
    return [f"{name} {format_money(fan[column].iloc[-1], currency)}"
            for name, column in zip(_END_NAMES, ("p90", "p50", "p10"), strict=True)]


def _end_labels(ax: Axes, fan: pd.DataFrame, currency: str) -> None:
    """Direct labels in the right margin: P90, median and P10 in the last month, moved apart when close."""
    bottom, top = ax.get_ylim()
    values = [fan["p90"].iloc[-1], fan["p50"].iloc[-1], fan["p10"].iloc[-1]]
    positions = spread(values, gap=0.065 * (top - bottom), low=bottom, high=top)
    for name, text, y in zip(_END_NAMES, _end_texts(fan, currency), positions, strict=True):
        bold = name == "Median"
        ax.annotate(text, (fan.index[-1], y), xytext=(14, 0), textcoords="offset points", annotation_clip=False,
                    va="center", ha="left", fontsize=14 if bold else 13, fontweight="bold" if bold else "normal",
                    color=PALETTE["primary"] if bold else PALETTE["muted"])