"""The probability of reaching each target, of reaching them all, and which targets conflict.

A target is reached in a draw when its KPI, read over its period in that draw, is at least its goal (at most
with ``direction: below``); a draw where the KPI is undefined (no deals decided, NRR before month 12) does
not reach it. The goal of a relative target is computed per draw when its base is a period of the run
(``change: +30%, base: previous``), so the comparison is paired: "new ARR in FY2029 is 30% above FY2028's in
the same simulated world".

Two targets **conflict** when they are reached together markedly less often than if they were independent:
the correlation of their reached/not-reached indicators (phi) is at most -0.1 and at least three standard
errors below 0 (:data:`CONFLICT_PHI`, :data:`CONFLICT_Z`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from revsim.revops.compute import RunKpis

__all__ = ["TargetResult", "TargetReport", "evaluate_targets", "target_report", "CONFLICT_PHI", "CONFLICT_Z"]

#: A pair of targets conflicts when the correlation of their indicators is at most this...
CONFLICT_PHI = -0.1
#: ...and this many standard errors (1 / sqrt(draws)) below zero.
CONFLICT_Z = 3.0


@dataclass
class TargetResult:
    """One target, evaluated on every draw.

    Attributes
    ----------
    label, metric, period, owner, direction
        As written (owner and direction with their defaults filled in); ``period`` is the period's label.
    reading
        The KPI over the period, per draw.
    goal
        The goal per draw (the same in every draw unless the base is a period of the run).
    reached
        Per draw: whether the target is reached.
    first, last
        The period's first and last month positions in the run.
    base_text
        The base a relative goal is computed from, for readers (empty for a value).
    """

    label: str
    metric: str
    kpi_label: str
    period: str
    first: int
    last: int
    owner: str
    direction: str
    unit: str
    reading: np.ndarray
    goal: np.ndarray
    reached: np.ndarray
    goal_text: str
    base_text: str = ""
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def probability(self) -> float:
        return float(np.mean(self.reached))

    @property
    def standard_error(self) -> float:
        p, n = self.probability, len(self.reached)
        return float(np.sqrt(p * (1 - p) / n)) if n else float("nan")

    @property
    def fixed_goal(self) -> float | None:
        """The goal when it is the same in every draw, else None."""
        finite = self.goal[np.isfinite(self.goal)]
        return float(finite[0]) if finite.size and np.all(finite == finite[0]) and finite.size == self.goal.size \
            else None

    @property
    def below(self) -> bool:
        return self.direction == "below"

    @property
    def title(self) -> str:
        """The target's name, or ``ARR \u2265 $30M in 2029-12`` for readers."""
        sign = "\u2264" if self.below else "\u2265"
        return self.spec.get("name") or f"{self.kpi_label} {sign} {self.goal_text} in {self.period}"


@dataclass
class TargetReport:
    """Every target of a run with the joint probability and the conflicting pairs."""

    targets: list[TargetResult]
    draws: int

    @property
    def joint(self) -> float:
        """Share of draws reaching every target (NaN without targets)."""
        if not self.targets:
            return float("nan")
        return float(np.mean(np.all([t.reached for t in self.targets], axis=0)))

    def conflicts(self) -> list[dict[str, Any]]:
        """Pairs of targets reached together markedly less often than if independent, strongest first."""
        out = []
        n = self.draws
        for i, a in enumerate(self.targets):
            for b in self.targets[i + 1:]:
                pa, pb = a.probability, b.probability
                both = float(np.mean(a.reached & b.reached))
                spread = np.sqrt(pa * (1 - pa) * pb * (1 - pb))
                if spread == 0:
                    continue
                phi = (both - pa * pb) / spread
                if phi <= CONFLICT_PHI and -phi * np.sqrt(n) >= CONFLICT_Z:
                    out.append({"first": a.label, "second": b.label, "p_first": pa, "p_second": pb, "p_both": both,
                                "p_both_if_independent": pa * pb, "phi": float(phi)})
        return sorted(out, key=lambda row: row["phi"])

    def table(self) -> pd.DataFrame:
        """One row per target: label, owner, metric, period, goal, direction, probability and its standard
        error, and the reading's P10, median and P90."""
        import pandas as pd

        rows = []
        for t in self.targets:
            finite = t.reading[np.isfinite(t.reading)]
            q = np.quantile(finite, [0.1, 0.5, 0.9]) if finite.size else [np.nan] * 3
            rows.append({"target": t.label, "owner": t.owner, "metric": t.metric, "period": t.period,
                         "goal": t.goal_text, "direction": t.direction, "probability": t.probability,
                         "standard_error": t.standard_error, "p10": q[0], "p50": q[1], "p90": q[2]})
        return pd.DataFrame(rows, columns=["target", "owner", "metric", "period", "goal", "direction", "probability",
                                           "standard_error", "p10", "p50", "p90"])


