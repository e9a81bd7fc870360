"""The plan a finance team would write at a cut: the truth's structure, guessed rates, the state at the cut.

:func:`plan_scenario` returns a revsim scenario dict starting the month after ``cut``:

* the truth's structure (segments, channels, stages, contract terms, loops, seasonality...);
* every rate the history can inform widened into a 90% interval ``[low, high]`` that contains the truth:
  a positive quantity ``x`` becomes ``[x / f, x * f]`` and a probability ``p`` the interval whose odds are
  those of ``p`` divided and multiplied by ``f``, with ``f = 1 + width``; a growth ``g`` becomes
  ``[g - growth_width, g + growth_width]``. With ``shift_seed``, each interval's centre is moved by a random
  factor up to ``f ** 0.5`` either way (the truth stays inside), as a planner's guesses are not centred on
  the truth. Quantities set by policy stay constants: contract terms, upgrade and downgrade sizes, price
  uplift, ``acv_cv``, seasonality, onboarding and adoption ages, loop lags; so do rates that are exactly 0 or 1;
* the initial book from the cohorts active at the cut, with their MRR: per segment, its customers and ARR
  spread over the ages the segment's cohorts have (``book="segment"``, as a billing summary gives it), or
  one entry per cohort with its exact customers, MRR and age (``book="cohort"``);
* ``funnel.open_at_start``: the members in each stage and segment at the end of the cut month.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.company.truth import month_label

if TYPE_CHECKING:  # pragma: no cover
    from benchmarks.company.run import CompanyRun

__all__ = ["plan_scenario", "true_scenario"]

#: Fields whose value is a probability, a positive quantity or a real number, when widened.
_PROBABILITY, _POSITIVE, _REAL = "probability", "positive", "real"


class _Widen:
    def __init__(self, width: float, growth_width: float, shift_seed: int | None) -> None:
        if width <= 0:
            raise ValueError(f"width must be positive, got {width!r}")
        self.factor = 1.0 + width
        self.growth_width = growth_width
        self.rng = None if shift_seed is None else np.random.default_rng(shift_seed)

    def _shift(self) -> float:
        return 0.0 if self.rng is None else float(self.rng.uniform(-0.5, 0.5))

    def __call__(self, value: float, kind: str) -> float | list[float]:
        x = float(value)
        if kind == _REAL:
            centre = x + self._shift() * self.growth_width
            return [round(centre - self.growth_width, 6), round(centre + self.growth_width, 6)]
        if kind == _POSITIVE:
            if x <= 0:
                return x
            centre = x * self.factor ** self._shift()
            return [_round(centre / self.factor), _round(centre * self.factor)]
        if x <= 0 or x >= 1:
            return x
        odds = x / (1 - x) * self.factor ** self._shift()
        low, high = odds / self.factor, odds * self.factor
        return [round(low / (1 + low), 6), round(high / (1 + high), 6)]


def _round(x: float) -> float:
    """Six significant digits: readable, and far finer than any interval's width."""
    return float(f"{x:.6g}")


def plan_scenario(
    run: CompanyRun,
    cut: str,
    *,
    horizon_months: int = 24,
    width: float = 0.5,
    growth_width: float = 0.01,
    shift_seed: int | None = None,
    book: str = "segment",
    retention: str = "truth",
    name: str | None = None,
) -> dict[str, Any]:
    """A revsim scenario dict for the months after ``cut``, as a planner would write it.

    Parameters
    ----------
    run
        The simulated company (simulated at least until ``cut``).
    cut
        The last month of history, ``YYYY-MM``; the plan starts the month after.
    horizon_months
        The plan's horizon.
    width, growth_width, shift_seed
        How wide the guessed intervals are and whether their centres are off the truth (module docstring).
    book
        ``"segment"``: one initial-book entry per segment, spread over its cohorts' ages; ``"cohort"``: one
        entry per active cohort.
    retention
        ``"truth"``: each segment's retention model as in the truth; ``"constant"``: constant churn for
        every segment (an sBG segment gets the churn of its first renewal, ``alpha / (alpha + beta)``).
    name
        The plan's name (default: the truth's, with the plan's first month).
    """
    if book not in ("segment", "cohort"):
        raise ValueError(f"book must be 'segment' or 'cohort', got {book!r}")
    if retention not in ("truth", "constant"):
        raise ValueError(f"retention must be 'truth' or 'constant', got {retention!r}")
    t_cut = run.month(cut)
    company, truth = run.company, run.truth
    widen = _Widen(width, growth_width, shift_seed)
    start = company.start + t_cut + 1
    plan: dict[str, Any] = {
        "name": name or f"{str(truth.get('name', 'company')).split(' (')[0]} (plan from {month_label(start)})",
        "start": month_label(start),
        "horizon_months": int(horizon_months),
        "currency": truth.get("currency", "USD"),
        "segments": [{"name": seg, "share": _round(w)} for seg, w in zip(company.segments, _shares(truth, company))],
    }
    channels = []
    for raw, channel in zip(truth.get("channels") or [], company.channels, strict=True):
        item = copy.deepcopy(raw)
        level = channel.volume * (1.0 + channel.growth) ** (t_cut + 1)  # expected entries in the plan's month 0
        item["volume"] = widen(level, _POSITIVE)
        item["growth"] = widen(channel.growth, _REAL)
        if channel.dispersion > 0:
            item["dispersion"] = widen(channel.dispersion, _POSITIVE)
        channels.append(item)
    if channels:
        plan["channels"] = channels
    stages = []
    for raw in truth["funnel"]["stages"]:
        item = copy.deepcopy(raw)
        if "conversion" in item:
            item["conversion"] = widen(item["conversion"], _PROBABILITY)
            item["months"] = widen(item["months"], _POSITIVE)
            for override in item.get("by_segment", {}).values():
                if "conversion" in override:
                    override["conversion"] = widen(override["conversion"], _PROBABILITY)
                if "months" in override:
                    override["months"] = widen(override["months"], _POSITIVE)
        stages.append(item)
    plan["funnel"] = {"stages": stages, "open_at_start": {
        stage: {seg: int(run.open_in_stage[t_cut, k, s]) for s, seg in enumerate(company.segments)}
        for k, stage in enumerate(company.stages[:-1])}}
    plan.update(_segment_blocks(company, widen, retention))
    loops = []
    for raw in truth.get("loops") or []:
        item = copy.deepcopy(raw)
        item["coefficient"] = widen(item["coefficient"], _POSITIVE)
        loops.append(item)
    if loops:
        plan["loops"] = loops
    plan["initial_book"] = _initial_book(run, t_cut, book)
    return plan


