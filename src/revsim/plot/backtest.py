"""Charts of a backtest: the forecast of one origin against what happened, and the scores of all origins.

``backtest.png`` draws, for the latest origin, each scored series' last two years, the forecast's bands and
the baselines' medians. ``backtest_scores.png`` has one row per series: the coverage of the central
intervals against their nominal level, the mean CRPS against the months ahead (per method, averaged over
origins), and revsim's PIT histogram.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from revsim.calibrate.history import month_index
from revsim.plot.style import PALETTE

if TYPE_CHECKING:  # pragma: no cover
    from revsim.calibrate.backtest import Backtest

__all__ = ["draw_backtest", "draw_backtest_scores"]

#: Line styles of the naive baselines (revsim is the solid blue line).
BASELINE_STYLES = {"last_value": ":", "linear_trend": "--", "seasonal_naive": "-."}


def _method_style(method: str) -> dict:
    if method == "revsim":
        return {"color": PALETTE["primary"], "linestyle": "-", "linewidth": 2.0, "marker": "o", "markersize": 3}
    return {"color": PALETTE["muted"], "linestyle": BASELINE_STYLES.get(method, "-"), "linewidth": 1.2}


def draw_backtest(result: Backtest, path: Path) -> None:
    """One panel per metric: the history, the holdout actuals, the latest origin's bands and the baselines'
    medians."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from revsim.calibrate.backtest_scoring import METRICS
    from revsim.plot.money import format_money

    table = result.table[result.table.origin == result.cut]
    metrics = [m for m in METRICS if m in set(table.metric)]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(9, 3.0 * len(metrics)), squeeze=False)
    cut = month_index(result.cut)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        months, values = result.series[metric]
        idx = [month_index(m) for m in months]
        shown = [i for i, m in enumerate(idx) if m > cut - 24]
        ax.plot([idx[i] - cut for i in shown], [values[i] for i in shown], color=PALETTE["history"], linewidth=1.2,
                label="history")
        rows = table[(table.metric == metric) & (table.method == "revsim")]
        x = rows.horizon.to_numpy()
        ax.fill_between(x, rows.low_90, rows.high_90, color="#9ecae1", alpha=0.7, linewidth=0, label="revsim 90%")
        ax.fill_between(x, rows.low_50, rows.high_50, color="#4292c6", alpha=0.7, linewidth=0, label="revsim 50%")
        ax.plot(x, rows["median"], color="#08519c", linewidth=1.2, label="revsim median")
        for method, style in BASELINE_STYLES.items():
            base = table[(table.metric == metric) & (table.method == method)]
            ax.plot(base.horizon, base["median"], style, color="#737373", linewidth=1, label=method.replace("_", " "))
        ax.axvline(0.5, color="#bdbdbd", linewidth=0.8)
        label, unit = METRICS[metric]
        unit = unit.replace("currency", result.currency)
        ax.set_title(f"{label} ({unit}): months after {result.cut}", fontsize=9, loc="left")
        if unit.startswith(result.currency):
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_money(v, result.currency)))
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, frameon=False, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def draw_backtest_scores(result: Backtest, path: Path) -> None:
    """Per metric: coverage against nominal, mean CRPS against horizon (per method), revsim's PIT histogram."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from revsim.calibrate.backtest_scoring import METRICS
    from revsim.calibrate.backtest_scoring import PIT_BINS
    from revsim.plot.money import format_money

    summary = result.summary
    metrics = [m for m in METRICS if m in set(summary.metric)]
    methods = list(dict.fromkeys(summary.method))
    fig, axes = plt.subplots(len(metrics), 3, figsize=(11, 2.9 * len(metrics)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.5, 1]})
    origins = result.origin_count
    currency = result.currency
    for row, metric in enumerate(metrics):
        label, unit = METRICS[metric]
        unit = unit.replace("currency", currency)
        ax_cov, ax_crps, ax_pit = axes[row]
        overall = summary[(summary.metric == metric) & (summary.horizon == "all")]
        nominal = np.array([0.5, 0.8, 0.9])
        ax_cov.plot([0.4, 1.0], [0.4, 1.0], color=PALETTE["faint"], linewidth=0.8)
        for method in methods:
            line = overall[overall.method == method]
            if line.empty:
                continue
            covered = line[["coverage_50", "coverage_80", "coverage_90"]].to_numpy()[0]
            ax_cov.plot(nominal, covered, label=method.replace("_", " "), **_method_style(method))
        ax_cov.set_xlim(0.4, 1.0)
        ax_cov.set_ylim(0.0, 1.02)
        ax_cov.set_xticks(nominal, ["50%", "80%", "90%"])
        ax_cov.set_ylabel("share of actuals inside", fontsize=8)
        ax_cov.set_title(f"{label}: interval coverage", fontsize=9, loc="left")
        per_h = summary[(summary.metric == metric) & (summary.horizon != "all")]
        for method in methods:
            line = per_h[per_h.method == method]
            if line.empty:
                continue
            ax_crps.plot(line.horizon.astype(int), line.crps, label=method.replace("_", " "), **_method_style(method))
        ax_crps.set_xlabel("months ahead", fontsize=8)
        ax_crps.set_title(f"{label}: mean CRPS ({unit}; lower is better)", fontsize=9, loc="left")
        crps = per_h.crps.to_numpy()
        crps = crps[np.isfinite(crps) & (crps > 0)]
        if crps.size and crps.max() > 20 * crps.min():  # one method far worse: a log scale keeps the others apart
            ax_crps.set_yscale("log")
            ax_crps.set_title(f"{label}: mean CRPS ({unit}, log scale; lower is better)", fontsize=9, loc="left")
        else:
            ax_crps.set_ylim(bottom=0)
        if unit.startswith(currency):
            ax_crps.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_money(v, currency)))
        ax_crps.xaxis.get_major_locator().set_params(integer=True)
        pits = result.table[(result.table.metric == metric) & (result.table.method == "revsim")].pit.to_numpy()
        ax_pit.hist(np.clip(pits, 0, 1), bins=np.linspace(0, 1, PIT_BINS + 1), color=PALETTE["primary"], alpha=0.8,
                    edgecolor="white")
        ax_pit.axhline(len(pits) / PIT_BINS, color=PALETTE["ink"], linewidth=0.8, linestyle="--")
        ax_pit.set_title(f"{label}: revsim PIT ({len(pits)} forecasts)", fontsize=9, loc="left")
        ax_pit.set_xlim(0, 1)
        for ax in (ax_cov, ax_crps, ax_pit):
            ax.spines[["top", "right"]].set_visible(False)
            ax.tick_params(labelsize=7)
    axes[0, 1].legend(fontsize=7, frameon=False, ncol=2)
    fig.suptitle(f"Backtest over {origins} origin(s), {result.holdout} month(s) ahead. Honest intervals lie on the "
                 "grey diagonal; an honest forecast's PIT histogram is flat (dashed line).", fontsize=10, x=0.01,
                 ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
