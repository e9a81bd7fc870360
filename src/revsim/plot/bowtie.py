"""The bowtie: acquisition stages narrowing to the purchase, customer stages widening to advocacy, and the
growth loops that turn customers back into pipeline.

Every number is read over one window (default: the last 12 months of the run), as the median across draws
with its P10-P90:

* left side: the entries into each stage, and each stage's **conversion**, the share of the members who
  left the stage in the window that moved on to the next stage (``stage_converted`` / (``stage_converted``
  + ``stage_lost``));
* the knot: customers won and their new ARR;
* right side: customers through onboarding (wins less onboarding failures, as a share of wins), customers
  and GRR at the end of the window, expansion ARR and NRR, advocates and their share of customers;
* loops: their entries and their share of the entries into the stage they feed.

The left side's heights follow the logarithm of the volumes (a funnel spans orders of magnitude); the
right side widens by equal steps: its shape is a diagram, its numbers are the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.plot import style
from revsim.plot.draws import currency_of, interval, needs_draws, total
from revsim.plot.money import format_count, format_money, format_money_range, format_percent
from revsim.plot.scenario_link import linked_scenario
from revsim.plot.style import PALETTE, display_name, house_style

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.axes import Axes

__all__ = ["bowtie_chart", "bowtie_values", "Bowtie", "Column", "LoopFlow"]

#: Right-side column that each loop source leaves from.
_SOURCE_COLUMN = {"advocates": "advocacy", "active_customers": "retention", "new_customers": "knot",
                  "mrr": "expansion"}


@dataclass
class Column:
    """One stage of the bowtie: its name, its main number and a second line, with their P10-P90."""

    key: str
    name: str
    value: tuple[float, float, float]
    value_text: str
    lines: list[str] = field(default_factory=list)  # small type under the value
    conversion: tuple[float, float, float] | None = None  # to the next stage (left side only)


@dataclass
class LoopFlow:
    """A loop's entries in the window and the share of its target stage's entries they make."""

    name: str
    source: str | None
    target: str | None
    entries: tuple[float, float, float]
    share: tuple[float, float, float] | None


@dataclass
class Bowtie:
    """The numbers of a bowtie chart (see the module docstring for their definitions)."""

    window: tuple[int, int]
    left: list[Column]
    knot: Column
    right: list[Column]
    loops: list[LoopFlow] = field(default_factory=list)
    note: str = ""


def _window_sum(da: xr.DataArray, window: tuple[int, int]) -> xr.DataArray:
    return da.isel(month=slice(window[0], window[1] + 1)).sum("month")


def _ratio(numerator: Any, denominator: Any) -> np.ndarray:
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def _conversions(ds: xr.Dataset, window: tuple[int, int]) -> list[tuple[float, float, float] | None]:
    stages = list(ds["stage"].values)
    if "stage_converted" in ds and "stage_lost" in ds:
        converted = _window_sum(ds["stage_converted"].sum("segment"), window)
        lost = _window_sum(ds["stage_lost"].sum("segment"), window)
        return [interval(_ratio(converted.sel(stage=s).values, (converted + lost).sel(stage=s).values))
                for s in stages[:-1]]
    # results written before the flows out of each stage were kept: the sampled conversion, when uncertain
    found: list[tuple[float, float, float] | None] = []
    for s in stages[:-1]:
        name = f"param_funnel_stages_{s}_conversion"
        found.append(interval(ds[name].values) if name in ds else None)
    return found


def _loop_roles(ds: xr.Dataset, scenario: Any) -> tuple[dict[str, tuple[str | None, str | None]], str]:
    loops = [str(v) for v in ds["loop"].values]
    if not loops:
        return {}, ""
    if "loop_source" in ds.coords and "loop_target" in ds.coords:
        return {lp: (str(ds["loop_source"].sel(loop=lp).values), str(ds["loop_target"].sel(loop=lp).values))
                for lp in loops}, ""
    loaded, why = linked_scenario(ds, scenario)
    if loaded is None:
        return {lp: (None, None) for lp in loops}, f"Loop sources and targets are not in the results ({why})."
    by_name = {loop.name: loop for loop in loaded.model.loops}
    return {lp: ((by_name[lp].source, by_name[lp].target) if lp in by_name else (None, None)) for lp in loops}, ""


def bowtie_values(ds: xr.Dataset, window: tuple[int, int] | None = None, scenario: Any = None) -> Bowtie:
    """The numbers the bowtie shows, over ``window`` = (first, last) month positions (default the last 12)."""
    n = ds.sizes["month"]
    window = window or (max(0, n - 12), n - 1)
    currency = currency_of(ds)
    stages = [str(s) for s in ds["stage"].values]
    entries = _window_sum(ds["stage_entries"].sum("segment"), window)
    conversions = _conversions(ds, window)
    left = []
    for k, stage in enumerate(stages[:-1]):
        volume = interval(entries.sel(stage=stage).values)
        left.append(Column(stage, display_name(stage), volume, format_count(volume[1]),
                           ["entries", _count_range(volume)], conversion=conversions[k]))

    wins = _window_sum(total(ds, "new_customers"), window).values
    new_arr = interval(_window_sum(total(ds, "new_arr"), window).values)
    won = interval(wins)
    knot = Column("knot", display_name(stages[-1]), won, format_count(won[1]),
                  ["customers", _count_range(won), f"{format_money(new_arr[1], currency)} new ARR"])

    last = window[1]
    right = []
    if "onboarding_churned" in ds:
        failed = _window_sum(total(ds, "onboarding_churned"), window).values
        onboarded = interval(1 - _ratio(failed, wins))
        right.append(Column("onboarding", "Onboarding", onboarded, format_percent(onboarded[1]),
                            ["onboarded", _percent_range(onboarded)]))
    customers = interval(total(ds, "active_customers").isel(month=last).values)
    grr = interval(ds["grr_12m"].isel(month=last).values) if "grr_12m" in ds else (np.nan,) * 3
    right.append(Column("retention", "Retention", customers, format_count(customers[1]),
                        ["customers", _count_range(customers)]
                        + ([f"GRR {format_percent(grr[1])}"] if np.isfinite(grr[1]) else [])))
    expansion = interval(_window_sum(total(ds, "expansion_arr"), window).values)
    nrr = interval(ds["nrr_12m"].isel(month=last).values) if "nrr_12m" in ds else (np.nan,) * 3
    right.append(Column("expansion", "Expansion", expansion, format_money(expansion[1], currency, signed=True),
                        ["expansion ARR",
                         format_money_range(expansion[0], expansion[2], currency)]
                        + ([f"NRR {format_percent(nrr[1])}"] if np.isfinite(nrr[1]) else [])))
    advocates_draws = total(ds, "advocates").isel(month=last).values
    advocates = interval(advocates_draws)
    share = interval(_ratio(advocates_draws, total(ds, "active_customers").isel(month=last).values))
    right.append(Column("advocacy", "Advocacy", advocates, format_count(advocates[1]),
                        ["advocates", _count_range(advocates), f"{format_percent(share[1])} of customers"]))

    roles, note = _loop_roles(ds, scenario)
    loops = []
    for loop in [str(v) for v in ds["loop"].values]:
        flow = _window_sum(ds["loop_entries"].sel(loop=loop), window).values
        source, target = roles.get(loop, (None, None))
        share_of_target = None
        if target in stages:
            share_of_target = interval(_ratio(flow, entries.sel(stage=target).values))
        loops.append(LoopFlow(loop, source, target, interval(flow), share_of_target))
    return Bowtie(window, left, knot, right, loops, note)


def _count_range(values: tuple[float, float, float]) -> str:
    return f"{format_count(values[0])}\u2013{format_count(values[2])}"


def _percent_range(values: tuple[float, float, float]) -> str:
    low, middle, high = values
    if not (np.isfinite(low) and np.isfinite(high)):
        return "n/a"
    decimals = 1 if middle < 0.1 else 0  # as the median is printed
    return f"{format_percent(low, decimals=decimals).removesuffix('%')}\u2013{format_percent(high, decimals=decimals)}"


@house_style
def bowtie_chart(ds: xr.Dataset, ax: Axes | None = None, *, window: tuple[int, int] | None = None,
                 scenario: Any = None, title: str | None = None) -> Axes:
    """The bowtie of the run with volumes, conversion rates (median and P10-P90) and loops.

    Parameters
    ----------
    ds
        Results of a run.
    ax
        Axes to draw into; a new slide-sized figure when None.
    window
        ``(first, last)`` month positions the numbers are read over; default the last 12 months.
    scenario
        The run's scenario (a loaded scenario or its file), to draw where each loop starts and ends;
        default: the ``scenario_file`` of the run when it is unchanged. Without it loops are listed only.
    title
        Title of a new figure (default: the finding).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.patches import FancyArrowPatch, Polygon
    from matplotlib.path import Path

    needs_draws(ds, "its medians over a window of months")
    data = bowtie_values(ds, window, scenario)
    if ax is None:
        from revsim.plot.bridge import period_label

        _, ax = style.house_figure(ds, title or _title(data),
                                   f"{period_label(ds, data.window)}: medians of {ds.sizes['draw']:,} simulated "
                                   "draws, P10\u2013P90 in small type. Arrows: conversion to the next stage.",
                                   content=(0.03, 0.05, 0.97, 0.80))
    columns = [*data.left, data.knot, *data.right]
    n_left = len(data.left)
    n = len(columns)
    # geometry: one column per stage, x in [0, n]; the knot is column n_left
    volumes = np.array([c.value[1] for c in data.left] + [data.knot.value[1]], dtype=float)
    volumes = np.where(np.isfinite(volumes) & (volumes > 0), volumes, 1.0)
    logs = np.log10(volumes)
    lo, hi = logs.min(), logs.max()
    knot_h, max_h = 0.16, 1.0
    left_h = knot_h + (max_h - knot_h) * ((logs - lo) / (hi - lo) if hi > lo else np.ones_like(logs))
    right_h = knot_h + (max_h * 0.85 - knot_h) * np.arange(1, len(data.right) + 1) / max(len(data.right), 1)
    heights = [*left_h[:-1], knot_h, *right_h]
    y_shape = 0.0
    width_points = ax.get_position().width * ax.figure.get_figwidth() * 72
    room = width_points / n - 8  # a column's width in points, less a gap between neighbours
    name_lines = 1
    fills = ["#C9D9EF", "#A9C3E6", "#86AADB", "#648FCC", "#4575BA", "#2E5FA3", "#244E8A"]
    for i, column in enumerate(columns):
        h0 = heights[i]
        if i < n_left:
            h1 = heights[i + 1]
        elif i == n_left:
            h0 = h1 = knot_h
        else:
            h0, h1 = heights[i - 1] if i - 1 != n_left else knot_h, heights[i]
        colour = (fills[min(i, len(fills) - 1)] if i < n_left else PALETTE["total"] if i == n_left
                  else [PALETTE["gain_light"], "#5DB488", PALETTE["gain"], "#23794F"][min(i - n_left - 1, 3)])
        ax.add_patch(Polygon([(i + 0.04, y_shape - h0 / 2), (i + 0.96, y_shape - h1 / 2),
                              (i + 0.96, y_shape + h1 / 2), (i + 0.04, y_shape + h0 / 2)],
                             closed=True, facecolor=colour, edgecolor="none", zorder=2))
        cx = i + 0.5
        # every text fits its column: long names wrap onto two lines and shrink, long numbers shrink
        name, size = style.fit_text(column.name, room, 14.5, 9, weight="bold")
        ax.text(cx, 1.25, name, ha="center", va="bottom", fontsize=size, fontweight="bold",
                color=PALETTE["ink"], linespacing=1.15)
        name_lines = max(name_lines, name.count("\n") + 1)
        ax.text(cx, 1.12, column.value_text, ha="center", va="center",
                fontsize=style.fitting_size(column.value_text, room, 17, 10), fontweight="bold",
                color=PALETTE["primary"] if i <= n_left else PALETTE["gain"], gid=f"bowtie-value-{column.key}")
        small = min(style.fitting_size(line, room, 11.5, 8) for line in column.lines) if column.lines else 11.5
        ax.text(cx, 0.92, "\n".join(column.lines), ha="center", va="top", fontsize=small, color=PALETTE["muted"],
                linespacing=1.3)
        if column.conversion is not None:  # conversion to the next stage, on the boundary, under the shape
            p10, p50, p90 = column.conversion
            bx = i + 1.0
            ax.annotate("", (bx + 0.22, -0.62), (bx - 0.22, -0.62),
                        arrowprops={"arrowstyle": "-|>", "color": PALETTE["muted"], "lw": 1.4}, zorder=3)
            ax.text(bx, -0.76, format_percent(p50, decimals=1 if p50 < 0.1 else 0), ha="center", va="top",
                    fontsize=15, fontweight="bold", color=PALETTE["ink"], gid=f"bowtie-conversion-{column.key}")
            ax.text(bx, -0.95, _percent_range((p10, p50, p90)), ha="center", va="top", fontsize=11.5,
                    color=PALETTE["muted"])

    # loops: arrows from the customer side back into the funnel, under the shape
    index = {c.key: i for i, c in enumerate(columns)}
    for j, loop in enumerate(data.loops):
        start_col = index.get(_SOURCE_COLUMN.get(loop.source or "", ""), n - 1)
        end_col = index.get(loop.target, 0) if loop.target else 0
        depth = -1.45 - 0.42 * j
        x0, x1 = start_col + 0.5, end_col + 0.5
        route = Path([(x0, -0.5), (x0, depth), (x1, depth), (x1, -0.5)])
        ax.add_patch(FancyArrowPatch(path=route, arrowstyle="-|>,head_length=8,head_width=5",
                                     color=PALETTE["target"], lw=2, zorder=1, joinstyle="round"))
        what = f"{format_count(loop.entries[1])} entries"
        if loop.share is not None and np.isfinite(loop.share[1]):
            what += f", {format_percent(loop.share[1])} of {display_name(loop.target)} entries"
        elif loop.target is None:
            what += " (target stage not recorded)"
        centre = (x0 + x1) / 2
        span = 2 * min(centre, n - centre) / n * width_points - 16  # centred on the arrow, within the axes
        label, size = style.fit_text(f"Loop \u201c{loop.name.replace('_', ' ')}\u201d: {what}", span, 13, 9,
                                     weight="bold")
        ax.text(centre, depth, label, ha="center", va="center", fontsize=size, fontweight="bold",
                color=PALETTE["target"], linespacing=1.15,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"}, zorder=4,
                gid=f"bowtie-loop-{loop.name}")
    bottom = -1.45 - 0.42 * max(len(data.loops), 1) - 0.1
    if data.note:
        ax.text(0.0, bottom - 0.05, data.note, ha="left", va="top", fontsize=11.5, color=PALETTE["muted"])
        bottom -= 0.25
    ax.set_xlim(0, n)
    ax.set_ylim(bottom, 1.5 + 0.16 * (name_lines - 1))
    ax.set_axis_off()
    return ax


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(line for part in text.split("\n") for line in (textwrap.wrap(part, width) or [""]))


def _title(data: Bowtie) -> str:
    first = data.left[0].value[1] if data.left else np.nan
    wins = data.knot.value[1]
    if np.isfinite(first) and wins > 0:
        ratio = first / wins
        per = f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.1f}"
        name = data.left[0].name
        name = name if name.isupper() else name.lower()
        return f"{per} {name} entries for every customer won"
    return "How prospects become customers, and customers advocates"
