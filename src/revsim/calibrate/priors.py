"""The priors of the calibration models, and the overrides a scenario may give for them.

Every prior is written in the scenario language (``{dist: beta, mean: 0.1, sd: 0.05}``, ``[low, high]``,
a constant...) and placed on a quantity users can read: a stage's conversion, a mean churn, months in a
stage. A constant fixes the quantity instead of estimating it. A scenario overrides a default in its
``calibration`` block::

    calibration:
      priors:
        sbg_mean_churn: {dist: beta, mean: 0.08, sd: 0.04}
        months_in_stage.opportunity: [1, 4]     # one stage only
        seasonality_sd: 0.1                     # a constant: fixed, not estimated

This module is light (no PyMC): the scenario schema uses it to validate the overrides. The defaults are
weakly informative; they are listed, with their reasons, in ``docs/calibration.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from revsim.errors import InputError, did_you_mean
from revsim.scenario.distributions import (
    Beta,
    Constant,
    Distribution,
    Empirical,
    Gamma,
    LogNormal,
    Normal,
    Pert,
    Posterior,
    Triangular,
    Uniform,
    parse_uncertain,
)

__all__ = ["PriorSpec", "PRIORS", "STAGE_PRIORS", "PriorOverride", "parse_prior_override", "prior_for",
           "data_centred", "DataCentred"]


@dataclass(frozen=True)
class PriorSpec:
    """A calibration quantity: its domain, its default prior (None: centred on the data) and its meaning."""

    domain: str
    default: Distribution | None
    meaning: str


def _half_normal(sd: float) -> Normal:
    return Normal(0.0, sd, low=0.0)


#: Every quantity a prior can be given for, with its default.
PRIORS: dict[str, PriorSpec] = {
    "conversion": PriorSpec("probability", Beta(1.0, 1.0), "a stage's eventual conversion (typical segment)"),
    "months_in_stage": PriorSpec("positive", LogNormal(0.0, 1.0), "a stage's mean months in stage"),
    "conversion_concentration": PriorSpec(
        "positive", LogNormal(math.log(100.0), 2.0),
        "beta-binomial concentration of a stage's monthly conversion (large: little month-to-month variation)"),
    "segment_sd": PriorSpec("nonnegative", Constant(1.0),
                            "spread of segments around the pooled value (logit or log scale)"),
    "channel_sd": PriorSpec("nonnegative", Constant(1.0), "spread of channels around a stage's conversion (logit "
                            "scale)"),
    "volume": PriorSpec("positive", None, "a channel's expected entries per month at the first history month"),
    "growth": PriorSpec("real", Normal(0.0, 0.05, low=-0.5, high=1.0), "a channel's monthly growth"),
    "dispersion": PriorSpec("nonnegative", _half_normal(0.2), "a channel's negative-binomial dispersion"),
    "seasonality_sd": PriorSpec("nonnegative", Constant(0.2), "spread of the monthly seasonal effects (log scale)"),
    "sbg_mean_churn": PriorSpec("probability", Beta(1.0, 3.0),
                                "sBG mean churn at the first renewal, alpha / (alpha + beta)"),
    "sbg_concentration": PriorSpec("positive", LogNormal(math.log(10.0), 1.5),
                                   "sBG concentration alpha + beta (large: customers alike, churn constant)"),
    "churn": PriorSpec("probability", Beta(1.0, 3.0), "constant churn per renewal"),
    "onboarding_success": PriorSpec("probability", Beta(4.0, 1.0), "share of a new cohort surviving onboarding"),
    "expansion_rate": PriorSpec("nonnegative", _half_normal(0.05), "expansion MRR per month / MRR"),
    "contraction_rate": PriorSpec("nonnegative", _half_normal(0.05), "contraction MRR per month / MRR"),
    "mrr_churn_rate": PriorSpec("nonnegative", _half_normal(0.1), "churned MRR per month / MRR"),
    "movement_noise": PriorSpec("nonnegative", _half_normal(0.02),
                                "month-to-month spread of the movement rates around their mean"),
    "acv": PriorSpec("positive", None, "mean annual contract value of a new customer"),
    "acv_cv": PriorSpec("nonnegative", _half_normal(1.0), "coefficient of variation of contract values"),
    "loop_coefficient": PriorSpec("nonnegative", None, "a growth loop's entries per unit of source per month"),
}
#: Quantities that also take a prior for one stage: ``months_in_stage.opportunity``.
STAGE_PRIORS = ("conversion", "months_in_stage")


@dataclass(frozen=True)
class PriorOverride:
    """A prior written in a scenario: its key (``conversion`` or ``conversion.mql``) and distribution."""

    key: str
    name: str
    stage: str | None
    distribution: Distribution

    def describe(self) -> str:
        return self.distribution.describe()


def parse_prior_override(key: Any, value: Any) -> PriorOverride:
    """Check one entry of ``calibration.priors``; raise :class:`InputError` with a message otherwise."""
    text = str(key)
    name, _, stage = text.partition(".")
    if name not in PRIORS:
        hint = did_you_mean(name, list(PRIORS))
        message = f"unknown prior '{name}'; priors can be given for: {', '.join(PRIORS)}"
        raise InputError.single(message + (f"; did you mean '{hint}'?" if hint else ""))
    if stage and name not in STAGE_PRIORS:
        raise InputError.single(f"'{name}' takes no stage: only {' and '.join(STAGE_PRIORS)} can be given per stage "
                                f"('{name}.<stage>')")
    distribution = parse_uncertain(value, PRIORS[name].domain)  # type: ignore[arg-type]
    if isinstance(distribution, Empirical | Posterior):
        raise InputError.single(f"a prior cannot be '{distribution.kind}': use a distribution such as beta, normal, "
                                "lognormal or gamma, a [low, high] interval, or a constant to fix the value")
    return PriorOverride(key=text, name=name, stage=stage or None, distribution=distribution)


@dataclass(frozen=True)
class DataCentred(LogNormal):
    """A lognormal prior centred on a value read from the data.

    Its location enters the PyMC model as data (``pm.Data``), not as a constant: a model compiled for one
    history then serves another of the same structure (a backtest's origins), see
    :mod:`revsim.calibrate.model_structure`.
    """


def data_centred(value: float, sigma: float = 2.0) -> LogNormal:
    """A lognormal prior centred on a value read from the data, wide enough to be weak (x / 7 to x * 7 at 1 sd)."""
    return DataCentred(math.log(max(value, 1e-12)), sigma)


def prior_for(name: str, overrides: dict[str, PriorOverride] | None, *, stage: str | None = None,
              centre: float | None = None) -> Distribution:
    """The prior of ``name`` (for ``stage``): the scenario's override, else the default."""
    overrides = overrides or {}
    if stage is not None and f"{name}.{stage}" in overrides:
        return overrides[f"{name}.{stage}"].distribution
    if name in overrides:
        return overrides[name].distribution
    default = PRIORS[name].default
    if default is None:
        return data_centred(centre if centre is not None else 1.0)
    return default


def to_pymc(name: str, dist: Distribution, *, dims: Any = None, shape: Any = None) -> Any:
    """A PyMC random variable (or a constant) with the distribution ``dist``.

    Imported only when calibrating. Constants give a constant array: the quantity is fixed, not sampled.
    """
    import numpy as np
    import pymc as pm

    kwargs: dict[str, Any] = {}
    if dims is not None:
        kwargs["dims"] = dims
    if shape is not None:
        kwargs["shape"] = shape
    if isinstance(dist, Constant):
        value = float(dist.value)
        return value if shape is None and dims is None else np.full(_shape(shape, dims), value)
    if isinstance(dist, Beta):
        return pm.Beta(name, alpha=dist.alpha, beta=dist.beta, **kwargs)
    if isinstance(dist, Normal):
        if dist.mu == 0 and dist.low == 0 and math.isinf(dist.high):
            return pm.HalfNormal(name, sigma=dist.sigma, **kwargs)
        if dist.truncated:
            lower = None if math.isinf(dist.low) else dist.low
            upper = None if math.isinf(dist.high) else dist.high
            return pm.TruncatedNormal(name, mu=dist.mu, sigma=dist.sigma, lower=lower, upper=upper, **kwargs)
        return pm.Normal(name, mu=dist.mu, sigma=dist.sigma, **kwargs)
    if isinstance(dist, DataCentred):
        return pm.LogNormal(name, mu=pm.Data(f"{name}_prior_location", dist.mu), sigma=dist.sigma, **kwargs)
    if isinstance(dist, LogNormal):
        return pm.LogNormal(name, mu=dist.mu, sigma=dist.sigma, **kwargs)
    if isinstance(dist, Gamma):
        return pm.Gamma(name, alpha=dist.shape, beta=1.0 / dist.scale, **kwargs)
    if isinstance(dist, Uniform):
        return pm.Uniform(name, lower=dist.low, upper=dist.high, **kwargs)
    if isinstance(dist, Triangular):
        return pm.Triangular(name, lower=dist.low, c=dist.mode, upper=dist.high, **kwargs)
    if isinstance(dist, Pert):
        a, b = dist.shape_parameters
        unit = pm.Beta(f"{name}_unit", alpha=a, beta=b, **kwargs)
        return pm.Deterministic(name, dist.low + (dist.high - dist.low) * unit, **({"dims": dims} if dims else {}))
    raise InputError.single(f"prior of '{name}': {dist.describe()} cannot be used as a prior")  # pragma: no cover


def _shape(shape: Any, dims: Any) -> Any:
    if shape is not None:
        return shape
    import pymc as pm

    model = pm.modelcontext(None)
    names = (dims,) if isinstance(dims, str) else tuple(dims)
    return tuple(len(model.coords[d]) for d in names)
