"""The report's RevOps pages: one page per team with its KPIs by fiscal year and its targets, a page of every
target (probability, all together, conflicts), the AARRR view and the North Star.

Team pages group the six KPI teams into four: marketing (with the hand-off to sales), sales, customer success
(with the hand-off from sales) and finance. Each KPI is shown per fiscal year as its median and P10-P90; a
fiscal year the run covers in part says so.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.plot import style
from revsim.plot.style import PALETTE, house_style
from revsim.plot.targets import format_probability
from revsim.revops.structure import TEAM_LABELS
from revsim.revops.text import format_kpi, format_kpi_range

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from revsim.revops.compute import RunKpis
    from revsim.revops.targets import TargetReport, TargetResult

__all__ = ["PAGE_TEAMS", "team_page", "targets_page", "aarrr_page", "north_star_page", "HEADLINES"]

#: The team pages: (file name, title, the KPI teams each shows, in order).
PAGE_TEAMS = (
    ("marketing", "Marketing", ("marketing", "marketing_to_sales")),
    ("sales", "Sales", ("sales",)),
    ("customer_success", "Customer success", ("sales_to_success", "customer_success")),
    ("finance", "Finance", ("finance",)),
)
#: The KPI each team page's title speaks of (the first the run has).
HEADLINES = {"marketing": ("handoff_stage", "leads"), "sales": ("new_arr",), "customer_success": ("nrr_12m",
                                                                                                     "logo_churn"),
             "finance": ("arr",)}
#: At most this many fiscal years side by side (the last ones).
COLUMNS = 4
_BAND = "#F3F5F8"


def _sign(target: TargetResult) -> str:
    return "\u2264" if target.below else "\u2265"


def _unit(units: str, currency: str) -> str:
    if units.endswith("of ARR"):
        return "arr"
    return {currency: "money", "ratio": "ratio", "months": "months", "multiple": "multiple"}.get(units, "count")


def _columns(table: xr.Dataset) -> list[int]:
    n = table.sizes["period"]
    return list(range(max(0, n - COLUMNS), n))


def _heading(table: xr.Dataset, index: int) -> tuple[str, str]:
    label = str(table["period"].values[index])
    start, end = (style.month_label(table[c].values[index]) for c in ("period_start", "period_end"))
    if bool(table["complete"].values[index]):
        return label, f"{start[:3]} {start[-4:]} \u2013 {end[:3]} {end[-4:]}"
    return label, f"partial: {int(table['months'].values[index])} of 12 months"


def _cells(table: xr.Dataset, name: str, columns: list[int], currency: str) -> list[tuple[str, str, float]]:
    da = table[name]
    unit = _unit(str(da.attrs.get("units", "")), currency)
    values = np.asarray(da.transpose("draw", "period").values, dtype=float)
    out = []
    for index in columns:
        column = values[:, index]
        finite = column[np.isfinite(column)]
        if not finite.size:
            out.append(("n/a", "not defined", np.nan))
            continue
        low, median, high = np.quantile(finite, [0.1, 0.5, 0.9])
        spread = format_kpi_range(low, high, unit, currency)
        out.append((format_kpi(median, unit, currency),
                    "" if spread == format_kpi(median, unit, currency) else spread, median))
    return out


def _draw_table(ax: Axes, table: xr.Dataset, names: Sequence[str], sections: dict[str, str], currency: str) -> None:
    """KPI rows by fiscal year: median (bold) and P10-P90 beside it; a section title before each group."""
    columns = _columns(table)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    rows: list[tuple[str, str]] = []
    for name in names:
        if name in sections:
            rows.append(("section", sections[name]))
        rows.append(("kpi", name))
    header = 1.5
    n = len(rows) + header
    ax.set_ylim(0, n)
    label_right = 0.34
    width = (1 - label_right) / max(len(columns), 1)
    points_per_row = ax.bbox.height * 72 / ax.figure.dpi / n
    size = float(np.clip(points_per_row * 0.55, 9.5, 13.5))
    for j, index in enumerate(columns):
        label, detail = _heading(table, index)
        x = label_right + (j + 0.5) * width
        ax.text(x, n - 0.45, label, ha="center", va="center", fontsize=13.5, fontweight="bold", color=PALETTE["ink"])
        ax.text(x, n - 1.05, detail, ha="center", va="center", fontsize=10, color=PALETTE["muted"])
    ax.plot([0, 1], [n - header, n - header], color=PALETTE["faint"], linewidth=1)
    points = ax.bbox.width * 72 / ax.figure.dpi
    label_points, column_points = label_right * points - 10, width * points
    stripe = 0
    for i, (kind, value) in enumerate(rows):
        y = n - header - i - 0.5
        if kind == "section":
            ax.text(0.005, y, value, ha="left", va="center", fontsize=size - 0.5, fontweight="bold",
                    color=PALETTE["muted"])
            continue
        if stripe % 2 == 0:
            ax.axhspan(y - 0.5, y + 0.5, color=_BAND, zorder=0, linewidth=0)
        stripe += 1
        label, label_size = _fit(str(table[value].attrs["label"]), label_points, size, 10, weight="normal")
        ax.text(0.005, y, label, ha="left", va="center", fontsize=label_size, color=PALETTE["ink"])
        for j, (median, spread, _) in enumerate(_cells(table, value, columns, currency)):
            left = label_right + j * width
            ax.text(left + 0.45 * width, y, median, ha="right", va="center", fontweight="bold",
                    fontsize=style.fitting_size(median, 0.43 * column_points, size, 8),
                    color=PALETTE["primary"] if median != "n/a" else PALETTE["faint"])
            if spread:
                ax.text(left + 0.49 * width, y, spread, ha="left", va="center", color=PALETTE["muted"],
                        fontsize=_fitting(spread, 0.5 * column_points, max(size - 2.5, 8.5), 6.5))


def _fitting(text: str, width: float, size: float, smallest: float) -> float:
    """The largest size from ``size`` down to ``smallest`` at which ``text`` (regular weight) fits ``width``."""
    while size > smallest and style.text_width(text, size, weight="normal") > width:
        size -= 0.5
    return size


def _fit(text: str, width: float, size: float, smallest: float, *, weight: str = "bold") -> tuple[str, float]:
    """``text`` at the largest size that fits ``width`` points, shortened with an ellipsis when even
    ``smallest`` is too large."""
    while size > smallest and style.text_width(text, size, weight=weight) > width:
        size -= 0.5
    while style.text_width(text, size, weight=weight) > width and len(text) > 8:
        text = textwrap.shorten(text, len(text) - 3, placeholder="\u2026")
    return text, size


def _target_rows(fig: Figure, targets: Sequence[TargetResult], top: float, currency: str, *, left: float = 0.04,
                 width: float = 0.92, row: float = 0.05) -> float:
    """One line per target: name, KPI over period, goal, probability bar; returns the y under the last."""
    y = top
    for t in targets:
        fig.text(left, y, textwrap.shorten(t.title, 36, placeholder="\u2026"), fontsize=12.5, color=PALETTE["ink"],
                 va="center", fontweight="bold")
        goal = f"{t.kpi_label} {_sign(t)} {t.goal_text}, {t.period}"
        fig.text(left + 0.35 * width, y, textwrap.shorten(goal, 60, placeholder="\u2026"), fontsize=11.5,
                 color=PALETTE["muted"], va="center")
        bar = fig.add_axes((left + 0.74 * width, y - 0.012, 0.08 * width, 0.024))
        bar.barh([0], [1], color="#E8ECF1", height=1)
        bar.barh([0], [t.probability], color=PALETTE["target"], height=1)
        bar.set_xlim(0, 1)
        bar.set_axis_off()
        fig.text(left + 0.83 * width, y, f"{format_probability(t.probability)} reach it", fontsize=12.5,
                 fontweight="bold", color=PALETTE["target"], va="center", gid="revops-target")
        y -= row
    return y


def _headline(run: RunKpis, table: xr.Dataset, page: str) -> str:
    """The finding of a team page: its headline KPI from the first to the last complete fiscal year."""
    candidates = [run.structure.stages[run.structure.handoff] if c == "handoff_stage" else c
                  for c in HEADLINES.get(page, ())]
    name = next((c for c in candidates if c in table), None)
    complete = [i for i, c in enumerate(table["complete"].values) if c]
    if name is None or not complete:
        return f"{dict((p, t) for p, t, _ in PAGE_TEAMS)[page]}: KPIs by fiscal year"
    da = table[name]
    unit = _unit(str(da.attrs.get("units", "")), run.currency)
    medians = np.array([_quantile3(np.asarray(da.values[:, i], dtype=float))[1] for i in range(da.shape[1])])
    last = complete[-1]
    label = str(da.attrs["label"])
    if len(complete) == 1 or not np.isfinite(medians[complete[0]]):
        return f"{label}: {format_kpi(medians[last], unit, run.currency)} in {table['period'].values[last]}"
    first = complete[0]
    verb = "grows" if medians[last] > medians[first] else "falls" if medians[last] < medians[first] else "stays"
    periods = table["period"].values
    return (f"{label} {verb} from {format_kpi(medians[first], unit, run.currency)} in {periods[first]} to "
            f"{format_kpi(medians[last], unit, run.currency)} in {periods[last]}")


@house_style
def team_page(run: RunKpis, page: str, report: TargetReport | None = None, table: xr.Dataset | None = None) -> Figure:
    """One team's KPIs by fiscal year (median and P10-P90) and the targets it owns, with their probability.

    Parameters
    ----------
    run
        The run's KPIs (:func:`revsim.revops.compute.run_kpis`).
    page
        ``marketing``, ``sales``, ``customer_success`` or ``finance`` (:data:`PAGE_TEAMS`).
    report
        The run's targets (default: evaluated here).
    """
    from revsim.revops.targets import evaluate_targets

    title, teams = next((t, teams) for p, t, teams in PAGE_TEAMS if p == page)
    table = table if table is not None else run.table("year")
    report = report if report is not None else evaluate_targets(run)
    names, sections = [], {}
    for team in teams:
        members = [str(n) for n, da in table.data_vars.items() if da.attrs["team"] == team]
        if members and len(teams) > 1:
            sections[members[0]] = TEAM_LABELS[team]
        names += members
    owned = [t for t in report.targets if t.owner in teams]
    subtitle = (f"{title} KPIs by fiscal year ({run.calendar.describe()}): median of {run.ds.sizes['draw']:,} draws "
                "and P10\u2013P90. Flows summed over the year, stocks at its end, rates pooled from its sums.")
    target_space = 0.06 + 0.05 * min(len(owned), 4) if owned else 0.05
    fig, ax = style.house_figure(run.ds, _headline(run, table, page), subtitle,
                                 content=(0.04, 0.07 + target_space, 0.96, 0.77))
    _draw_table(ax, table, names, sections, run.currency)
    top = 0.04 + target_space
    if owned:
        fig.text(0.04, top, f"Targets {title.lower()} owns", fontsize=13.5, fontweight="bold", color=PALETTE["ink"],
                 va="center")
        _target_rows(fig, owned[:4], top - 0.045, run.currency)
        if len(owned) > 4:
            fig.text(0.96, top, f"{len(owned) - 4} more on the targets page", fontsize=11, color=PALETTE["muted"],
                     ha="right", va="center")
    else:
        fig.text(0.04, top - 0.01, f"No target names {title.lower()} as its owner (targets: owner: in the scenario).",
                 fontsize=12, color=PALETTE["muted"], va="center")
    return fig


@house_style
def targets_page(run: RunKpis, report: TargetReport | None = None) -> Figure:
    """Every target: owner, KPI and period, goal, the KPI's median and P10-P90, the probability of reaching it;
    the probability of reaching them all, and the pairs that conflict."""
    from revsim.revops.targets import evaluate_targets

    report = report if report is not None else evaluate_targets(run)
    targets = report.targets
    n = len(targets)
    if n >= 2:
        title = f"All {n} targets are reached together in {format_probability(report.joint)} of draws"
    elif n == 1:
        title = f"{format_probability(targets[0].probability)} chance of reaching '{targets[0].label}'"
    else:
        title = "No targets: add them under targets: in the scenario"
    subtitle = (f"Each target is read over its period in every one of {report.draws:,} simulated draws: a flow "
                "summed, a stock at the period's end, a rate pooled from the period's sums; a relative goal is "
                "computed in each draw from its base.")
    fig, ax = style.house_figure(run.ds, title, subtitle, content=(0.04, 0.08, 0.96, 0.77))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    conflicts = report.conflicts()
    rows = min(n, 10)
    ax.set_ylim(0, rows + 1.6 + 0.8 * max(1, min(len(conflicts), 3)))
    top = ax.get_ylim()[1]
    headers = [(0.0, "Target", "left"), (0.30, "Owner", "left"), (0.44, "KPI and goal", "left"),
               (0.75, "Median (P10\u2013P90)", "center"), (0.87, "P(reach)", "left")]
    for x, text, align in headers:
        ax.text(x, top - 0.4, text, ha=align, va="center", fontsize=12, fontweight="bold", color=PALETTE["muted"])
    ax.plot([0, 1], [top - 0.8, top - 0.8], color=PALETTE["faint"], linewidth=1)
    for i, t in enumerate(targets[:rows]):
        y = top - 1.3 - i
        if i % 2 == 0:
            ax.axhspan(y - 0.5, y + 0.5, color=_BAND, zorder=0, linewidth=0)
        ax.text(0.005, y, textwrap.shorten(t.title, 36, placeholder="\u2026"), va="center", fontsize=12.5,
                fontweight="bold", color=PALETTE["ink"])
        ax.text(0.30, y, TEAM_LABELS.get(t.owner, t.owner).replace("Hand-off: ", ""), va="center", fontsize=11.5,
                color=PALETTE["ink"])
        goal = f"{t.kpi_label} {_sign(t)} {t.goal_text}, {t.period}"
        ax.text(0.44, y, textwrap.fill(textwrap.shorten(goal, 80, placeholder="\u2026"), 42), va="center",
                fontsize=10.5, color=PALETTE["ink"], linespacing=1.1)
        finite = t.reading[np.isfinite(t.reading)]
        if finite.size:
            low, median, high = np.quantile(finite, [0.1, 0.5, 0.9])
            ax.text(0.75, y + 0.15, format_kpi(median, t.unit, run.currency), ha="center", va="center", fontsize=12.5,
                    fontweight="bold", color=PALETTE["primary"])
            ax.text(0.75, y - 0.22, format_kpi_range(low, high, t.unit, run.currency), ha="center", va="center",
                    fontsize=9.5, color=PALETTE["muted"])
        bar_y = y
        ax.barh(bar_y, 0.045, left=0.87, height=0.32, color="#E8ECF1")
        ax.barh(bar_y, 0.045 * t.probability, left=0.87, height=0.32, color=PALETTE["target"])
        ax.text(0.925, y, format_probability(t.probability), va="center", fontsize=12.5, fontweight="bold",
                color=PALETTE["target"])
    y = top - 1.3 - rows
    if n > rows:
        ax.text(0.005, y + 0.2, f"{n - rows} more targets in revsim kpis (targets.csv)", fontsize=11,
                color=PALETTE["muted"], va="center")
    if n >= 2:
        independent = float(np.prod([t.probability for t in targets]))
        text = (f"All together: {format_probability(report.joint)} of draws reach every target "
                f"({format_probability(independent)} if they were independent).")
        ax.text(0.005, y - 0.35, text, fontsize=12.5, fontweight="bold", color=PALETTE["ink"], va="center")
        if conflicts:
            for k, pair in enumerate(conflicts[:3]):
                ax.text(0.005, y - 1.0 - 0.7 * k,
                        textwrap.shorten(f"Conflict: '{pair['first']}' and '{pair['second']}' are reached together in "
                                         f"{format_probability(pair['p_both'])} of draws, "
                                         f"{format_probability(pair['p_both_if_independent'])} if independent", 150,
                                         placeholder="\u2026"),
                        fontsize=11.5, color=PALETTE["loss"], va="center")
        else:
            ax.text(0.005, y - 1.0, "No pair of targets conflicts (none is reached together markedly less often than "
                    "if independent).", fontsize=11.5, color=PALETTE["muted"], va="center")
    return fig


@house_style
def aarrr_page(run: RunKpis, view: xr.Dataset | None = None) -> Figure:
    """AARRR in the last fiscal year the run covers entirely: each stage's value and the conversion into it."""
    from revsim.revops.aarrr import AARRR_STAGES, aarrr

    view = view if view is not None else aarrr(run, "year")
    complete = [i for i, c in enumerate(view["complete"].values) if c]
    index = complete[-1] if complete else view.sizes["period"] - 1
    period = str(view["period"].values[index])
    currency = run.currency

    def median(name: str) -> tuple[float, float, float]:
        values = np.asarray(view[name].values[:, index], dtype=float)
        finite = values[np.isfinite(values)]
        return tuple(np.quantile(finite, [0.1, 0.5, 0.9])) if finite.size else (np.nan,) * 3  # type: ignore[return-value]

    acquisition = median("acquisition")[1]
    activation = median("activation")[1]
    title = (f"In {period}, {format_kpi(activation, 'count', currency)} customers activated from "
             f"{format_kpi(acquisition, 'count', currency)} new funnel entries")
    subtitle = ("The run read as Acquisition, Activation, Retention, Referral, Revenue: each stage's value over the "
                f"fiscal year and the conversion into it (median and P10\u2013P90 of {run.ds.sizes['draw']:,} draws).")
    fig, ax = style.house_figure(run.ds, title, subtitle, content=(0.04, 0.1, 0.96, 0.76))
    ax.set_axis_off()
    ax.set_xlim(0, 5)
    ax.set_ylim(0, 1)
    from matplotlib.patches import FancyBboxPatch

    shades = ["#1F5AA6", "#3A71B8", "#5688C9", "#739FD8", "#91B5E4"]
    for k, stage in enumerate(AARRR_STAGES):
        low, mid, high = median(stage.name)
        unit = "money" if stage.value_unit == "money" else "count"
        ax.add_patch(FancyBboxPatch((k + 0.06, 0.42), 0.88, 0.46, boxstyle="round,pad=0,rounding_size=0.03",
                                    facecolor=shades[k], edgecolor="none", mutation_aspect=0.3))
        ax.text(k + 0.5, 0.8, stage.name.capitalize(), ha="center", va="center", fontsize=16, fontweight="bold",
                color="white")
        ax.text(k + 0.5, 0.66, format_kpi(mid, unit, currency), ha="center", va="center", fontsize=22,
                fontweight="bold", color="white")
        ax.text(k + 0.5, 0.56, f"{format_kpi_range(low, high, unit, currency)}", ha="center", va="center",
                fontsize=11, color="white")
        ax.text(k + 0.5, 0.47, textwrap.fill(stage.value_label, 20), ha="center", va="center", fontsize=10.5,
                color="white", linespacing=1.1)
        if stage.rate is not None:
            r_low, r_mid, r_high = median(stage.rate_name or "")
            r_unit = "money" if stage.rate_unit == "money" else "ratio"
            ax.annotate("", xy=(k + 0.05, 0.3), xytext=(k - 0.05, 0.3),
                        arrowprops={"arrowstyle": "-|>", "color": PALETTE["faint"], "linewidth": 1.5})
            ax.text(k + 0.5, 0.3, format_kpi(r_mid, r_unit, currency), ha="center", va="center", fontsize=17,
                    fontweight="bold", color=PALETTE["primary"])
            ax.text(k + 0.5, 0.21, format_kpi_range(r_low, r_high, r_unit, currency), ha="center", va="center",
                    fontsize=10.5, color=PALETTE["muted"])
            ax.text(k + 0.5, 0.1, textwrap.fill(stage.rate_label or "", 24), ha="center", va="center", fontsize=10.5,
                    color=PALETTE["ink"], linespacing=1.1)
    ax.text(0.5, 0.25, f"{period}{'' if complete else ' (partial)'}\nconversion into\neach stage", ha="center",
            va="center", fontsize=12, color=PALETTE["muted"], linespacing=1.3)
    return fig


