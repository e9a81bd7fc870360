"""The report's text pages, drawn in the house style: the summary (page 1) and the key assumptions."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from revsim.plot import style
from revsim.plot.draws import currency_of, draw_count, month_interval, start_arr
from revsim.plot.money import format_count, format_money, format_money_range, format_percent
from revsim.plot.style import PALETTE, house_style
from revsim.plot.targets import ChartTarget, chance_text, format_target_value, target_chance
from revsim.plot.input_labels import input_label
from revsim.report.assumptions import assumptions_table, run_facts

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["summary_page", "assumptions_page", "input_label", "target_name", "ASSUMPTION_ROWS"]  # input_label: re-exported

#: Inputs listed on the assumptions page (all of them are in the workbook).
ASSUMPTION_ROWS = 14


def target_name(ds: xr.Dataset, target: ChartTarget) -> str:
    """The target's name, or ``ARR >= $30M`` when it has none."""
    if target.name:
        return target.name
    metric = {"arr": "ARR", "mrr": "MRR", "active_customers": "Customers", "new_customers_total": "New customers",
              "nrr_12m": "NRR", "grr_12m": "GRR", "logo_churn": "Logo churn"}.get(target.metric, target.metric)
    sign = "\u2264" if target.below else "\u2265"
    return f"{metric} {sign} {format_target_value(ds, target)}"


def _tile(fig: Figure, x: float, y: float, width: float, label: str, value: str, detail: str) -> None:
    from matplotlib.patches import FancyBboxPatch

    fig.add_artist(FancyBboxPatch((x, y), width, 0.17, boxstyle="round,pad=0,rounding_size=0.01",
                                  transform=fig.transFigure, facecolor="#F3F5F8", edgecolor="none"))
    fig.text(x + 0.015, y + 0.135, label, fontsize=13, color=PALETTE["muted"], va="center")
    fig.text(x + 0.015, y + 0.075, value, fontsize=26, fontweight="bold", color=PALETTE["primary"], va="center")
    fig.text(x + 0.015, y + 0.025, detail, fontsize=12, color=PALETTE["muted"], va="center")