def _reading(run: RunKpis, metric: str, first: int, last: int) -> np.ndarray:
    """The KPI per draw over months ``first`` to ``last``; customers won since the start for the legacy
    ``new_customers_total``."""
    if metric == "new_customers_total":
        return run.values("new_customers", [(0, last)])[:, 0]
    return run.values(metric, [(max(first, 0), last)])[:, 0]


def _evaluate(run: RunKpis, spec: dict[str, Any], currency: str) -> TargetResult:
    from revsim.revops.calendar import Period
    from revsim.revops.text import format_kpi as format_goal
    from revsim.scenario.revops import (
        PREVIOUS,
        HistoryBase,
        Target,
        base_period,
        parse_change,
        parse_value,
        scenario_calendar,
        target_period,
    )

    model = run.scenario.model
    target = Target.model_validate({k: v for k, v in spec.items() if k != "label"})
    period: Period = target_period(model, target)
    metric = target.metric
    kpi = None if metric == "new_customers_total" else run.kpi(metric)
    unit = "count" if kpi is None else kpi.unit
    reading = _reading(run, metric, period.first, period.last)
    base_text = ""
    if target.value is not None:
        goal = np.full(reading.shape, parse_value(target.value).number)
        goal_text = format_goal(goal[0], unit, currency)
    else:
        change = parse_change(target.change)
        if isinstance(target.base, HistoryBase):
            from revsim.revops.history_base import history_base_value

            history_period = scenario_calendar(model).parse(target.base.period, start=model.start)
            base = np.full(reading.shape, history_base_value(target.base.history, metric, history_period, model))
            base_text = f"{history_period.label} of history ({format_goal(base[0], unit, currency)})"
        elif isinstance(target.base, float) or (target.base != PREVIOUS and base_period(model, target, period) is None):
            base = np.full(reading.shape, parse_value(target.base).number)
            base_text = format_goal(base[0], unit, currency)
        else:
            other = base_period(model, target, period)
            assert other is not None
            base = _reading(run, metric, other.first, other.last)
            base_text = f"{other.label} of the run"
        goal = base + change.number if change.kind == "points" else base * change.number
        shown = target.change
        goal_text = f"{shown} vs {base_text}"
        if np.all(goal == goal[0]):
            goal_text += f" = {format_goal(goal[0], unit, currency)}"
    with np.errstate(invalid="ignore"):
        reached = (reading <= goal) if target.direction == "below" else (reading >= goal)
    reached = reached & np.isfinite(reading) & np.isfinite(goal)
    owner = target.owner or (kpi.team if kpi is not None else "sales")
    return TargetResult(label=target.label, metric=metric, kpi_label=kpi.label if kpi else "Customers won since start",
                        period=period.label, first=max(period.first, 0), last=period.last, owner=owner,
                        direction=target.direction, unit=unit, reading=reading, goal=goal, reached=reached,
                        goal_text=goal_text, base_text=base_text, spec=dict(spec))


def evaluate_targets(run: RunKpis) -> TargetReport:
    """Every target the run's scenario declares (the results' ``targets`` attribute), evaluated on every draw."""
    specs = json.loads(run.ds.attrs.get("targets", "[]") or "[]")
    return TargetReport([_evaluate(run, spec, run.currency) for spec in specs], run.ds.sizes["draw"])


def target_report(ds: xr.Dataset, *, scenario: Any = None) -> TargetReport:
    """The targets of a run (:func:`evaluate_targets`) straight from its results."""
    from revsim.revops.compute import run_kpis

    return evaluate_targets(run_kpis(ds, scenario=scenario))
