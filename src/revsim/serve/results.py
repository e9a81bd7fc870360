"""What the page shows of a comparison, as JSON: the numbers of :mod:`revsim.whatif.compare` and of the
charts' own tables (:mod:`revsim.plot`), with the texts the command line and the report print.

* the ARR fan of the base and of the variant (:func:`revsim.plot.fan.fan_quantiles`);
* the paired difference of ARR month by month (P10, median, P90 of variant - base in each draw);
* every row of ``compare.csv`` (:attr:`revsim.whatif.compare.Comparison.table`), the first being ARR at the
  horizon, the headline;
* P(reach) of every target of the scenario in both runs (:mod:`revsim.revops.targets`, as ``revsim run``),
  with the paired difference and its Monte Carlo standard error;
* the ARR bridge of each default period (:func:`revsim.plot.bridge.bridge_values`) and the KPI panel's table
  (:func:`revsim.plot.kpis.kpi_table`), base and variant side by side.
"""

from __future__ import annotations

import math
import re
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from revsim.revops.targets import TargetResult
    from revsim.serve.controls import Control
    from revsim.serve.variant import Variant
    from revsim.whatif.compare import Comparison

__all__ = ["RunSummary", "summarize", "comparison_payload", "target_rows", "KPI_BETTER", "jsonable"]

#: Which way each KPI of the panel is better.
KPI_BETTER = {
    "nrr_12m": "higher", "grr_12m": "higher", "logo_churn": "lower", "cac": "lower", "cac_payback_months": "lower",
    "ltv": "higher", "ltv_cac": "higher", "pipeline_coverage": "higher", "win_rate": "higher",
    "sales_cycle_months": "lower", "cost_per_lead": "lower", "revenue_per_lead": "higher",
}

_FAN = ("p5", "p10", "p25", "p50", "p75", "p90", "p95")


def jsonable(value: Any) -> Any:
    """``value`` with numpy numbers as Python numbers and NaN or infinities as None (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


@dataclass(frozen=True)
class RunSummary:
    """What the page reads of one run, computed once per run: the fan's quantiles, ARR per draw and month, the
    bridge of each default period, the KPI table and each target's draws that reach it."""

    months: list[str]
    fan: dict[str, np.ndarray]
    arr: np.ndarray  # [draw, month]
    bridges: list[tuple[tuple[int, int], pd.DataFrame]]
    kpis: pd.DataFrame
    reached: list[np.ndarray]  # per target of the scenario: 1.0 in the draws that reach it


def summarize(ds: xr.Dataset) -> RunSummary:
    """The :class:`RunSummary` of a results Dataset."""
    from revsim.plot.bridge import bridge_values, default_periods
    from revsim.plot.draws import total
    from revsim.plot.fan import fan_quantiles
    from revsim.plot.kpis import kpi_table

    table = fan_quantiles(ds)
    reached = [result.reached.astype(float) for result in _evaluated_targets(ds)]
    return RunSummary(
        months=[f"{t.year:04d}-{t.month:02d}" for t in table.index],
        fan={column: table[column].to_numpy() for column in _FAN},
        arr=np.asarray(total(ds, "arr").transpose("draw", "month").values, dtype=float),
        bridges=[(period, bridge_values(ds, period)) for period in default_periods(ds)],
        kpis=kpi_table(ds),
        reached=reached,
    )


def comparison_payload(comparison: Comparison, variant: Variant, controls: Sequence[Control],
                       summaries: MutableMapping[Any, RunSummary] | None = None) -> dict[str, Any]:
    """Everything the page draws for one comparison of the base with one variant.

    ``summaries`` keeps each run's :class:`RunSummary` by (scenario hash, draws, seed), as the runs are kept:
    the base's is computed once per draw count.
    """
    from revsim.plot.draws import currency_of

    name = comparison.variants[0]
    base_ds, variant_ds = comparison.datasets[comparison.base], comparison.datasets[name]
    scenarios = {comparison.base: comparison.plan.base.scenario, name: comparison.plan.variants[0].scenario}

    def summary(run: str) -> RunSummary:
        key = (scenarios[run].sha256, comparison.draws, comparison.seed)
        if summaries is not None and key in summaries:
            return summaries[key]
        made = summarize(comparison.datasets[run])
        if summaries is not None:
            summaries[key] = made
        return made

    base, changed = summary(comparison.base), summary(name)
    currency = currency_of(base_ds)
    payload = {
        "draws": comparison.draws,
        "seed": comparison.seed,
        "currency": currency,
        "unchanged": variant.unchanged,
        "changes": [{"source": c.source, "text": c.text} for c in variant.changes],
        "notes": [*variant.notes, *variant.scenario.notes],
        "warnings": comparison.warnings,
        "fan": {"months": base.months, "base": base.fan, "variant": changed.fan},
        "difference": _difference_by_month(base_ds, base, changed),
        "metrics": _metric_rows(comparison, name),
        "targets": target_rows(base_ds, base, changed),
        "bridges": _bridges(base_ds, base, changed),
        "kpis": _kpis(base_ds, base, changed),
        "inputs": _inputs(comparison, variant, controls),
    }
    return jsonable(payload)


