"""What a calibration needs to know about the scenario it calibrates (or assumes without one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from revsim.calibrate.history import History, month_index

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from revsim.calibrate.plan_priors import PlanValue
    from revsim.calibrate.priors import PriorOverride
    from revsim.scenario.load import LoadedScenario

__all__ = ["ScenarioContext", "LoopInfo", "context_from_scenario", "context_without_scenario"]


@dataclass(frozen=True)
class LoopInfo:
    """A scenario's growth loop, as the referral model sees it."""

    name: str
    source: str
    target: str
    lag: int
    kind: str | None = None


@dataclass(frozen=True)
class ScenarioContext:
    """The scenario's structure, per segment where it varies.

    Without a scenario (:func:`context_without_scenario`) the stages and segments come from the history,
    every period of the cohort table is a renewal and there is no onboarding event.
    """

    stages: list[str] | None
    segments: list[str]
    channels: dict[str, str] = field(default_factory=dict)  # channel -> entry stage
    loops: list[LoopInfo] = field(default_factory=list)
    contract_months: dict[str, int] = field(default_factory=dict)
    onboarding_months: dict[str, int | None] = field(default_factory=dict)  # None: no onboarding to estimate
    retention_models: dict[str, str] = field(default_factory=dict)
    book_mrr: dict[str, float] = field(default_factory=dict)
    start: int | None = None  # month index of the scenario's start
    priors: dict[str, PriorOverride] = field(default_factory=dict)
    has_scenario: bool = False
    #: The plan's values that centre default priors (:mod:`revsim.calibrate.plan_priors`): months in stage by
    #: (stage, segment or None), growth and log seasonal effects by channel.
    plan_months: dict[tuple[str, str | None], PlanValue] = field(default_factory=dict)
    plan_growth: dict[str, PlanValue] = field(default_factory=dict)
    plan_seasonality: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def referral_loop(self) -> LoopInfo | None:
        """The loop ``referrals.csv`` describes: the only loop, else the one named or kinded ``referral(s)``."""
        if len(self.loops) == 1:
            return self.loops[0]
        for loop in self.loops:
            if loop.name in ("referral", "referrals") or (loop.kind or "").lower() in ("referral", "referrals"):
                return loop
        return None


def context_from_scenario(loaded: LoadedScenario) -> ScenarioContext:
    """The structure of a loaded scenario, and the plan's values that centre default priors."""
    from revsim.calibrate.plan_priors import plan_growth, plan_months, plan_seasonality

    model = loaded.model
    segments = model.segment_names
    first_stage = model.stage_names[0]
    channels = {c.name: c.stage or first_stage for c in model.channels}
    loops = [LoopInfo(name=loop.name, source=loop.source, target=loop.target, lag=loop.lag, kind=loop.kind)
             for loop in model.loops]
    contract, onboarding, retention, book = {}, {}, {}, {}
    for seg in segments:
        ret = model.settings("retention", seg)
        contract[seg] = ret.contract_months
        retention[seg] = ret.model
        onb = model.settings("onboarding", seg)
        fixed_at_one = onb.success.is_constant and onb.success.mean() == 1.0
        onboarding[seg] = None if fixed_at_one else max(onb.months, 1)
        book[seg] = 0.0
    for cohort in model.initial_book:
        seg = cohort.segment or segments[0]
        book[seg] += cohort.monthly_revenue
    priors = dict(model.calibration.priors) if model.calibration is not None else {}
    return ScenarioContext(stages=model.stage_names, segments=segments, channels=channels, loops=loops,
                           contract_months=contract, onboarding_months=onboarding, retention_models=retention,
                           book_mrr=book, start=month_index(model.start), priors=priors, has_scenario=True,
                           plan_months=plan_months(model), plan_growth=plan_growth(model),
                           plan_seasonality=plan_seasonality(model))


def context_without_scenario(history: History) -> ScenarioContext:
    """Defaults for a calibration of what the history supports, without a scenario."""
    segments: list[str] = []
    for part in (history.funnel, history.cohorts, history.mrr):
        for seg in (getattr(part, "segments", None) or []):
            if seg not in segments:
                segments.append(seg)
    period = history.cohorts.period_months if history.cohorts is not None else 1
    names = segments or ["all"]
    return ScenarioContext(stages=None, segments=names, contract_months=dict.fromkeys(names, period),
                           onboarding_months=dict.fromkeys(names), retention_models=dict.fromkeys(names, "sbg"))