def _shares(truth: dict[str, Any], company: Any) -> list[float]:
    raw = truth.get("segments") or [{"name": "all"}]
    return [float(item.get("share", 1.0)) if isinstance(item, dict) else 1.0 for item in raw]


def _segment_blocks(company: Any, widen: _Widen, retention: str) -> dict[str, Any]:
    pricing, onboarding, ret, expansion, advocacy = {}, {}, {}, {}, {}
    for s, seg in enumerate(company.segments):
        pricing[seg] = {"acv": widen(company.acv[s], _POSITIVE), "acv_cv": float(company.acv_cv[s])}
        onboarding[seg] = {"success": widen(company.onboarding_success[s], _PROBABILITY),
                           "months": int(company.onboarding_months[s])}
        term = int(company.contract_months[s])
        if company.sbg[s] and retention == "truth":
            ret[seg] = {"model": "sbg", "alpha": widen(company.alpha[s], _POSITIVE),
                        "beta": widen(company.beta[s], _POSITIVE), "contract_months": term}
        else:
            churn = company.churn[s] if not company.sbg[s] else company.alpha[s] / (company.alpha[s] + company.beta[s])
            ret[seg] = {"model": "constant", "churn": widen(churn, _PROBABILITY), "contract_months": term}
        expansion[seg] = {"rate": widen(company.upgrade_rate[s], _PROBABILITY),
                          "size": float(company.upgrade_size[s]),
                          "contraction_rate": widen(company.downgrade_rate[s], _PROBABILITY),
                          "contraction_size": float(company.downgrade_size[s]),
                          "price_uplift": float(company.price_uplift[s])}
        advocacy[seg] = {"rate": widen(company.advocacy_rate[s], _PROBABILITY),
                         "adoption_months": int(company.adoption_months[s])}
    return {"pricing": pricing, "onboarding": onboarding, "retention": ret, "expansion": expansion,
            "advocacy": advocacy}


#: revsim's limit on ``initial_book[].spread_months``.
_MAX_SPREAD = 120


def _initial_book(run: CompanyRun, t_cut: int, book: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for s, seg in enumerate(run.segments):
        customers = run.cohort_customers[t_cut, : t_cut + 1, s]  # by acquisition month
        mrr = run.cohort_mrr[t_cut, : t_cut + 1, s]
        ages = t_cut + 1 - np.arange(t_cut + 1)  # ages at the plan's start (>= 1)
        held = np.flatnonzero(customers > 0)
        if book == "cohort":
            for b in held[::-1]:  # youngest first
                entries.append({"segment": seg, "customers": int(customers[b]), "mrr": round(float(mrr[b]), 2),
                                "age_months": int(ages[b])})
            continue
        if len(held) == 0:
            continue
        youngest, oldest = int(ages[held].min()), int(ages[held].max())
        for low in range(youngest, oldest + 1, _MAX_SPREAD):
            high = min(low + _MAX_SPREAD - 1, oldest)
            pick = (ages >= low) & (ages <= high)
            if customers[pick].sum() == 0:
                continue
            entries.append({"segment": seg, "customers": int(customers[pick].sum()),
                            "arr": round(12.0 * float(mrr[pick].sum()), 2), "age_months": low,
                            "spread_months": high - low + 1})
    return entries


def true_scenario(run: CompanyRun, cut: str, *, horizon_months: int = 12) -> dict[str, Any]:
    """The company itself from the month after ``cut``: every input the truth's constant, each channel's volume
    its expected entries in the first month, the true state at the cut (every active cohort with its
    customers, MRR and age, the members open in each stage). Forecast with revsim's engine, it is the best
    forecast a calibration could give (the oracle of ``benchmarks/forecast_accuracy.py --oracle``)."""
    t_cut = run.month(cut)
    truth = copy.deepcopy(run.truth)
    plan = plan_scenario(run, cut, horizon_months=horizon_months, book="cohort")
    truth["start"], truth["horizon_months"] = plan["start"], int(horizon_months)
    for item, channel in zip(truth.get("channels") or [], run.company.channels, strict=True):
        item["volume"] = float(channel.volume * (1.0 + channel.growth) ** (t_cut + 1))
    truth["initial_book"] = plan["initial_book"]
    truth["funnel"]["open_at_start"] = plan["funnel"]["open_at_start"]
    return truth