# ---------------------------------------------------------------------------------------------------------


def _difference_by_month(ds: xr.Dataset, base: RunSummary, variant: RunSummary) -> dict[str, Any]:
    """Quantiles of the paired ARR difference (variant - base, draw by draw) in each simulated month."""
    from revsim.plot.draws import quantiles

    p10, p50, p90 = quantiles(variant.arr - base.arr, (0.1, 0.5, 0.9), axis=0)
    return {"months": [str(m)[:7] for m in ds["month"].values], "p10": p10, "p50": p50, "p90": p90}


def _metric_rows(comparison: Comparison, name: str) -> list[dict[str, Any]]:
    from revsim.plot.draws import quantiles
    from revsim.results.summary import format_difference

    rows = []
    table = comparison.table
    for metric in comparison.metrics:
        row = table[(table["variant"] == name) & (table["metric"] == metric.name)].iloc[0].to_dict()
        fmt = lambda x, k=metric.kind: format_difference(float(x), k, comparison.currency)  # noqa: E731
        d = comparison.difference(name, metric.name)
        p5, p95 = quantiles(d, (0.05, 0.95)) if np.isfinite(d).any() else (np.nan, np.nan)
        defined = row["draws"] > 0
        median_text = fmt(row["diff_p50"]) if defined else "n/a"
        direction = "same" if not re.search("[1-9]", median_text) else \
            "better" if (row["diff_p50"] > 0) == (metric.better == "higher") else "worse"
        rows.append({
            **{k: row.get(k) for k in ("metric", "month", "better", "units", "draws", "base_mean", "variant_mean",
                                      "diff_mean", "diff_se", "diff_p10", "diff_p50", "diff_p90", "p_better",
                                      "p_worse")},
            "label": metric.label[:1].upper() + metric.label[1:], "kind": metric.kind, "direction": direction, "month_label": comparison.month_label(metric),
            "diff_p5": p5, "diff_p95": p95,
            "base_mean_text": _level(metric.kind, row.get("base_mean"), comparison.currency),
            "variant_mean_text": _level(metric.kind, row.get("variant_mean"), comparison.currency),
            "median_text": median_text,
            "mean_text": fmt(row["diff_mean"]) if defined else "n/a",
            "interval_text": f"{fmt(row['diff_p10'])} to {fmt(row['diff_p90'])}" if defined else "n/a",
            "se_text": fmt(1.96 * row["diff_se"]).replace("+", "\u00b1", 1) if defined else "n/a",
            "p_better_text": f"{row['p_better'] * 100:.0f}%" if defined else "n/a",
        })
    return rows


def _level(kind: str, value: Any, currency: str) -> str:
    from revsim.plot.money import format_count, format_money, format_percent

    if value is None or not np.isfinite(value):
        return "n/a"
    if kind == "money":
        return format_money(float(value), currency)
    if kind == "count":
        return format_count(float(value))
    return format_percent(float(value), decimals=1)