@house_style
def summary_page(ds: xr.Dataset, targets: Sequence[ChartTarget], contents: Sequence[str],
                 notes: Sequence[str] = ()) -> Figure:
    """Page 1: the headline numbers, each target's probability, what the report holds and what it skips."""
    currency = currency_of(ds)
    months = ds["month"].values
    horizon = style.month_label(months[-1])
    subtitle = (f"Revenue forecast from {style.month_label(months[0])} to {horizon}: {draw_count(ds):,} "
                f"simulated draws, seed {ds.attrs.get('seed', 'n/a')}, amounts in {currency}.")
    fig, ax = style.house_figure(ds, str(ds.attrs.get("scenario_name", "revsim forecast")), subtitle,
                                 content=(0.04, 0.08, 0.96, 0.5))
    ax.set_axis_off()
    p10, p50, p90 = month_interval(ds, "arr", -1)
    tiles = [("ARR at start", format_money(start_arr(ds), currency), "initial book"),
             (f"ARR in {horizon}", format_money(p50, currency),
              f"P10\u2013P90 {format_money_range(p10, p90, currency)}")]
    if "nrr_12m" in ds and np.isfinite(ds["nrr_12m"].isel(month=-1).values).any():
        n10, n50, n90 = month_interval(ds, "nrr_12m", -1)
        tiles.append((f"NRR in {horizon}", format_percent(n50),
                      f"P10\u2013P90 {format_percent(n10)}\u2013{format_percent(n90)}"))
    c10, c50, c90 = month_interval(ds, "active_customers", -1)
    tiles.append((f"Customers in {horizon}", format_count(c50),
                  f"P10\u2013P90 {format_count(c10)}\u2013{format_count(c90)}"))
    width = (0.92 - 0.02 * (len(tiles) - 1)) / len(tiles)
    for i, (label, value, detail) in enumerate(tiles):
        _tile(fig, 0.04 + i * (width + 0.02), 0.6, width, label, value, detail)

    fig.text(0.04, 0.52, "Targets", fontsize=16, fontweight="bold", color=PALETTE["ink"])
    y = 0.465
    if not targets:
        fig.text(0.04, y, "The scenario sets no targets (add them under targets:, or pass --target).",
                 fontsize=13, color=PALETTE["muted"], va="center")
    name_width = 0.27 * fig.get_figwidth() * 72  # the first column, in points
    shown = targets if len(targets) <= 7 else targets[:6]
    for target in shown:
        probability, _ = target_chance(ds, target)  # the lower bound when only quantiles bound it
        name, size = style.fit_text(target_name(ds, target), name_width, 13.5, 10.5)
        y -= 0.0125 * name.count("\n")  # a name on two lines takes the room of its second line
        fig.text(0.04, y, name, fontsize=size, color=PALETTE["ink"], va="center", linespacing=1.1)
        fig.text(0.32, y, f"by {style.month_label(target.at)}", fontsize=13, color=PALETTE["muted"], va="center")
        bar = fig.add_axes((0.42, y - 0.014, 0.075, 0.028))
        bar.barh([0], [1], color="#E8ECF1", height=1)
        bar.barh([0], [np.nan_to_num(probability)], color=PALETTE["target"], height=1)
        bar.set_xlim(0, 1)
        bar.set_axis_off()
        chance = chance_text(ds, target)
        chance = {"n/a": "n/a: needs every draw"}.get(chance, chance + (" of draws reach it" if "\u2013" not in chance
                                                                        else " of draws"))
        fig.text(0.505, y, chance, fontsize=13.5, fontweight="bold",
                 color=PALETTE["target"], va="center", gid="summary-target")
        y -= 0.052 + 0.0125 * name.count("\n")
    if len(shown) < len(targets):
        fig.text(0.04, y, f"and {len(targets) - len(shown)} more: every target is on the targets page", fontsize=12.5,
                 color=PALETTE["muted"], va="center")
        y -= 0.052

    drivers = assumptions_table(ds)
    drivers = drivers[np.isfinite(drivers["influence"].to_numpy(dtype=float))].head(3)
    y = min(y, 0.38) - 0.035
    if len(drivers) and y - 0.052 * len(drivers) > 0.09:
        fig.text(0.04, y, f"Inputs most correlated with ARR in {horizon}", fontsize=16, fontweight="bold",
                 color=PALETTE["ink"])
        for _, row in drivers.iterrows():
            y -= 0.052
            label, size = style.fit_text(input_label(row["input"]), name_width, 13.5, 9.5, lines=1)
            fig.text(0.04, y, label, fontsize=size, color=PALETTE["ink"], va="center")
            fig.text(0.32, y, f"{row['p10_text']} to {row['p90_text']} (P10\u2013P90)", fontsize=13,
                     color=PALETTE["muted"], va="center")
            fig.text(0.505, y, f"rank correlation {row['influence']:+.2f}".replace("-", "\u2212"), fontsize=13,
                     color=PALETTE["muted"], va="center")
    fig.text(0.7, 0.52, "In this report", fontsize=16, fontweight="bold", color=PALETTE["ink"])
    lines = [f"{i + 2}. {title}" for i, title in enumerate(contents)]
    fig.text(0.7, 0.485, "\n".join(lines), fontsize=12.5, color=PALETTE["ink"], va="top", linespacing=1.45)
    if notes:
        wrapped = [textwrap.fill(note, 150, subsequent_indent="   ") for note in notes]
        fig.text(0.04, 0.075, "Notes: " + "\n".join(wrapped), fontsize=11.5, color=PALETTE["muted"],
                 va="bottom", linespacing=1.3)
    return fig


# -- assumptions --------------------------------------------------------------------------------------------

def compact_distribution(text: str) -> str:
    """Numbers of a distribution's description to 3 significant digits: ``median=36740`` -> ``median=36.7k``."""
    import re

    def number(match: re.Match[str]) -> str:
        value = float(match.group(0))
        if abs(value) >= 1000:
            return format_money(value, "").strip()
        return f"{value:.3g}"

    return re.sub(r"(?<![A-Za-z_])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", number, text)


