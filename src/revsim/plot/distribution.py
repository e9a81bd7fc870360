"""The distribution of ARR in one month: histogram and density, each target's chance shaded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.plot import style
from revsim.plot.draws import currency_of, interval, month_index, needs_draws, total
from revsim.plot.labels import spread
from revsim.plot.money import format_money
from revsim.plot.style import PALETTE, house_style
from revsim.plot.targets import (
    ChartTarget,
    format_probability,
    scenario_targets,
    target_probability,
)

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.axes import Axes

__all__ = ["arr_distribution", "arr_at", "distribution_months", "distribution_title", "density", "shade_label"]


def arr_at(ds: xr.Dataset, month: Any = None) -> np.ndarray:
    """Total ARR in each draw in ``month`` (default: the last month)."""
    index = month_index(ds, -1 if month is None else month)
    return np.asarray(total(ds, "arr").isel(month=index).values, dtype=float)


def _targets_at(ds: xr.Dataset, index: int, targets: Sequence[ChartTarget] | None) -> list[ChartTarget]:
    chosen = scenario_targets(ds) if targets is None else list(targets)
    return [t for t in chosen if t.on_arr_axis and month_index(ds, t.at) == index]


def distribution_months(ds: xr.Dataset, targets: Sequence[ChartTarget] | None = None) -> list[int]:
    """Months worth a distribution chart: the horizon, then each month an ARR target is set for."""
    chosen = scenario_targets(ds) if targets is None else list(targets)
    months = [ds.sizes["month"] - 1]
    for target in chosen:
        index = month_index(ds, target.at)
        if target.on_arr_axis and index not in months:
            months.append(index)
    return months


def density(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of ``values`` on ``grid`` (Silverman's bandwidth); zero for constant values."""
    values = values[np.isfinite(values)]
    spread_ = min(np.std(values), (np.quantile(values, 0.75) - np.quantile(values, 0.25)) / 1.34) if values.size else 0
    if values.size < 2 or spread_ <= 0:
        return np.zeros_like(grid)
    bandwidth = 0.9 * spread_ * values.size ** -0.2
    z = (grid[:, None] - values[None, :]) / bandwidth
    return np.exp(-0.5 * z * z).sum(axis=1) / (values.size * bandwidth * np.sqrt(2 * np.pi))


def shade_label(ds: xr.Dataset, target: ChartTarget) -> str:
    """The text of a target on the distribution: ``30% reach $20M``."""
    value = target.value * (12 if target.metric == "mrr" else 1)
    money = format_money(value, currency_of(ds))
    verb = "stay at or below" if target.below else "reach"
    return f"{format_probability(target_probability(ds, target))} {verb} {money}"


def distribution_title(ds: xr.Dataset, month: Any = None, targets: Sequence[ChartTarget] | None = None) -> str:
    """The finding: the chance of the month's first ARR target, or where 8 in 10 draws land."""
    index = month_index(ds, -1 if month is None else month)
    when = style.month_label(ds["month"].values[index])
    currency = currency_of(ds)
    chosen = _targets_at(ds, index, targets)
    if chosen:
        target = chosen[0]
        value = format_money(target.value * (12 if target.metric == "mrr" else 1), currency)
        chance = format_probability(target_probability(ds, target))
        return f"{chance} chance of {'staying under' if target.below else 'reaching'} {value} ARR by {when}"
    p10, _, p90 = interval(arr_at(ds, index))
    return f"ARR in {when}: 8 in 10 draws between {format_money(p10, currency)} and {format_money(p90, currency)}"