def target_rows(ds: xr.Dataset, base: RunSummary, variant: RunSummary) -> list[dict[str, Any]]:
    """P(reach) of each target of the scenario in both runs, and the paired difference with its standard error.

    A target is reached in a draw as :func:`revsim.plot.targets.target_probability` counts it (``ds`` is
    either run, for the targets and their texts); the difference of the two shares is the mean of the
    per-draw differences of the two indicators, so its standard error is theirs: sd / sqrt(draws).
    """
    from revsim.plot import style
    from revsim.plot.money import format_probability

    rows = []
    for result, hit_base, hit_variant in zip(_evaluated_targets(ds), base.reached, variant.reached, strict=True):
        d = hit_variant - hit_base
        n = d.size
        se = float(np.std(d, ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        p_base, p_variant = float(hit_base.mean()), float(hit_variant.mean())
        at = str(ds["month"].values[result.last])[:7]
        when = f"by {style.month_label(at)}" if result.first == result.last else f"in {result.period}"
        what = f"{'at most ' if result.below else ''}{result.goal_text} {result.kpi_label} {when}"
        goal = result.fixed_goal
        rows.append({
            "name": result.spec.get("name") or what, "what": what, "metric": result.metric,
            "value": float("nan") if goal is None else goal,
            "value_text": result.goal_text, "at": at, "at_text": style.month_label(at),
            "direction": result.direction, "p_base": p_base, "p_variant": p_variant,
            "p_base_text": format_probability(p_base), "p_variant_text": format_probability(p_variant),
            "diff": p_variant - p_base, "diff_se": se, "diff_text": _points(p_variant - p_base),
        })
    return rows


def _evaluated_targets(ds: xr.Dataset) -> list[TargetResult]:
    """Every target of the run's scenario evaluated on every draw, as ``revsim run`` and ``revsim kpis`` do
    (any KPI, a month or a period, a value or a change against a base)."""
    from revsim.revops.targets import target_report

    return target_report(ds).targets


def _points(value: float) -> str:
    from revsim.plot.money import MINUS

    points = round(100 * value)
    return "\u00b10 pts" if points == 0 else f"{'+' if points > 0 else MINUS}{abs(points)} pts"


def _bridges(ds: xr.Dataset, base: RunSummary, variant: RunSummary) -> list[dict[str, Any]]:
    from revsim.plot.bridge import period_label
    from revsim.plot.draws import currency_of
    from revsim.plot.money import format_money

    currency = currency_of(ds)
    months = ds["month"].values
    out = []
    for (period, b_table), (_, v_table) in zip(base.bridges, variant.bridges, strict=True):
        steps = []
        for step in b_table.index:
            b, v = b_table.loc[step], v_table.loc[step]
            steps.append({
                "step": step, "label": b["label"], "sign": int(b["sign"]),
                "base": {k: float(b[k]) for k in ("mean", "p10", "p90", "base", "top")},
                "variant": {k: float(v[k]) for k in ("mean", "p10", "p90", "base", "top")},
                "base_text": format_money(float(b["mean"]), currency),
                "variant_text": format_money(float(v["mean"]), currency),
                "diff_text": format_money(float(v["mean"] - b["mean"]), currency, signed=True),
            })
        out.append({"label": period_label(ds, period), "first": str(months[period[0]])[:7],
                    "last": str(months[period[1]])[:7], "months": period[1] - period[0] + 1, "steps": steps})
    return out


def _kpis(ds: xr.Dataset, base: RunSummary, variant: RunSummary) -> list[dict[str, Any]]:
    from revsim.plot.draws import currency_of
    from revsim.plot.kpis import KPIS

    currency = currency_of(ds)
    kinds = {variable: kind for variable, _, kind, _ in KPIS}
    if base.kpis.empty:
        return []
    merged = base.kpis.merge(variant.kpis, on=["variable", "kpi", "month"], suffixes=("_base", "_variant"))
    rows = []
    for _, row in merged.iterrows():
        kind = kinds[row["variable"]]
        change = row["p50_variant"] - row["p50_base"]
        same = row["median_text_base"] == row["median_text_variant"]
        better = KPI_BETTER.get(row["variable"], "higher")
        direction = "same" if same or not np.isfinite(change) else \
            "better" if (change > 0) == (better == "higher") else "worse"
        rows.append({
            "variable": row["variable"], "kpi": row["kpi"], "month": row["month"], "better": better,
            "base": row["median_text_base"], "variant": row["median_text_variant"],
            "base_range": row["range_text_base"], "variant_range": row["range_text_variant"],
            "base_p50": row["p50_base"], "variant_p50": row["p50_variant"],
            "change": "\u2013" if same else _kpi_change(kind, change, currency), "direction": direction,
        })
    return rows


def _kpi_change(kind: str, change: float, currency: str) -> str:
    from revsim.plot.money import MINUS, format_money

    if not np.isfinite(change):
        return "n/a"
    sign = "+" if change > 0 else MINUS
    if kind in ("percent", "percent1"):
        return f"{sign}{abs(change) * 100:.1f} pts"
    if kind == "money":
        return format_money(change, currency, signed=True)
    if kind == "months":
        return f"{sign}{abs(change):.1f} mo"
    return f"{sign}{abs(change):.2f}x"


def _inputs(comparison: Comparison, variant: Variant, controls: Sequence[Control]) -> list[dict[str, Any]]:
    """The mean of each input a change touches, before and after (as the sliders show them)."""
    from revsim.plot.input_labels import format_input, input_label
    from revsim.results.dataset import input_units
    from revsim.scenario.schema import iter_inputs

    base = dict(iter_inputs(comparison.plan.base.scenario.model))
    after = dict(iter_inputs(variant.scenario.model))
    currency = comparison.currency
    by_id = {c.id: c for c in controls}
    rows = []
    for change in variant.changes:
        control = by_id.get(change.source)
        if control is None or change.lever is None:
            continue
        values = []
        for path in after:
            if not any(_matches(pattern, path) for pattern in change.lever.paths):
                continue
            units = input_units(path, currency)
            before = float(base[path].mean()) if path in base else float("nan")
            now = float(after[path].mean())
            values.append({"path": path, "label": input_label(path),
                           "base": format_input(before, units, currency, before),
                           "variant": format_input(now, units, currency, before)})
        rows.append({"control": control.id, "values": values})
    return rows


def _matches(pattern: str, path: str) -> bool:
    parts, names = pattern.split("."), path.split(".")
    if len(parts) != len(names):
        return False
    return all(p in ("*", n) for p, n in zip(parts, names, strict=True))
