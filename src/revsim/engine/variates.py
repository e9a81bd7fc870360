"""How many random numbers a run may draw, and how much work it is, from the scenario's structure alone.

The kernel (:mod:`revsim.engine.kernels`) takes one uniform for every random event, from a Philox block
addressed by the event (month, channel, stage, segment, cohort: :mod:`revsim.engine.rng`), and skips the
events that cannot happen (a cohort without customers, a stage without members, a split once no lead is
left, a loop whose mean is 0, a segment without wins or adopted customers). The uniforms of the events a
draw may take are known before it runs; it takes at most these:

========== ================================================================================================
process    uniforms per draw
========== ================================================================================================
arrivals   every month and channel: the gamma noise (even without dispersion), the Poisson count and
           one binomial per segment but the last for the split across segments
conversion every month, stage but the last, and segment: the leavers and the converters
pricing    every month and segment: the new cohort's MRR
onboarding every month and cohort whose age is the onboarding age
retention  every month and cohort at a renewal (age >= 1 and a multiple of the contract term)
expansion  every month and cohort of age >= 1: upgrades and downgrades
advocacy   every segment before the first month, then every month and segment
loops      every month, loop and segment
========== ================================================================================================

Cohorts count whether or not they still have customers: the count is the work of a draw whose every
event happens, an upper bound of the uniforms it takes (``tests/engine/test_variates.py`` checks the kernel
against it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from revsim.engine import layout as L
from revsim.engine.compile import CompiledScenario

__all__ = ["VariateCount", "count_uniforms", "cohort_months"]


@dataclass(frozen=True)
class VariateCount:
    """Uniforms consumed per process by one draw, and in a run of ``draws`` draws."""

    per_draw: dict[str, int]
    draws: int

    @property
    def draw_total(self) -> int:
        """Uniforms one draw consumes, every process together."""
        return sum(self.per_draw.values())

    @property
    def total(self) -> int:
        """Uniforms the whole run consumes."""
        return self.draw_total * self.draws


def _cohort_ages(compiled: CompiledScenario) -> tuple[np.ndarray, np.ndarray]:
    """Every cohort's segment and age in every month: ``segment[c]`` and ``age[t, c]`` (-1 before it exists)."""
    T, S = compiled.n_months, len(compiled.segments)
    birth = np.concatenate([-compiled.book_age, np.repeat(np.arange(T), S)]).astype(np.int64)
    segment = np.concatenate([compiled.book_segment, np.tile(np.arange(S), T)]).astype(np.int64)
    age = np.arange(T)[:, None] - birth[None, :]
    return segment, np.where(age >= 0, age, -1)


def cohort_months(compiled: CompiledScenario) -> int:
    """The (cohort, month) pairs one draw goes through: every month, the initial book and the cohorts formed so
    far (one per segment and month, empty or not)."""
    T, S = compiled.n_months, len(compiled.segments)
    return int(T * len(compiled.book_segment) + S * T * (T + 1) // 2)


def count_uniforms(compiled: CompiledScenario, draws: int = 1) -> VariateCount:
    """The uniforms of the random events a run of ``draws`` draws of ``compiled`` may take, per process (the
    kernel skips those of events that cannot happen: this is an upper bound).

    Every uniform turns into one variate (a binomial, Poisson or gamma quantile), so this is also the number of
    variates the run may draw.

    Examples
    --------
    >>> compiled = compile_scenario(load_scenario("scenarios/saas_sales_led.yaml"))  # doctest: +SKIP
    >>> count = count_uniforms(compiled, draws=1000)                                 # doctest: +SKIP
    >>> count.total, count.per_draw["expansion"]                                     # doctest: +SKIP
    """
    T, S = compiled.n_months, len(compiled.segments)
    K, C, n_loops = len(compiled.stages), len(compiled.channels), len(compiled.loops)
    segment, age = _cohort_ages(compiled)
    term = compiled.seg_int[segment, L.TERM][None, :]
    onboarding_age = np.maximum(compiled.seg_int[segment, L.ONB_MONTHS], 1)[None, :]
    aged = age >= 1
    per_draw = {
        "arrivals": T * C * (2 + (S - 1)),
        "conversion": T * (K - 1) * S * 2,
        "pricing": T * S,
        "onboarding": int((age == onboarding_age).sum()),
        "retention": int((aged & (age % term == 0)).sum()),
        "expansion": int(2 * aged.sum()),
        "advocacy": S + T * S,
        "loops": T * n_loops * S,
    }
    return VariateCount(per_draw={name: per_draw[name] for name in L.PROCESSES}, draws=int(draws))
