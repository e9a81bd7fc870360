"""Charts of the RevOps views: the North Star's driver tree and the paired effects of levers, in the house
style (:mod:`revsim.plot.style`)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np

from revsim.plot import style
from revsim.plot.style import PALETTE, house_style
from revsim.revops.text import format_kpi

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.figure import Figure

    from revsim.revops.levers import LeverEffects
    from revsim.revops.north_star import DriverTree

__all__ = ["driver_tree_chart", "lever_effects_chart"]


def _signed_percent(value: float, decimals: int = 1) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value * 100:+.{decimals}f}%".replace("-", "\u2212")


def _unit(units: str, currency: str) -> str:
    if units.endswith("of ARR"):
        return "arr"
    return {currency: "money", "ratio": "ratio", "months": "months", "multiple": "multiple"}.get(units, "count")


@house_style
def driver_tree_chart(tree: DriverTree, ds: xr.Dataset | None = None) -> Figure:
    """The North Star on the left, its input metrics on the right, each with the lever that moved it, how
    much it moved, and the North Star's paired change as a bar (with its standard error)."""
    rows = tree.table
    finite = rows["north_star_change"].abs().replace([np.inf], np.nan).dropna()
    best = rows.loc[rows["north_star_change"].abs().idxmax()] if len(finite) else None
    title = (f"{best['label']} moves the North Star most: {_signed_percent(best['north_star_change'])} for "
             f"{_signed_percent(best['input_change'])} on the input" if best is not None
             else f"What drives {tree.name}")
    subtitle = (f"North Star: {textwrap.shorten(tree.name, 60, placeholder='…')} in {tree.period}. Each input's lever runs again with the same seed and "
                f"{tree.draws:,} draws, so the change is paired draw by draw (bars: mean change, whiskers: two "
                "standard errors).")
    fig, ax = style.house_figure(ds, title, subtitle, content=(0.05, 0.1, 0.97, 0.76))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    n = len(rows)
    ax.set_ylim(0, max(n, 1))
    low, mid, high = (float(np.nanquantile(tree.base, q)) for q in (0.1, 0.5, 0.9))
    unit = _unit(tree.units, tree.currency)
    from matplotlib.patches import FancyBboxPatch

    centre = max(n, 1) / 2
    ax.add_patch(FancyBboxPatch((0.0, centre - 0.9), 0.24, 1.8, boxstyle="round,pad=0.01,rounding_size=0.02",
                                facecolor=PALETTE["primary"], edgecolor="none", mutation_aspect=max(n, 1) / 3))
    ax.text(0.12, centre + 0.45, textwrap.fill(textwrap.shorten(tree.name, 66, placeholder="\u2026"), 22),
            ha="center", va="center", color="white", fontsize=15 if len(tree.name) <= 44 else 12.5, fontweight="bold")
    ax.text(0.12, centre - 0.15, format_kpi(mid, unit, tree.currency), ha="center", va="center", color="white",
            fontsize=24, fontweight="bold")
    ax.text(0.12, centre - 0.6, f"P10\u2013P90 {format_kpi(low, unit, tree.currency)}\u2013"
                                f"{format_kpi(high, unit, tree.currency)}", ha="center", va="center", color="white",
            fontsize=11.5)
    changes = rows["north_star_change"].to_numpy(dtype=float)
    scale = np.nanmax(np.abs(changes)) if np.isfinite(changes).any() else 1.0
    scale = scale or 1.0
    bar_left, bar_width = 0.7, 0.2
    for i, (_, row) in enumerate(rows.iterrows()):
        y = n - i - 0.5
        ax.plot([0.24, 0.3], [centre, y], color=PALETTE["faint"], linewidth=1.2)
        ax.text(0.31, y + 0.17, textwrap.shorten(str(row["label"]), 40, placeholder="\u2026"), va="center",
                fontsize=14, fontweight="bold", color=PALETTE["ink"])
        if row["note"]:
            ax.text(0.31, y - 0.17, textwrap.shorten(f"not measured: {row['note']}", 70, placeholder="\u2026"),
                    va="center", fontsize=11, color=PALETTE["muted"])
            continue
        lever = textwrap.shorten(str(row["lever"]), 48, placeholder="\u2026")
        ax.text(0.31, y - 0.17, f"{lever}: input {_signed_percent(row['input_change'])}", va="center", fontsize=11,
                color=PALETTE["muted"])
        change = float(row["north_star_change"])
        width = bar_width * change / scale / 2
        colour = PALETTE["gain"] if change >= 0 else PALETTE["loss"]
        zero = bar_left + bar_width / 2
        ax.barh(y, width, left=zero, height=0.42, color=colour)
        base = float(row["north_star_base"]) or 1.0
        error = 2 * float(row["north_star_diff_se"]) / abs(base) * bar_width / scale / 2
        ax.plot([zero + width - error, zero + width + error], [y, y], color=PALETTE["ink"], linewidth=1.3)
        ax.plot([zero, zero], [y - 0.3, y + 0.3], color=PALETTE["faint"], linewidth=1)
        ax.text(0.995, y, _signed_percent(change), ha="right", va="center", fontsize=14, fontweight="bold",
                color=colour)
    ax.text(bar_left + bar_width / 2, n + 0.05, "North Star change", ha="center", va="bottom", fontsize=11.5,
            color=PALETTE["muted"])
    return fig


