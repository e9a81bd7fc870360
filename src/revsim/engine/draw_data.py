"""The named structures a draw's kernel reads and writes (:mod:`revsim.engine.kernels`).

Plain named tuples of arrays and numbers: numba passes them to compiled functions like their fields, with the
fields' types, and the kernels' cache works with them. Column layouts are in :mod:`revsim.engine.layout`.

* :class:`Structure` and :class:`Book`: the scenario's structure and its initial book, the same in every draw
  (:attr:`~revsim.engine.compile.CompiledScenario.structure`, ``.book``);
* :class:`DrawInputs`: one draw's sampled parameters (:meth:`~revsim.engine.compile.DrawParameters.draw`);
* :class:`RandomKey`: the key of one draw's random numbers (each step of the kernel takes it, and draws the
  uniforms of its events from it: :mod:`revsim.engine.rng`);
* :class:`DrawOutputs`: the slices of the run's output arrays this draw writes
  (:meth:`~revsim.engine.run.RawResults.draw`);
* :class:`FunnelState`, :class:`Cohorts`, :class:`LoopSources`, :class:`CohortTables`: what a draw keeps from
  month to month, made by the kernel itself.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Structure", "Book", "DrawInputs", "RandomKey", "DrawOutputs", "FunnelState", "Cohorts", "LoopSources",
           "CohortTables"]


class Structure(NamedTuple):
    """The scenario's structure: segments, funnel, channels and loops, the same in every draw."""

    start_calendar_month: int  # calendar month of the first simulated month, 0 = January (indexes DrawInputs.ch_season)
    seg_int: np.ndarray  # [segment, N_SEG_INT]: contract term, onboarding and adoption months, retention model
    ch_stage: np.ndarray  # [channel]: the stage a channel's entries join
    ch_mix: np.ndarray  # [channel, segment]: shares of a channel's entries
    loop_int: np.ndarray  # [loop, N_LOOP_INT]: source, target stage, lag, target and source segments
    capacity_stage: int  # the stage whose wins wait for sales capacity, -1 without a capacity


class Book(NamedTuple):
    """The initial book: one row per existing cohort."""

    segment: np.ndarray
    customers: np.ndarray
    mrr: np.ndarray  # cents
    age: np.ndarray  # months


class DrawInputs(NamedTuple):
    """One draw's parameters."""

    seg_par: np.ndarray  # [segment, N_SEG_PAR]
    conversion: np.ndarray  # [segment, stage]: probability that a leaver converts
    hazard: np.ndarray  # [segment, stage]: probability that a member leaves in a month
    ch_par: np.ndarray  # [channel, N_CH_PAR]: volume, growth, dispersion
    ch_season: np.ndarray  # [channel, 12]: seasonal multipliers by calendar month, January to December
    loop_coef: np.ndarray  # [loop]
    capacity: np.ndarray  # [month]: deals that can close
    initial_stock: np.ndarray  # [segment, stage]: members already open in each stage at the start


class RandomKey(NamedTuple):
    """What one draw's uniforms are keyed by: the run's Philox key (from the seed) and the draw's index."""

    k0: np.uint64
    k1: np.uint64
    draw: np.uint64


class DrawOutputs(NamedTuple):
    """Where one draw writes its monthly flows and stocks (zeroed by the caller)."""

    stage_entries: np.ndarray  # [month, segment, stage]
    stage_open: np.ndarray  # [month, segment, stage]: still open at month end (waiting won deals included)
    stage_converted: np.ndarray  # [month, segment, stage]
    stage_lost: np.ndarray  # [month, segment, stage]
    counts: np.ndarray  # [month, segment, N_COUNTS]
    money: np.ndarray  # [month, segment, N_MONEY], cents of MRR
    loop_entries: np.ndarray  # [month, loop]
    flags: np.ndarray  # [n_loops + n_channels + 1]: first month (+1) of a runaway loop or channel, or of overflow
    cohort_customers: np.ndarray  # [acquisition month, segment, age], or size 0 without per-cohort detail
    cohort_mrr: np.ndarray  # [acquisition month, segment, age], cents


class FunnelState(NamedTuple):
    """The acquisition side of a draw, carried from month to month."""

    stock: np.ndarray  # [segment, stage]: members in each stage
    entries: np.ndarray  # [segment, stage]: this month's entries from channels and loops
    wins: np.ndarray  # [segment]: members converting out of the current stage
    allowed: np.ndarray  # [segment]: won deals the sales capacity lets close
    waiting: np.ndarray  # [segment]: won deals waiting for sales capacity
    carried: np.ndarray  # [segment]: members moving on to the next stage this month


class Cohorts(NamedTuple):
    """Every cohort of a draw: the initial book first, then one per (acquisition month, segment)."""

    customers: np.ndarray
    mrr: np.ndarray  # cents
    loss: np.ndarray  # cumulative churned and contraction MRR, cents (for GRR)
    birth: np.ndarray  # acquisition month (negative for the book)
    segment: np.ndarray


class LoopSources(NamedTuple):
    """What the growth loops feed on, month by month."""

    history: np.ndarray  # [month + 1, segment, 4]: advocates, active and new customers, MRR (index 0: the start)
    adopted: np.ndarray  # [segment]: customers old enough to be advocates this month


class CohortTables(NamedTuple):
    """Per segment, the churn, upgrade and downgrade probabilities of a customer and what speeds their binomials."""

    probability: np.ndarray  # [segment, 3]
    odds: np.ndarray  # [segment, 3]: p / (1 - p)
    tabled: np.ndarray  # [segment, 3]: whether zero_terms holds (1 - p) ** n
    zero_terms: np.ndarray  # [segment, 3, n]
