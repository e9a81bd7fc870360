"""Targets and the probability of reaching them, as printed on the charts.

A target is reached in a draw when its metric, read at its month, is at least its value (at most, for a
target ``below``). The probability printed is the share of draws that reach it; a draw where the metric is
undefined that month (NRR in the first 11 months) does not reach it. This is the same rule as the printed
summary of ``revsim run``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from revsim.plot.draws import currency_of, is_quantile_form, month_index, stored_quantiles, total
from revsim.plot.money import format_count, format_money, format_percent, format_probability

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["ChartTarget", "scenario_targets", "arr_target", "target_draws", "target_probability", "target_chance",
           "chance_text",
           "format_probability", "format_target_value", "MONEY_METRICS", "RATIO_METRICS"]

MONEY_METRICS = ("arr", "mrr")
RATIO_METRICS = ("nrr_12m", "grr_12m", "logo_churn")


@dataclass(frozen=True)
class ChartTarget:
    """A goal as the charts and report pages show it: ``metric`` (``arr``, ``mrr``, ``active_customers``...) at
    ``value`` in month ``at`` (YYYY-MM). (The scenario's own targets are :class:`revsim.scenario.revops.Target`.)"""

    metric: str
    value: float
    at: str
    direction: str = "above"
    name: str | None = None
    probability: float | None = None  # when evaluated over a period (revsim.revops.targets)

    @property
    def below(self) -> bool:
        return self.direction == "below"

    @property
    def on_arr_axis(self) -> bool:
        """Whether it is drawn on an ARR chart: an ARR or MRR goal that is the same in every draw."""
        return self.metric in MONEY_METRICS and bool(np.isfinite(self.value))


def _last_month(ds: xr.Dataset) -> str:
    return str(ds["month"].values[-1])[:7]


def scenario_targets(ds: xr.Dataset) -> list[ChartTarget]:
    """The targets the scenario declares, as :mod:`revsim.revops.targets` evaluates them: each read in the
    month its period ends, with its goal (NaN when a relative goal differs between draws) and its probability.

    Results whose scenario cannot be found give the targets written for one month, with their values.
    """
    from revsim.errors import RevsimError

    specs = json.loads(ds.attrs.get("targets", "[]") or "[]")
    if not specs:
        return []
    try:
        from revsim.revops.targets import target_report

        report = target_report(ds)
    except RevsimError:
        return [ChartTarget(metric=item.get("metric", "arr"), value=float(item["value"]),
                       at=(item.get("at") or _last_month(ds))[:7], direction=item.get("direction") or "above",
                       name=item.get("name")) for item in specs if isinstance(item.get("value"), int | float)]
    months = ds["month"].values
    targets = []
    for t in report.targets:
        goal = t.fixed_goal
        named = t.spec.get("name") or (None if goal is not None and t.spec.get("change") is None else t.label)
        targets.append(ChartTarget(metric=t.metric, value=float("nan") if goal is None else goal,
                              at=str(months[t.last])[:7], direction=t.direction, name=named,
                              probability=t.probability))
    return targets


def arr_target(ds: xr.Dataset, value: float, at: str | None = None) -> ChartTarget:
    """An ARR target given on the command line (``--target 20M``): at the horizon unless ``at`` is given."""
    return ChartTarget(metric="arr", value=float(value), at=(at or _last_month(ds))[:7])


def target_draws(ds: xr.Dataset, target: ChartTarget) -> np.ndarray:
    """The target's metric in each draw, at the target's month (NaN where undefined)."""
    if target.metric == "new_customers_total":
        values = total(ds, "new_customers").cumsum("month")
    else:
        values = total(ds, target.metric)
    return np.asarray(values.isel(month=month_index(ds, target.at)).values, dtype=float)


def target_probability(ds: xr.Dataset, target: ChartTarget) -> float:
    """Share of draws that reach ``target`` (NaN draws do not); as evaluated when it carries a probability."""
    if target.probability is not None:
        return target.probability
    values = target_draws(ds, target)
    with np.errstate(invalid="ignore"):
        reached = values <= target.value if target.below else values >= target.value
    return float(np.mean(reached & np.isfinite(values)))


def target_chance(ds: xr.Dataset, target: ChartTarget) -> tuple[float, float]:
    """The probability of reaching ``target`` as (low, high): equal when known (every draw, or a probability
    evaluated with the run); from results kept as quantiles, the two stored quantiles the goal lies between
    bound it (a goal between the P25 and the median of ARR is reached by 50% to 75% of draws). (NaN, NaN)
    when the results hold no quantiles of its metric."""
    if target.probability is not None or not is_quantile_form(ds):
        p = target_probability(ds, target)
        return p, p
    from revsim.plot.unavailable import ChartUnavailable

    kept = np.asarray(ds["quantile"].values, dtype=float)
    try:
        values = stored_quantiles(ds, target.metric, kept)
    except ChartUnavailable:
        return float("nan"), float("nan")
    if values.ndim > 1:
        values = values[:, month_index(ds, target.at)]
    if not np.isfinite(values).all():
        return float("nan"), float("nan")
    bounds = np.concatenate([[0.0], kept, [1.0]])
    # below the i-th stored quantile lies a share kept[i] of the draws: the goal's place among them bounds it
    place = int(np.searchsorted(values, target.value, side="left"))
    below_low, below_high = float(bounds[place]), float(bounds[place + 1])
    if target.below:
        return below_low, below_high
    return 1.0 - below_high, 1.0 - below_low


def chance_text(ds: xr.Dataset, target: ChartTarget) -> str:
    """``30%``, or ``50–75%`` when results kept as quantiles only bound it, or ``n/a``."""
    low, high = target_chance(ds, target)
    if not np.isfinite(low):
        return "n/a"
    if low == high:
        return format_probability(low)
    return f"{format_probability(low).rstrip('%')}–{format_probability(high)}"


def format_target_value(ds: xr.Dataset, target: ChartTarget) -> str:
    """The target's value in its unit: ``$20M``, ``92%``, ``8,000``."""
    if target.metric in MONEY_METRICS:
        return format_money(target.value, currency_of(ds))
    if target.metric in RATIO_METRICS:
        return format_percent(target.value, decimals=1 if target.metric == "logo_churn" else 0)
    return format_count(target.value)
