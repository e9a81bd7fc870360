"""Uncertain numeric inputs: constants and distributions, parsed from scenario files.

Every numeric input of a scenario can be written as

* a number, ``0.3``, or an amount shorthand, ``"12M"``, ``"250k"``, ``"$1.5B"``, ``"12_000"``: a constant;
* a list ``[low, high]``: a 90% interval (``low`` is the 5% quantile, ``high`` the 95% quantile), fitted by a
  beta distribution for probabilities, a lognormal for positive or non-negative quantities and a normal
  otherwise;
* a mapping with a ``dist:`` key naming a family (``beta``, ``normal``, ``lognormal``, ``gamma``,
  ``triangular``, ``pert``, ``uniform``, ``interval``, ``empirical``, ``posterior``) and its parameters.

:func:`parse_uncertain` turns such a value into a :class:`Distribution`, checking that the parameters are
possible and that the distribution's support fits the input's :data:`Domain`. Distributions are sampled by
inverse CDF (:meth:`Distribution.ppf`) so that the engine controls the uniforms (and can correlate them).

One module per family of forms: :mod:`~revsim.scenario.distributions.base` (the :class:`Distribution`
interface, constants, amounts), :mod:`~revsim.scenario.distributions.parametric` (the ``dist:`` families),
:mod:`~revsim.scenario.distributions.intervals` (``[low, high]`` fitted),
:mod:`~revsim.scenario.distributions.samples` (``empirical`` and ``posterior`` files) and
:mod:`~revsim.scenario.distributions.parsing` (a file's value to a distribution, domain checks).

>>> parse_uncertain([0.2, 0.4], "probability").describe()
'beta(mean=0.2958, sd=0.06083)'
>>> parse_uncertain("1.5M", "positive").describe()
'1500000'
"""

from __future__ import annotations

from revsim.scenario.distributions.base import (
    DEFAULT_CONFIDENCE,
    DOMAINS,
    Constant,
    Distribution,
    Domain,
    parse_amount,
)
from revsim.scenario.distributions.parametric import Beta, Gamma, LogNormal, Normal, Pert, Triangular, Uniform
from revsim.scenario.distributions.parsing import _FAMILIES, DISTRIBUTION_NAMES, parse_uncertain
from revsim.scenario.distributions.samples import EMPIRICAL_MAX_BYTES, POSTERIOR_MAX_BYTES, Empirical, Posterior

__all__ = [
    "Domain",
    "DOMAINS",
    "DISTRIBUTION_NAMES",
    "DEFAULT_CONFIDENCE",
    "EMPIRICAL_MAX_BYTES",
    "POSTERIOR_MAX_BYTES",
    "Distribution",
    "Constant",
    "Beta",
    "Normal",
    "LogNormal",
    "Gamma",
    "Triangular",
    "Pert",
    "Uniform",
    "Empirical",
    "Posterior",
    "parse_uncertain",
    "parse_amount",
    "_FAMILIES",
]