def _quantile3(values: np.ndarray) -> tuple[float, float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return (np.nan, np.nan, np.nan)
    low, mid, high = np.quantile(finite, [0.1, 0.5, 0.9])
    return float(low), float(mid), float(high)


@house_style
def north_star_page(run: RunKpis) -> Figure:
    """The North Star's distribution in the periods the run covers entirely, and its input metrics in the
    last of them (median, P10-P90, and the change of the median since the period before)."""
    from revsim.revops.north_star import north_star

    view = north_star(run)
    if view is None:
        from revsim.plot.unavailable import ChartUnavailable

        raise ChartUnavailable("the scenario names no North Star (kpis: north_star:)")
    table = view.table
    currency = run.currency
    periods = [str(p) for p in table["period"].values]
    complete = [i for i, c in enumerate(table["complete"].values) if c] or [len(periods) - 1]
    shown, before = complete[-1], (complete[-2] if len(complete) > 1 else None)
    da = table["north_star"]
    unit = _unit(str(da.attrs.get("units", "")), currency)
    values = np.asarray(da.values, dtype=float)
    low, mid, high = _quantile3(values[:, shown])
    name = textwrap.shorten(view.name, 48, placeholder="\u2026")
    title = f"North Star: {name}, {format_kpi(mid, unit, currency)} in {periods[shown]} (median)"
    subtitle = (f"{view.metric} per {table.attrs['period_kind']} over {run.ds.sizes['draw']:,} draws (periods the run "
                "covers entirely), and its input metrics. revsim kpis --drivers measures each input's contribution "
                "with paired runs.")
    fig, axes = style.house_figure(run.ds, title, subtitle, ncols=2, width_ratios=[1, 1.1], wspace=0.1,
                                   content=(0.05, 0.12, 0.97, 0.74))
    hist, right = axes
    finite_all = values[:, complete][np.isfinite(values[:, complete])]
    bins = np.histogram_bin_edges(finite_all, bins=30) if finite_all.size else 10
    for i in complete:
        column = values[:, i][np.isfinite(values[:, i])]
        if column.size:
            hist.hist(column, bins=bins, histtype="stepfilled" if i == shown else "step", linewidth=2,
                      alpha=0.85 if i == shown else 1.0,
                      color=PALETTE["primary"] if i == shown else PALETTE["faint"], label=periods[i])
    style.clean_axes(hist)
    hist.set_yticks([])
    hist.spines["left"].set_visible(False)
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    hist.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_kpi(v, unit, currency)))
    hist.xaxis.set_major_locator(MaxNLocator(nbins=5))
    hist.legend(loc="upper right", fontsize=11.5)
    hist.set_title(f"P10\u2013P90 {format_kpi_range(low, high, unit, currency)} in {periods[shown]}", fontsize=14)
    right.set_axis_off()
    right.set_xlim(0, 1)
    n = len(view.inputs)
    right.set_ylim(0, n + 1)
    right.text(0.0, n + 0.5, f"Input metrics, {periods[shown]}", fontsize=14, fontweight="bold", va="center",
               color=PALETTE["ink"])
    if before is not None:
        right.text(1.0, n + 0.5, f"since {periods[before]}", fontsize=11.5, va="center", ha="right",
                   color=PALETTE["muted"])
    for k, name in enumerate(view.inputs):
        y = n - k - 0.5
        if k % 2 == 0:
            right.axhspan(y - 0.5, y + 0.5, color=_BAND, zorder=0, linewidth=0)
        item = table[name]
        item_unit = _unit(str(item.attrs.get("units", "")), currency)
        a, b, c = _quantile3(np.asarray(item.values[:, shown], dtype=float))
        label = str(item.attrs["label"])
        right.text(0.01, y + 0.16, textwrap.shorten(label, 40, placeholder="\u2026"), fontsize=13, va="center",
                   color=PALETTE["ink"])
        right.text(0.01, y - 0.22, f"P10\u2013P90 {format_kpi_range(a, c, item_unit, currency)}", fontsize=10.5,
                   va="center", color=PALETTE["muted"])
        right.text(0.78, y, format_kpi(b, item_unit, currency), fontsize=15, fontweight="bold", ha="right",
                   va="center", color=PALETTE["primary"])
        if before is not None:
            previous = _quantile3(np.asarray(item.values[:, before], dtype=float))[1]
            if np.isfinite(previous) and previous != 0 and np.isfinite(b):
                change = (b - previous) / abs(previous)
                good = change < 0 if item.attrs.get("better") == "lower" else change > 0
                colour = PALETTE["muted"] if abs(change) < 0.005 else PALETTE["gain"] if good else PALETTE["loss"]
                text = "\u00b10%" if abs(change) < 0.005 else f"{change * 100:+.0f}%".replace("-", "\u2212")
                right.text(0.99, y, text, fontsize=13, ha="right", va="center", color=colour)
    return fig


def revops_sections(run: RunKpis) -> list[tuple[str, str, Any]]:
    """(file name, contents title, drawing) of every RevOps page the run supports, in report order."""
    from revsim.revops.targets import evaluate_targets

    cache: dict[str, Any] = {}

    def table() -> xr.Dataset:
        if "table" not in cache:
            cache["table"] = run.table("year")
        return cache["table"]

    def targets() -> TargetReport:
        if "targets" not in cache:
            cache["targets"] = evaluate_targets(run)
        return cache["targets"]

    sections: list[tuple[str, str, Any]] = []
    for page, title, _ in PAGE_TEAMS:
        sections.append((f"team_{page}", f"{title}: KPIs and targets",
                         lambda p=page: team_page(run, p, targets(), table())))
    if run.scenario.model.targets:
        sections.append(("targets", "Targets: probability, all together, conflicts",
                         lambda: targets_page(run, targets())))
    sections.append(("aarrr", "AARRR", lambda: aarrr_page(run)))
    if getattr(run.scenario.model, "kpis", None) is not None and run.scenario.model.kpis.north_star is not None:
        sections.append(("north_star", "North Star", lambda: north_star_page(run)))
    return sections
