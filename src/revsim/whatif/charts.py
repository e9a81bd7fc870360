"""The what-if charts: paired differences of a comparison, and the tornado of a sensitivity analysis.

Drawn off screen (Agg, no ``pyplot`` figure list) in the house style of :mod:`revsim.plot` when it is
available, and return the matplotlib Figure; matplotlib is imported only here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from revsim.whatif.compare import Comparison
    from revsim.whatif.sensitivity import Sensitivity

__all__ = ["paired_difference_chart", "tornado_chart"]

_COLOURS = {"ink": "#1B2A41", "muted": "#5B6B7C", "faint": "#9AA6B2", "grid": "#E4E8ED", "primary": "#1F5AA6",
            "gain": "#2E9B68", "loss": "#D0485A", "light": "#B4CCEB"}


@contextlib.contextmanager
def _style() -> Iterator[dict[str, str]]:
    """The house rcParams and palette when :mod:`revsim.plot` provides them, else matplotlib's defaults."""
    import matplotlib

    try:
        from revsim.plot.style import PALETTE, RC, offscreen
    except ImportError:  # pragma: no cover - the charts module is optional
        with matplotlib.rc_context({"axes.spines.top": False, "axes.spines.right": False}):
            yield dict(_COLOURS)
        return
    palette = {**_COLOURS, **{k: v for k, v in PALETTE.items() if k in _COLOURS}}
    with matplotlib.rc_context(RC), offscreen():
        yield palette


def _figure(ds: xr.Dataset | None, title: str, subtitle: str, ncols: int, *, height: float | None = None,
            left: float = 0.065) -> tuple[Figure, list[Axes]]:
    """A slide-sized figure with a title block; ``left`` is the share of the width kept for row labels."""
    content = (left, 0.1, 0.95, 0.72)
    try:
        from revsim.plot.style import FIGSIZE, house_figure
    except ImportError:  # pragma: no cover
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13.333, height or 7.5), dpi=150)
        grid = fig.add_gridspec(1, ncols, left=content[0], bottom=content[1], right=content[2], top=content[3],
                                wspace=0.08)
        axes = [fig.add_subplot(grid[0, j]) for j in range(ncols)]
        fig.text(0.04, 0.92, title, fontsize=20, fontweight="bold")
        fig.text(0.04, 0.87, subtitle, fontsize=12, va="top", wrap=True)
        return fig, axes
    size = (FIGSIZE[0], max(FIGSIZE[1], height or 0))
    fig, axes = house_figure(ds, title, subtitle, ncols=ncols, figsize=size, content=content, wspace=0.08)
    return fig, list(np.atleast_1d(axes))


def _month_text(label: str) -> str:
    """``2029-12`` -> ``Dec 2029``."""
    import calendar

    year, month = label.split("-")
    return f"{calendar.month_abbr[int(month)]} {year}"


def _label_room(labels: Sequence[str]) -> float:
    """The share of the width kept for row labels: what the longest needs, at most 30% (longer ones wrap)."""
    return min(0.30, 0.05 + 0.0085 * max((len(str(x)) for x in labels), default=0))


def _tidy(ax: Axes, palette: dict[str, str]) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color=palette["grid"], linewidth=1.0)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)


def _money_axis(ax: Axes, currency: str, *, signed: bool) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from revsim.plot.money import currency_prefix
    from revsim.results.summary import format_difference

    def label(value: float, _pos: Any) -> str:
        if signed:
            return "0" if value == 0 else format_difference(value, "money", currency)
        return format_difference(value, "money", currency).lstrip("+")

    ax.xaxis.set_major_formatter(FuncFormatter(label))
    # a code written after the amount ("+10 k EUR") takes about twice the room of a symbol ("+$10k")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6 if currency_prefix(currency) else 4, steps=[1, 2, 2.5, 5, 10]))


