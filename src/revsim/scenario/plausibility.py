"""Values that are almost surely a unit mistake, refused at validation unless the file confirms them.

A fraction written as a whole-number percentage is the classic slip: ``growth: 2`` meant 2% a month, but
revsim reads +200% a month and the forecast reaches billions. These rules find such values, each with its
likely intent; the scenario's ``confirmed:`` list names the inputs whose unusual value is meant.

=====================================  ==================================================================
input                                  refused when its median is above
=====================================  ==================================================================
``channels.<name>.growth``             1: more than +100% a month
``expansion[.<segment>].size``         1: an upgrade that more than doubles a customer's MRR
``expansion[.<segment>].price_uplift`` 1: a price more than doubled at a renewal
=====================================  ==================================================================

Probabilities written as whole-number percentages (``churn: 15``) are refused where they are parsed (they
can never be meant, so they cannot be confirmed); see :mod:`revsim.scenario.schema`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.errors import did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.distributions import Distribution

__all__ = ["Rule", "RULES", "plausibility_problems", "checked_inputs"]


@dataclass(frozen=True)
class Rule:
    """A field whose median above ``limit`` is almost surely a unit mistake, and how to say what it means."""

    field: str
    limit: float
    meaning: str  # "{change}" is replaced by the value as a percentage change, e.g. "+200%"


RULES = {
    "growth": Rule("growth", 1.0, "{change} a month"),
    "size": Rule("size", 1.0, "each upgrade adds {change} to a customer's MRR"),
    "price_uplift": Rule("price_uplift", 1.0, "{change} on the price at each renewal"),
}


def checked_inputs(scenario: Any, all_segments: str) -> Iterator[tuple[tuple[str | int, ...], str, Rule,
                                                                      Distribution]]:
    """Every input a rule applies to: (location in the file, input path, rule, distribution).

    The location names list items by position (``channels[0].growth``, for the error's line); the input path
    names them by name (``channels.inbound.growth``, as ``confirmed:`` and ``--set`` write it).
    ``all_segments`` is the key under which a per-segment block written without segments is stored.
    """
    for index, channel in enumerate(scenario.channels):
        yield ("channels", index, "growth"), f"channels.{channel.name}.growth", RULES["growth"], channel.growth
    for key, settings in scenario.expansion.items():
        where: tuple[str | int, ...] = ("expansion",) if key == all_segments else ("expansion", key)
        for name in ("size", "price_uplift"):
            yield (*where, name), ".".join(str(p) for p in (*where, name)), RULES[name], getattr(settings, name)


def plausibility_problems(scenario: Any, confirmed: list[str], *,
                          all_segments: str) -> list[tuple[tuple[str | int, ...], str]]:
    """(location, message) of each implausible input not in ``confirmed``, and of each confirmed path that
    names no checked input."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    paths = []
    for location, path, rule, dist in checked_inputs(scenario, all_segments):
        paths.append(path)
        median = float(np.asarray(dist.ppf(np.array([0.5])), dtype=float)[0])
        if median > rule.limit and path not in confirmed:
            problems.append((location, _message(rule, dist, median, path)))
    for index, path in enumerate(confirmed):
        if path not in paths:
            hint = did_you_mean(path, paths)
            message = (f"'{path}' is not an input that a plausibility check refuses"
                       + (f"; did you mean '{hint}'?" if hint else
                          f" (those of this scenario: {', '.join(paths)})" if paths else ""))
            problems.append((("confirmed", index), message))
    return problems


def _message(rule: Rule, dist: Distribution, median: float, path: str) -> str:
    change = f"+{median * 100:,.4g}%"
    meaning = rule.meaning.format(change=change)
    if dist.is_constant:
        written = f"{median:g}"
        intent = (f"for {written}% write {median / 100:g} or {written}%")
    else:
        written = f"a median of {median:.3g}"
        intent = "if its numbers are percentages, write them with % (2%) or as fractions (0.02)"
    return (f"{written} means {meaning}, almost surely a unit mistake: {intent}; if {change} is meant, "
            f"confirm it in the file with confirmed: [{path}]")
