"""Goal seeking: the smallest setting of a lever that reaches a target with a given confidence.

The probability of reaching the target, ``P(x)``, is estimated at a lever setting ``x`` as the share of draws
in which ARR (or the customer count) in the target month is at least the target. Every evaluation is a full
run with the same seed and draws, so with a lever whose effect is monotone draw by draw (the engine's common
random numbers couple a higher conversion, or a lower churn, to more customers in every draw) ``P(x)`` is
monotone in ``x`` exactly, not only on average, and bisection finds where it crosses the confidence ``c``.

The search runs along the lever's range from its first end (``from``, by default no change) to its second;
the answer is the first setting found, within the tolerance, at which ``P >= c``. Its Monte Carlo error:
``P`` is a share of ``n`` draws, with standard error ``sqrt(c (1 - c) / n)`` near the crossing, so the
settings where ``P`` crosses ``c - 1.96 SE`` and ``c + 1.96 SE`` bound where the crossing would be with
unlimited draws (about 95% of the time).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.errors import InputError, Problem
from revsim.pipeline import run_raw
from revsim.whatif.runs import Overrides, ScenarioLike, load, month_position, total_at

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from revsim.scenario.levers import LeverSpec
    from revsim.scenario.load import LoadedScenario

__all__ = ["GoalResult", "goal_seek", "FOUND", "AT_START", "UNREACHABLE", "DEFAULT_STEPS"]

FOUND = "found"
AT_START = "reached_at_start"
UNREACHABLE = "unreachable"
#: The default tolerance is the range divided by this many steps.
DEFAULT_STEPS = 200
#: z of the two-sided 95% band around the confidence.
Z95 = 1.959963984540054


@dataclass
class GoalResult:
    """The outcome of :func:`goal_seek`.

    Attributes
    ----------
    status
        ``found``, ``reached_at_start`` (already reached with no change, at the range's first end) or
        ``unreachable`` (not reached at the range's second end).
    setting
        The first setting that reaches the target (the range's first end when ``reached_at_start``; None when
        unreachable), in the lever's unit: a fraction for a relative lever (-0.13 is -13%), an amount for an
        additive one, the value itself for an absolute one.
    probability, standard_error
        The estimated probability of reaching the target at ``setting`` and its Monte Carlo standard error.
    bracket
        The last two settings of the bisection: one short of the confidence, one reaching it.
    band
        The settings where the probability crosses ``confidence - 1.96 SE`` and ``confidence + 1.96 SE``
        (None: beyond the range's end): the setting's Monte Carlo uncertainty.
    evaluations
        Every setting evaluated, with its probability, in the order of the range.
    """

    lever: LeverSpec
    metric: str
    target: float
    month: str
    confidence: float
    draws: int
    seed: int
    search_range: tuple[float, float]
    status: str
    setting: float | None
    probability: float | None
    standard_error: float | None
    bracket: tuple[float, float] | None
    band: tuple[float | None, float | None]
    evaluations: pd.DataFrame
    values: str = ""
    currency: str = "USD"
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        return self.status != UNREACHABLE

    def describe_setting(self, setting: float | None) -> str:
        if setting is None:
            return "beyond the range"
        return self.lever.change.describe_setting(setting)

    def summary_text(self) -> str:
        """What was found, in a few lines."""
        from revsim.plot.money import format_money

        shown = format_money(self.target, self.currency) if self.metric == "arr" else f"{self.target:,.0f}"
        what = "ARR" if self.metric == "arr" else "customers"
        lo, hi = self.search_range
        lines = [f"Goal: {what} >= {shown} in {self.month} with {self.confidence:.0%} confidence, moving lever "
                 f"'{self.lever.name}' ({self.lever.describe()}) from {self.describe_setting(lo)} to "
                 f"{self.describe_setting(hi)}; {self.draws:,} draws, seed {self.seed}"]
        first, last = self.evaluations.iloc[0], self.evaluations.iloc[-1]
        if self.status == AT_START:
            lines.append(f"Already reached at {self.describe_setting(lo)}: P = {first['probability']:.1%} "
                         f"(standard error {self.standard_error:.1%}), no change needed")
        elif self.status == UNREACHABLE:
            lines.append(f"Not reachable within the range: at {self.describe_setting(hi)} P = "
                         f"{last['probability']:.1%} < {self.confidence:.0%}; widen the range (--range) or use "
                         "another lever")
        else:
            lines.append(f"Smallest setting: {self.describe_setting(self.setting)} gives P = {self.probability:.1%} "
                         f"(Monte Carlo standard error {self.standard_error:.1%})")
            low, high = self.band
            lines.append(f"Monte Carlo uncertainty on the setting: {self.describe_setting(low)} to "
                         f"{self.describe_setting(high)} (where P crosses {self.confidence - Z95 * self._se_c:.1%} and "
                         f"{self.confidence + Z95 * self._se_c:.1%})")
            if self.values:
                lines.append(f"At that setting: {self.values}")
        lines.append(f"{len(self.evaluations)} settings evaluated")
        return "\n".join(lines)

    @property
    def _se_c(self) -> float:
        return math.sqrt(self.confidence * (1 - self.confidence) / self.draws)


def goal_seek(scenario: ScenarioLike, lever: Any, *, target_arr: float | str | None = None,
              target_customers: float | None = None, at: str | None = None, confidence: float = 0.8,
              draws: int = 1000, seed: int = 0, threads: int | None = None,
              search_range: tuple[Any, Any] | None = None, tolerance: float | None = None,
              overrides: Overrides = None, on_evaluation: Callable[[float, float], None] | None = None) -> GoalResult:
    """Find the smallest setting of ``lever`` at which the target is reached with probability ``confidence``.

    Parameters
    ----------
    scenario
        A file name or a scenario from :func:`revsim.load_scenario`.
    lever
        The name of a lever the scenario declares, an ad-hoc ``"PATH=CHANGE"``, or a
        :class:`~revsim.scenario.levers.LeverSpec`.
    target_arr, target_customers
        The target: ARR (an amount, ``"12M"``) or active customers, at least this much (give one).
    at
        ``YYYY-MM``: the month the target is read (default: the last simulated month).
    confidence
        The probability to reach, in (0, 1).
    draws, seed, threads
        As for :func:`revsim.simulate`; every evaluation uses the same seed and draws.
    search_range
        ``(from, to)`` settings in the lever's unit (``"-60%"`` or -0.6 for a relative lever); default: the
        lever's ``range``, else no change to three times its change, cut where the input would leave its
        domain.
    tolerance
        Stop when the bracket is narrower than this (in the lever's unit; default: the range / 200).
    overrides
        ``PATH=VALUE`` texts or a path -> value mapping (as ``--set``).
    on_evaluation
        Called with each setting evaluated and its probability.

    Returns
    -------
    GoalResult

    Raises
    ------
    InputError
        For a bad target, confidence, lever or range.

    Examples
    --------
    >>> revsim.goal_seek("scenarios/saas_sales_led.yaml", "churn_down_fifth", target_arr="30M")  # doctest: +SKIP
    """
    from revsim.scenario.distributions import parse_amount
    from revsim.scenario.levers import default_range, describe_values, get_lever, parse_setting
    from revsim.scenario.overrides import apply_lever

    loaded, notes = load(scenario, overrides)
    month = month_position(loaded, at)
    metric, target = _target(target_arr, target_customers, parse_amount)
    if not 0 < confidence < 1:
        raise InputError.single(f"the confidence is a probability between 0 and 1 (0.8 for 80%), got {confidence}",
                                path=("--confidence",))
    spec = get_lever(loaded, lever)
    explicit = search_range is not None or spec.range is not None
    if search_range is not None:
        try:
            start, end = (parse_setting(v) for v in search_range)
        except ValueError as exc:
            raise InputError.single(str(exc), path=("--range",)) from None
        if start == end:
            raise InputError.single(f"a range needs two different settings, got {start:g} twice", path=("--range",))
    else:
        start, end = default_range(loaded, spec)
    start, end, cut = _valid_range(loaded, spec, start, end, explicit, apply_lever)
    if cut:
        notes.append(cut)
    if tolerance is not None and not tolerance > 0:
        raise InputError.single(f"the tolerance must be positive, got {tolerance}", path=("--tolerance",))
    step = (tolerance if tolerance is not None else abs(end - start) / DEFAULT_STEPS) / abs(end - start)

    evaluated: dict[float, float] = {}
    messages: list[str] = []

    def setting_at(t: float) -> float:
        return float(f"{start + t * (end - start):.12g}")

    def probability(t: float) -> float:
        if t not in evaluated:
            variant, more = apply_lever(loaded, spec, setting_at(t))
            notes.extend(more)
            _, raw, warned = run_raw(variant, draws=draws, seed=seed, threads=threads)
            messages.extend(warned)
            evaluated[t] = float(np.mean(total_at(raw, metric, month) >= target))
            if on_evaluation is not None:
                on_evaluation(setting_at(t), evaluated[t])
        return evaluated[t]

    se_c = math.sqrt(confidence * (1 - confidence) / draws)
    levels = (confidence, confidence - Z95 * se_c, confidence + Z95 * se_c)
    probability(0.0)
    probability(1.0)
    crossings = {level: _crossing(level, evaluated, probability, step) for level in levels}

    t_star = crossings[confidence]
    if evaluated[0.0] >= confidence:
        status = AT_START
    elif t_star is None:
        status = UNREACHABLE
    else:
        status = FOUND
    setting = None if t_star is None else setting_at(t_star)
    p_star = None if t_star is None else evaluated[t_star]
    below = [t for t in evaluated if t_star is not None and t < t_star and evaluated[t] < confidence]
    bracket = (setting_at(max(below)), setting) if status == FOUND and below else None
    band = tuple(None if crossings[level] is None else setting_at(crossings[level]) for level in levels[1:])
    values = ""
    if setting is not None:
        variant, _ = apply_lever(loaded, spec, setting)
        values = describe_values(variant, spec)
    import pandas as pd

    ordered = sorted(evaluated)
    evaluations = pd.DataFrame({"setting": [setting_at(t) for t in ordered],
                                "probability": [evaluated[t] for t in ordered]})
    evaluations["standard_error"] = np.sqrt(evaluations["probability"] * (1 - evaluations["probability"]) / draws)
    drops = np.diff(evaluations["probability"].to_numpy())
    if drops.size and drops.min() < -2 * se_c:
        notes.append(f"P does not grow steadily along lever '{spec.name}' (it falls by {-drops.min():.1%} between "
                     "two settings): the lever's effect is not monotone, and the answer is one crossing of the "
                     "confidence")
    se = None if p_star is None else math.sqrt(p_star * (1 - p_star) / draws)
    return GoalResult(
        lever=spec, metric=metric, target=target, month=loaded.model.month_label(month), confidence=confidence,
        draws=draws, seed=seed, search_range=(start, end), status=status, setting=setting, probability=p_star,
        standard_error=se, bracket=bracket, band=band, evaluations=evaluations,  # type: ignore[arg-type]
        values=values, currency=loaded.model.currency, notes=list(dict.fromkeys(notes)),
        warnings=list(dict.fromkeys(messages)),
    )


def _target(target_arr: Any, target_customers: Any, parse_amount: Callable[[str], float | None]) -> tuple[str, float]:
    if (target_arr is None) == (target_customers is None):
        raise InputError.single("give one target: an ARR (--target-arr 12M) or a number of customers "
                                "(--target-customers 1500)", path=("--target-arr",))
    if target_arr is not None:
        value = parse_amount(target_arr) if isinstance(target_arr, str) else float(target_arr)
        if value is None or not math.isfinite(value) or value <= 0:
            raise InputError.single(f"expected a positive amount such as 12M or 250k, got '{target_arr}'",
                                    path=("--target-arr",))
        return "arr", float(value)
    value = float(target_customers)
    if not math.isfinite(value) or value <= 0:
        raise InputError.single(f"expected a positive number of customers, got {target_customers}",
                                path=("--target-customers",))
    return "active_customers", value


def _valid_range(loaded: LoadedScenario, spec: LeverSpec, start: float, end: float, explicit: bool,
                 apply_lever: Callable[..., Any]) -> tuple[float, float, str | None]:
    """The range, checked: both ends must give a valid scenario. A default range is cut where the input
    would leave its domain (a churn below 0); an explicit one that does is an input error."""

    def valid(setting: float) -> InputError | None:
        try:
            apply_lever(loaded, spec, setting)
        except InputError as exc:
            return exc
        return None

    def refuse(setting: float, error: InputError) -> InputError:
        shown = spec.change.describe_setting(setting)
        return InputError([Problem(f"lever '{spec.name}' cannot be set to {shown}, an end of its range: {p.render()}",
                                   ("--range",)) for p in error.problems], file=error.file)

    problem = valid(start)
    if problem is not None:
        raise refuse(start, problem)
    problem = valid(end)
    if problem is None:
        return start, end, None
    if explicit:
        raise refuse(end, problem)
    good, bad = 0.0, 1.0
    for _ in range(40):
        mid = (good + bad) / 2
        if valid(start + mid * (end - start)) is None:
            good = mid
        else:
            bad = mid
    cut = float(f"{start + good * (end - start):.6g}")
    if cut == start:
        raise refuse(end, problem)
    note = (f"lever '{spec.name}': the default range ends at {spec.change.describe_setting(cut)}, where the input "
            f"stays valid ({spec.change.describe_setting(end)} would not)")
    return start, cut, note


def _crossing(level: float, evaluated: dict[float, float], probability: Callable[[float], float],
              step: float) -> float | None:
    """The first position t in [0, 1] where the probability reaches ``level``, within ``step``; None when
    it does not reach it at t = 1. Bisects between evaluated positions (reusing them)."""
    while True:
        reached = [t for t in evaluated if evaluated[t] >= level]
        if not reached:
            return None
        hi = min(reached)
        below = [t for t in evaluated if t < hi and evaluated[t] < level]
        if not below:
            return hi
        lo = max(below)
        if hi - lo <= step:
            return hi
        probability((lo + hi) / 2)