def paired_difference_chart(comparison: Comparison,
                            metrics: Sequence[str] = ("arr_at_horizon", "arr_at_12_months")) -> Figure:
    """Per variant, the distribution of its paired difference from the base: median, P10-P90, P5-P95.

    One panel per metric (ARR at horizon and at 12 months by default), one row per variant, and the share
    of draws in which the variant does better.
    """
    from revsim.results.summary import format_difference

    chosen = [comparison.metric(name) for name in metrics if name in {m.name for m in comparison.metrics}]
    panels: dict[tuple[str, int], Any] = {}
    for metric in chosen:  # ARR at 12 months is ARR at horizon when the horizon is 12 months or less
        panels.setdefault((metric.name.split("_at_")[0], metric.month), metric)
    chosen = list(panels.values())
    names = comparison.variants
    labels = [comparison.label(v) for v in names]
    base_ds = comparison.datasets[comparison.base]
    headline = chosen[0]
    medians = {v: float(np.nanmedian(comparison.difference(v, headline.name))) for v in names}
    best = max(names, key=lambda v: medians[v] if headline.better == "higher" else -medians[v])
    verb = "adds" if medians[best] >= 0 else "takes"
    change = (f"{verb} {format_difference(abs(medians[best]), headline.kind, comparison.currency).lstrip('+')} "
              f"{headline.label.replace(' at horizon', '')} by {_month_text(comparison.month_label(headline))} "
              "(median)")
    title = f"{comparison.label(best)} {change}"
    base_name = "the base" if comparison.base == "base" else comparison.label(comparison.base)
    subtitle = (f"Difference from {base_name} in each of {comparison.draws:,} paired draws (the same seed and "
                "random numbers in every run): median (dot), P10-P90 (thick) and P5-P95 (thin), and the share of "
                "draws in which the variant does better")
    with _style() as palette:
        room = _label_room(labels)
        fig, axes = _figure(base_ds, title, subtitle, len(chosen), height=3.0 + 0.8 * len(names), left=room)
        row_labels = _fitted_labels(labels, room * fig.get_figwidth() * 72 - 30)
        for j, (ax, metric) in enumerate(zip(axes, chosen, strict=True)):
            _tidy(ax, palette)
            lows, highs = [0.0], [0.0]
            for row, variant in enumerate(names):
                d = comparison.difference(variant, metric.name)
                d = d[np.isfinite(d)]
                y = len(names) - 1 - row
                if d.size == 0:
                    ax.text(0, y, "  undefined", va="center", color=palette["muted"], fontsize=11)
                    continue
                p5, p10, p50, p90, p95 = np.quantile(d, [0.05, 0.1, 0.5, 0.9, 0.95])
                lows.append(p5)
                highs.append(p95)
                good = (p50 >= 0) == (metric.better == "higher")
                colour = palette["faint"] if p5 == p95 == 0 else palette["gain"] if good else palette["loss"]
                ax.plot([p5, p95], [y, y], color=colour, linewidth=1.5, solid_capstyle="butt", alpha=0.6)
                ax.plot([p10, p90], [y, y], color=colour, linewidth=9, solid_capstyle="butt", alpha=0.85)
                ax.plot([p50], [y], marker="o", markersize=10, color="white", markeredgecolor=colour,
                        markeredgewidth=2.5, zorder=3)
                better = float(np.mean(d > 0) if metric.better == "higher" else np.mean(d < 0))
                ax.annotate(f"{better:.0%} better", xy=(max(p95, 0.0), y), xytext=(8, 0), textcoords="offset points",
                            va="center", fontsize=11, color=palette["muted"])
            low, high = min(lows), max(highs)
            span = (high - low) or 1.0
            ax.set_xlim(low - 0.05 * span, high + 0.35 * span)
            ax.axvline(0, color=palette["ink"], linewidth=1.2)
            ax.set_yticks(range(len(names)))
            ax.set_yticklabels([text for text, _ in reversed(row_labels)] if j == 0 else [])
            if j == 0:
                for tick_label, (_, size) in zip(ax.get_yticklabels(), reversed(row_labels), strict=True):
                    tick_label.set_fontsize(size)
            ax.set_ylim(-0.7, len(names) - 0.3)
            ax.set_title(f"{metric.label}, {_month_text(comparison.month_label(metric))}", loc="left")
            if metric.kind == "money":
                _money_axis(ax, comparison.currency, signed=True)
    return fig