@house_style
def arr_distribution(ds: xr.Dataset, month: Any = None, ax: Axes | None = None, *,
                     targets: Sequence[ChartTarget] | None = None, title: str | None = None) -> Axes:
    """Histogram and density of ARR in ``month`` (default: the horizon), with each target's chance shaded.

    Parameters
    ----------
    ds
        Results of a run.
    month
        ``YYYY-MM`` or a month position; default the last simulated month.
    ax
        Axes to draw into; a new slide-sized figure when None.
    targets
        Targets (default: the scenario's); those on ARR or MRR set for this month are shaded, with the share
        of draws that reach them.
    title
        Title of a new figure (default: the finding).

    Returns
    -------
    matplotlib.axes.Axes
    """
    needs_draws(ds, "a histogram of the draws")
    index = month_index(ds, -1 if month is None else month)
    values = arr_at(ds, index)
    currency = currency_of(ds)
    chosen = _targets_at(ds, index, targets)
    if ax is None:
        draws = ds.sizes["draw"]
        subtitle = (f"Share of {draws:,} simulated draws in each range of ARR in "
                    f"{style.month_label(ds['month'].values[index])} (line: smoothed density)"
                    + (". Amber bars reach the target." if chosen else "."))
        _, ax = style.house_figure(ds, title or distribution_title(ds, index, targets), subtitle,
                                   content=(0.06, 0.12, 0.965, 0.77))
    finite = values[np.isfinite(values)]
    low, high = np.quantile(finite, [0.001, 0.999])
    for target in chosen:
        value = target.value * (12 if target.metric == "mrr" else 1)
        low, high = min(low, value), max(high, value)
    pad = 0.06 * (high - low or max(abs(high), 1.0))
    grid = np.linspace(low - pad, high + pad, 600)
    bins = np.histogram_bin_edges(finite, bins=min(45, max(10, int(np.sqrt(finite.size)))))
    width = bins[1] - bins[0]
    counts = np.histogram(finite, bins=bins)[0] / finite.size
    centres = (bins[:-1] + bins[1:]) / 2
    reached = np.zeros(centres.size, dtype=int)  # how many of the month's targets each bar reaches
    for target in chosen:
        value = target.value * (12 if target.metric == "mrr" else 1)
        reached += (centres <= value) if target.below else (centres >= value)
    tints = [style.BANDS[1][1], "#F6D49B", "#EFB45A", "#E29A2C"]
    ax.bar(centres, counts, width=width, color=[tints[min(r, 3)] for r in reached], edgecolor="white",
           linewidth=0.6, zorder=1)
    curve = density(finite, grid) * width  # share of draws per bin width, on the bars' scale
    ax.plot(grid, curve, color=PALETTE["primary"], linewidth=2.5, zorder=3)
    top = max(float(curve.max()), float(counts.max()))
    ax.set_ylim(0, top * 1.32)
    ax.set_xlim(grid[0], grid[-1])

    label_ys = spread([top * (1.22 - 0.12 * i) for i in range(len(chosen))], gap=top * 0.11)
    for target, label_y in zip(chosen, label_ys, strict=True):
        value = target.value * (12 if target.metric == "mrr" else 1)
        ax.axvline(value, color=PALETTE["target"], linewidth=2, linestyle=(0, (5, 3)), zorder=4)
        room_right = (grid[-1] - value) > (value - grid[0])
        ax.text(value, label_y, ("  " + shade_label(ds, target)) if room_right != target.below
                else (shade_label(ds, target) + "  "), ha="left" if room_right != target.below else "right",
                va="center", fontsize=15, fontweight="bold", color=PALETTE["target"], zorder=6)

    p10, p50, p90 = interval(finite)
    for value, name, weight in ((p10, "P10", "normal"), (p50, "Median", "bold"), (p90, "P90", "normal")):
        ax.axvline(value, ymax=0.74, color=PALETTE["ink"] if name == "Median" else PALETTE["muted"],
                   linewidth=1.6 if name == "Median" else 1.1, linestyle="-" if name == "Median" else (0, (2, 2)),
                   zorder=4)
        ax.text(value, top * 1.0, f"{name}\n{format_money(value, currency)}", ha="center", va="bottom",
                fontsize=13, fontweight=weight, color=PALETTE["ink"] if name == "Median" else PALETTE["muted"],
                zorder=5, bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})
    style.clean_axes(ax)
    style.money_axis(ax, currency, axis="x")
    ax.tick_params(axis="x", pad=9)  # a tick at the left end stays clear of the y axis's 0%
    style.percent_axis(ax, nbins=5)
    ax.set_ylabel("share of draws", color=PALETTE["muted"])
    ax.set_xlabel(f"ARR in {style.month_label(ds['month'].values[index])}", color=PALETTE["muted"])
    return ax