@house_style
def assumptions_page(ds: xr.Dataset, rows: int = ASSUMPTION_ROWS) -> Figure:
    """The scenario's structure and its most influential uncertain inputs, on one page."""
    table = assumptions_table(ds)
    facts = dict(run_facts(ds))
    when = style.month_label(ds["month"].values[-1])
    ranked = bool(len(table)) and bool(np.isfinite(table["influence"].to_numpy(dtype=float)).any())
    title = (f"{input_label(table['input'].iloc[0])} is the input most correlated with ARR" if ranked
             else "Key assumptions")
    subtitle = (f"The scenario's structure, and its {len(table)} uncertain inputs ranked by their influence on ARR "
                f"in {when}." if ranked or not len(table) else
                f"The scenario's structure, and its {len(table)} uncertain inputs (their influence on ARR needs every "
                "draw of ARR: the run kept quantiles).")
    fig, ax = style.house_figure(ds, title, subtitle, content=(0.04, 0.135, 0.96, 0.62))
    # structure facts above the table: (label, x, y, share of the page's width, lines the value may take)
    shown = [("Horizon", 0.04, 0.79, 0.29, 1), ("Segments", 0.35, 0.79, 0.29, 1), ("Starting book", 0.66, 0.79, 0.3, 1),
             ("Funnel stages", 0.04, 0.725, 0.6, 2), ("Growth loops", 0.66, 0.725, 0.3, 2)]
    for key, x, y, share, lines in shown:
        fig.text(x, y, key, fontsize=11.5, color=PALETTE["muted"], va="top")
        value = facts.get(key, "n/a")
        if key in ("Segments", "Funnel stages", "Growth loops") and value != "none":
            separator = " > " if key == "Funnel stages" else ", "
            value = separator.join(style.display_name(v) for v in value.split(separator))
        value, size = style.fit_text(value, share * fig.get_figwidth() * 72, 13.5, 8, lines=lines)
        fig.text(x, y - 0.027, value, fontsize=size, color=PALETTE["ink"], va="top", linespacing=1.1)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    if not len(table):
        ax.text(0.0, 0.8, "Every input of this scenario is a constant: the spread of the forecast is count noise only.",
                fontsize=14, color=PALETTE["muted"])
        return fig
    shown_rows = table.head(rows)
    axes_width = ax.get_position().width * fig.get_figwidth() * 72  # points
    columns = [(0.0, "Input", "left"), (0.325, "Distribution", "left"), (0.665, "P10", "right"),
               (0.745, "Median", "right"), (0.825, "P90", "right"), (0.855, "Influence on ARR", "left")]
    header_y = 0.97
    for x, name, align in columns:
        ax.text(x, header_y, name, fontsize=12.5, fontweight="bold", color=PALETTE["muted"], ha=align, va="center")
    ax.plot([0, 1], [header_y - 0.035] * 2, color=PALETTE["faint"], linewidth=1)
    step = min(0.066, (header_y - 0.08) / max(len(shown_rows), 1))
    for i, (_, row) in enumerate(shown_rows.iterrows()):
        y = header_y - 0.035 - (i + 0.55) * step
        if i % 2 == 0:
            ax.axhspan(y - step / 2, y + step / 2, color="#F3F5F8", zorder=0, linewidth=0)
        label = input_label(row["input"])
        ax.text(0.005, y, label, fontsize=style.fitting_size(label, 0.31 * axes_width, 12, 7), color=PALETTE["ink"],
                va="center")
        distribution = compact_distribution(row["distribution"])
        ax.text(0.325, y, distribution, fontsize=style.fitting_size(distribution, 0.33 * axes_width, 11, 7),
                color=PALETTE["muted"], va="center")
        for x, key in ((0.665, "p10_text"), (0.745, "median_text"), (0.825, "p90_text")):
            ax.text(x, y, row[key], fontsize=style.fitting_size(row[key], 0.072 * axes_width, 12.5, 8), ha="right",
                    va="center",
                    color=PALETTE["ink"], fontweight="bold" if key == "median_text" else "normal")
        influence = row["influence"]
        centre, half = 0.905, 0.04
        ax.plot([centre, centre], [y - step * 0.35, y + step * 0.35], color=PALETTE["faint"], linewidth=1)
        if np.isfinite(influence):
            ax.barh(y, influence * half, left=centre, height=step * 0.5,
                    color=PALETTE["gain"] if influence >= 0 else PALETTE["loss"], zorder=2)
            ax.text(0.998, y, f"{influence:+.2f}".replace("-", "\u2212"), fontsize=11.5, va="center", ha="right",
                    color=PALETTE["muted"])
    more = len(table) - len(shown_rows)
    footer = (f"Influence: rank correlation of the input's draws with ARR in {when} (\u22121 to +1); revsim "
              "sensitivity measures how far ARR moves between each input's P10 and P90. Constant inputs are not "
              "listed.")
    if more > 0:
        footer += f" {more} more in forecast.xlsx (sheet Assumptions)."
    fig.text(0.04, 0.112, textwrap.fill(footer, 150), fontsize=11, color=PALETTE["muted"], va="top",
             linespacing=1.3)
    return fig
