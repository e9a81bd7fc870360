"""Priors centred on the scenario's plan: the team's own values for what the calibration estimates.

A scenario written before calibrating states what the team believes: a sales cycle of about five months
(``months: [3.3, 7.5]``), leads growing about 1.5% a month, a summer dip. That is prior knowledge the history
should update, not ignore. Where the monthly counts identify a quantity poorly (a slow stage's months in stage,
a channel's growth over two years of noisy leads), a default prior centred elsewhere (one month in stage, no
growth) pulls the estimate away from what the team knew, and the forecast with it.

Three quantities take the plan as the default prior when the scenario gives them and the ``calibration``
block does not override them:

* a stage's **months in stage**: the stage's ``months`` centres the stage's pooled value, and its segments'
  ``by_segment`` months centre their effects around it (their spread stays ``segment_sd``);
* a channel's **growth**;
* a channel's **seasonality**: the effects are centred on the plan's (log) multipliers, with the default spread
  ``seasonality_sd``.

An uncertain value gives its own median and spread (a lognormal for months, a normal for growth, matching its
5% and 95% quantiles); a constant gives its value as the centre and the default prior's spread. Values drawn
from a posterior file (a calibrated scenario calibrated again) are not used: the default applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.distributions import Distribution
    from revsim.scenario.schema import Scenario

__all__ = ["PlanValue", "plan_value", "plan_months", "plan_growth", "plan_seasonality", "MONTHS_FLOOR",
           "Z90"]

#: Months in stage below which a plan's value is taken as this (a lognormal cannot be centred on 0).
MONTHS_FLOOR = 0.05
#: The standard normal's 95% quantile: a 90% interval is +/- Z90 standard deviations.
Z90 = 1.6448536269514722


@dataclass(frozen=True)
class PlanValue:
    """A plan's value as a prior: its centre and spread on the prior's scale (log for ``log=True``).

    ``spread`` is None for a constant: the default prior's spread applies.
    """

    centre: float
    spread: float | None


def plan_value(dist: Distribution | None, *, log: bool, floor: float = 0.0) -> PlanValue | None:
    """The centre and spread of a scenario input, or None when it gives none (absent, or drawn from a posterior
    or empirical samples)."""
    from revsim.scenario.distributions import Empirical, Posterior

    if dist is None or isinstance(dist, Empirical | Posterior):
        return None
    low, median, high = (float(v) for v in dist.ppf(np.array([0.05, 0.5, 0.95])))
    if log:
        low, median, high = (math.log(max(v, floor)) for v in (low, median, high))
    if dist.is_constant or high <= low:
        return PlanValue(median, None)
    return PlanValue(median, (high - low) / (2 * Z90))


def plan_months(model: Scenario) -> dict[tuple[str, str | None], PlanValue]:
    """``(stage, None)``: a stage's own months; ``(stage, segment)``: a segment's ``by_segment`` months (log)."""
    out: dict[tuple[str, str | None], PlanValue] = {}
    for stage in model.funnel.stages:
        value = plan_value(stage.months, log=True, floor=MONTHS_FLOOR)
        if value is not None:
            out[(stage.name, None)] = value
        for segment, override in stage.by_segment.items():
            value = plan_value(override.months, log=True, floor=MONTHS_FLOOR)
            if value is not None:
                out[(stage.name, segment)] = value
    return out


def plan_growth(model: Scenario) -> dict[str, PlanValue]:
    """Each channel's growth."""
    out = {}
    for channel in model.channels:
        value = plan_value(channel.growth, log=False)
        if value is not None:
            out[channel.name] = value
    return out


def plan_seasonality(model: Scenario) -> dict[str, np.ndarray]:
    """Each channel's twelve log seasonal effects (the medians of its multipliers, January first), centred to sum
    to 0 as the calibration's effects do; channels without seasonality are left out."""
    out = {}
    for channel in model.channels:
        if not channel.seasonality:
            continue
        values = [plan_value(v, log=True, floor=1e-3) for v in channel.seasonality]
        if any(v is None for v in values):
            continue
        logs = np.array([v.centre for v in values if v is not None])
        out[channel.name] = logs - logs.mean()
    return out