@house_style
def lever_effects_chart(effects: LeverEffects, ds: xr.Dataset | None = None) -> Figure:
    """One panel per KPI: each lever's mean paired effect as a share of the base (bars) with the P10-P90 of
    the per-draw effect (whiskers); the strongest lever of the last KPI in the title."""
    table = effects.table
    kpis = effects.kpis
    last = table[table["kpi"] == kpis[-1]]
    best = last.loc[last["change_mean"].idxmax()] if len(last) else None
    title = (f"{best['lever']} adds most to {best['label'].lower()}: {_signed_percent(best['change_mean'])}"
             if best is not None else "Lever effects")
    subtitle = (f"{effects.scenario_name}: each lever against the base on the same {effects.draws:,} draws (seed "
                f"{effects.seed}), {effects.window}. Bars: mean paired change; whiskers: P10\u2013P90 of the change "
                "draw by draw.")
    fig, axes = style.house_figure(ds, title, subtitle, ncols=len(kpis), wspace=0.08,
                                   content=(0.25, 0.1, 0.97, 0.74))
    axes = np.atleast_1d(axes)
    levers = list(dict.fromkeys(table["lever"]))
    for k, (ax, name) in enumerate(zip(axes, kpis, strict=True)):
        rows = table[table["kpi"] == name].set_index("lever").loc[levers]
        y = np.arange(len(levers))[::-1]
        base = rows["base_mean"].abs().replace(0, np.nan)
        mean = rows["change_mean"].to_numpy(float)
        low = (rows["diff_p10"] / base).to_numpy(float)
        high = (rows["diff_p90"] / base).to_numpy(float)
        colours = [PALETTE["gain"] if "retention" in lever.lower() else PALETTE["primary"] for lever in levers]
        ax.barh(y, mean, color=colours, height=0.55)
        ax.hlines(y, low, high, color=PALETTE["ink"], linewidth=1.4)
        ax.axvline(0, color=PALETTE["faint"], linewidth=1)
        span = np.nanmax(np.abs(np.concatenate([low, high, mean]))) if np.isfinite(mean).any() else 1.0
        ax.set_xlim(min(0.0, np.nanmin(low)) - 0.05 * span, np.nanmax(high) + 0.3 * span)
        for yi, m, hi in zip(y, mean, high, strict=True):
            ax.text(hi + 0.03 * span, yi, _signed_percent(m), va="center", fontsize=13, fontweight="bold",
                    color=PALETTE["ink"])
        unit = _unit(str(rows["units"].iloc[0]), effects.currency)
        base_text = format_kpi(float(rows["base_mean"].iloc[0]), unit, effects.currency)
        ax.set_title(f"{rows['label'].iloc[0]} (base {base_text})", fontsize=15, loc="left")
        ax.set_yticks(y, [textwrap.shorten(lever, 34, placeholder="\u2026") for lever in levers] if k == 0 else [])
        ax.tick_params(axis="y", length=0)
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _signed_percent(v, 0)))
        style.clean_axes(ax, grid="x")
        ax.spines["left"].set_visible(False)
    return fig
