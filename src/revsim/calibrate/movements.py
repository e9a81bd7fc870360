"""MRR movements: expansion, contraction and churn rates, contract values, and growth-loop coefficients.

**Rates.** For each segment and month, a movement divided by the MRR at the end of the month before is a
monthly rate (expansion MRR / MRR, ...). Each rate is normal around the segment's mean rate, with a spread
that grows as the book shrinks (a book half the size is :math:`\\sqrt 2` times noisier):

.. math::

    \\frac{x_t}{M_{t-1}} \\sim \\text{Normal}\\Big(\\rho,\\ \\sigma \\sqrt{\\bar M / M_{t-1}}\\Big).

**Contract values.** revsim draws the total starting MRR of :math:`n` new customers as
:math:`\\text{Gamma}(n/v^2,\\ \\text{scale } \\bar m v^2)` (``acv`` = :math:`12\\bar m`, ``acv_cv`` =
:math:`v`); the new MRR of each month, with that month's new customers from the funnel history, is fitted
with exactly that likelihood.

**Growth loops.** A loop's entries are :math:`\\text{Poisson}(\\kappa\\, X_{t-\\lambda})`, with :math:`X` the
loop's source ``lag`` :math:`\\lambda` months earlier: a Poisson regression through the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from revsim.calibrate.priors import PriorOverride, prior_for, to_pymc

__all__ = ["RateData", "RateBlock", "PricingData", "PricingBlock", "LoopData", "LoopBlock", "MOVEMENTS"]

#: The movements fitted as rates, with their prior names.
MOVEMENTS = {"expansion": "expansion_rate", "contraction": "contraction_rate", "churn": "mrr_churn_rate"}


@dataclass(frozen=True)
class RateData:
    """Monthly movement rates ``rates[movement, month, segment]`` and their relative noise scale."""

    segments: list[str] | None
    months: list[str]
    rates: np.ndarray
    scale: np.ndarray  # [month, segment]: sqrt(mean MRR / MRR of the month before)
    used: np.ndarray  # [month, segment]: months with a positive MRR before
    level_before: np.ndarray  # [month, segment]: the MRR at the end of the month before

    @property
    def segment_names(self) -> list[str]:
        return self.segments or ["all"]


def rate_data(level_before: np.ndarray, movements: dict[str, np.ndarray], *, segments: list[str] | None,
              months: list[str]) -> RateData:
    """Rates from the MRR at the end of the month before (``level_before[month, segment]``)."""
    used = level_before > 0
    safe = np.where(used, level_before, 1.0)
    rates = np.stack([np.where(used, movements[m] / safe, 0.0) for m in MOVEMENTS])
    mean_level = np.array([level_before[used[:, s], s].mean() if used[:, s].any() else 1.0
                           for s in range(level_before.shape[1])])
    scale = np.where(used, np.sqrt(mean_level[None, :] / safe), 1.0)
    return RateData(segments=segments, months=months, rates=rates, scale=scale, used=used,
                    level_before=np.where(used, level_before, 0.0))


@dataclass
class RateBlock:
    """Mean monthly expansion, contraction and churn rates of MRR, per segment."""

    data: RateData
    priors: dict[str, PriorOverride] | None = None
    name: str = "movements"

    def coords(self) -> dict[str, list[str]]:
        coords = {"movement": list(MOVEMENTS)}
        if self.data.segments is not None:
            coords["segment"] = list(self.data.segments)
        return coords

    def build(self) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        d = self.data
        dims = "segment" if d.segments is not None else None
        noise = pt.as_tensor(to_pymc("movement_noise", prior_for("movement_noise", self.priors), dims="movement"))
        total = 0.0
        for i, (movement, prior_name) in enumerate(MOVEMENTS.items()):
            rate = pt.as_tensor(to_pymc(prior_name, prior_for(prior_name, self.priors), dims=dims))
            y = d.rates[i][d.used]
            seg = np.nonzero(d.used)[1]
            mu = rate[seg] if dims else rate
            sigma = noise[i] * d.scale[d.used]
            total = total + pt.sum(pm.logp(pm.Normal.dist(mu=mu, sigma=sigma), y))
        pm.Potential("movements_loglik", total)

    def variables(self) -> list[str]:
        return [*MOVEMENTS.values(), "movement_noise"]

    def rename(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class PricingData:
    """New customers and their starting MRR per month and segment (months with new customers only)."""

    segments: list[str] | None
    customers: np.ndarray  # [observation]
    new_mrr: np.ndarray
    segment: np.ndarray

    @property
    def segment_names(self) -> list[str]:
        return self.segments or ["all"]


@dataclass
class PricingBlock:
    """Mean annual contract value and its coefficient of variation, per segment."""

    data: PricingData
    priors: dict[str, PriorOverride] | None = None
    name: str = "pricing"

    def coords(self) -> dict[str, list[str]]:
        return {"segment": list(self.data.segments)} if self.data.segments is not None else {}

    def build(self) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        d = self.data
        dims = "segment" if d.segments is not None else None
        centre = 12.0 * d.new_mrr.sum() / max(d.customers.sum(), 1.0)
        acv = pt.as_tensor(to_pymc("acv", prior_for("acv", self.priors, centre=centre), dims=dims))
        cv = pt.as_tensor(to_pymc("acv_cv", prior_for("acv_cv", self.priors), dims=dims))
        if dims:
            acv, cv = acv[d.segment], cv[d.segment]
        cv2 = pt.maximum(cv, 1e-3) ** 2
        shape = d.customers / cv2
        rate = 1.0 / (acv / 12.0 * cv2)
        pm.Potential("pricing_loglik", pt.sum(pm.logp(pm.Gamma.dist(alpha=shape, beta=rate), d.new_mrr)))

    def variables(self) -> list[str]:
        return ["acv", "acv_cv"]

    def rename(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class LoopData:
    """A loop's entries and its source ``lag`` months earlier (months where both are known)."""

    referred: np.ndarray
    source: np.ndarray
    months: list[str]
    lag: int
    loop: str | None


@dataclass
class LoopBlock:
    """A growth loop's coefficient: Poisson regression of its entries on the lagged source."""

    data: LoopData
    priors: dict[str, PriorOverride] | None = None
    name: str = "loops"

    def coords(self) -> dict[str, list[str]]:
        return {}

    def build(self) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        d = self.data
        centre = d.referred.sum() / max(d.source.sum(), 1e-9)
        coefficient = pt.as_tensor(to_pymc("loop_coefficient",
                                           prior_for("loop_coefficient", self.priors, centre=max(centre, 1e-9))))
        mu = pt.maximum(coefficient * d.source, 1e-12)
        pm.Potential("loops_loglik", pt.sum(pm.logp(pm.Poisson.dist(mu=mu), d.referred)))

    def variables(self) -> list[str]:
        return ["loop_coefficient"]

    def rename(self) -> dict[str, str]:
        return {}