def tornado_chart(result: Sensitivity, top: int | None = 15) -> Figure:
    """The tornado: median ARR with each input fixed at its P10 and at its P90, largest swing on top."""
    from revsim.plot.input_labels import format_input, input_label
    from revsim.results.summary import format_difference

    table = result.table.dropna(subset=["swing"]).copy()
    table = table.reindex(table["swing"].abs().sort_values(ascending=False).index)
    if top:
        table = table.head(top)
    base = result.base_median
    currency = result.currency
    money = lambda x: format_difference(x, "money", currency).lstrip("+")  # noqa: E731
    labels = [input_label(path) for path in table["input"]]
    if table.empty:
        title, subtitle = "No input was varied", "The tornado needs uncertain inputs and tornado runs"
    else:
        first = table.iloc[0]
        title = f"{labels[0]} moves ARR the most: a {money(abs(first['swing']))} swing"
        subtitle = (f"Median ARR in {_month_text(result.month)} ({money(base)} in the base run) with each input fixed "
                    f"at its P10 and at its P90 (values at the right), every other input as drawn: the same "
                    f"{result.draws:,} draws and seed")
    with _style() as palette:
        room = _label_room(labels)
        fig, axes = _figure(result.dataset, title, subtitle, 1, height=2.5 + 0.45 * len(table), left=room)
        row_labels = _fitted_labels(labels, room * fig.get_figwidth() * 72 - 30, size=11)
        ax = axes[0]
        _tidy(ax, palette)
        n = len(table)
        for row, (_, item) in enumerate(table.iterrows()):
            y = n - 1 - row
            for value, colour, label in ((item["arr_at_p10"], palette["faint"], "input at its P10"),
                                         (item["arr_at_p90"], palette["primary"], "input at its P90")):
                ax.barh(y, value - base, left=base, height=0.62, color=colour, label=label if row == 0 else None)
            lo, hi = sorted((item["arr_at_p10"], item["arr_at_p90"]))
            ends = [format_input(float(item[key]), str(item["units"]), currency, float(item["p10_value"]))
                    for key in ("p10_value", "p90_value")]
            ax.annotate(" / ".join(ends), xy=(hi, y), xytext=(6, 0),
                        textcoords="offset points", va="center", fontsize=10.5, color=palette["muted"])
        ax.axvline(base, color=palette["ink"], linewidth=1.2)
        if n:
            low = min(base, table["arr_at_p10"].min(), table["arr_at_p90"].min())
            high = max(base, table["arr_at_p10"].max(), table["arr_at_p90"].max())
            span = (high - low) or max(abs(base), 1.0)
            ax.set_xlim(low - 0.05 * span, high + 0.25 * span)
        ax.set_yticks(range(n))
        ax.set_yticklabels([text for text, _ in reversed(row_labels)])
        for tick_label, (_, size) in zip(ax.get_yticklabels(), reversed(row_labels), strict=True):
            tick_label.set_fontsize(size)
        ax.set_ylim(-0.7, max(n, 1) - 0.3)
        _money_axis(ax, currency, signed=False)
        if n:
            ax.legend(loc="lower right")
    return fig


def _fitted_labels(labels: Sequence[str], width: float, size: float = 13) -> list[tuple[str, float]]:
    """Row labels fitted to ``width`` points: wrapped onto two lines and shrunk as needed, never cut."""
    from revsim.plot.style import fit_text

    return [fit_text(label, width, size, 8.5) for label in labels]
