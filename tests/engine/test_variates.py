"""``count_uniforms`` against the uniforms the kernel really takes.

The kernel runs as plain Python (numba's ``py_func``, the same code) with its event function replaced by one
that records every event it is asked for and answers with numpy's ``np.random.Philox``
(:func:`revsim.engine.rng.event_uniforms`). The draw must be the compiled kernel's, bit for bit (so numba's
Philox is numpy's inside the kernel too); no two events of a draw may share a Philox block; and no process
may take more blocks than its events in the structural count (events that cannot happen take none).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from numba.core.registry import CPUDispatcher
from small_scenarios import SMALL_SCENARIOS

import revsim.engine.kernels as kernels
from revsim.engine import layout as L
from revsim.engine.compile import compile_scenario
from revsim.engine.rng import event_uniforms, kernel_key
from revsim.engine.run import run_draws
from revsim.engine.variates import cohort_months, count_uniforms
from revsim.scenario.load import scenario_from_dict

SEED = 99
OUTPUTS = ("stage_entries", "stage_open", "stage_converted", "stage_lost", "counts", "money", "loop_entries",
           "flags")


def counted_run(monkeypatch, compiled, start, stop):
    """Run draws in pure Python with a recording event function; return the results and every event asked for,
    as ``(draw, process, month, a, b)``."""
    key = kernel_key(SEED)
    events: list[tuple[int, int, int, int, int]] = []

    def recording_uniforms(draw_key, process, month, a, b):
        event = (int(draw_key.draw), int(process), int(month), int(a), int(b))
        events.append(event)
        return tuple(event_uniforms(key, *event))

    for name in dir(kernels):  # every jitted function the kernel calls runs as Python
        if isinstance(getattr(kernels, name), CPUDispatcher):
            monkeypatch.setattr(kernels, name, getattr(kernels, name).py_func)
    monkeypatch.setattr(kernels, "event_uniforms", recording_uniforms)
    raw = run_draws(compiled, SEED, start, stop, threads=1)
    monkeypatch.undo()
    return raw, events


@pytest.mark.parametrize("name", sorted(SMALL_SCENARIOS))
def test_the_kernel_takes_each_event_once_and_no_more_than_the_structural_count(monkeypatch, name):
    compiled = compile_scenario(scenario_from_dict(SMALL_SCENARIOS[name]))
    raw, events = counted_run(monkeypatch, compiled, 3, 5)
    assert events and len(set(events)) == len(events)  # no block serves two events
    assert {event[0] for event in events} == {3, 4}
    blocks = Counter(event[1] for event in events)
    count = count_uniforms(compiled, draws=2).per_draw
    T, C = compiled.n_months, len(compiled.channels)
    assert blocks[L.P_ARRIVALS] <= 2 * (count["arrivals"] - T * C)  # one block per channel-month and split
    assert blocks[L.P_ARRIVALS] >= 2 * T * C  # every channel-month draws its count
    assert blocks[L.P_CONVERSION] <= 2 * count["conversion"] // 2  # leavers and converters share a block
    assert blocks[L.P_PRICING] <= 2 * count["pricing"]
    assert blocks[L.P_CUSTOMERS] + blocks[L.P_BOOK_CUSTOMERS] <= 2 * count["expansion"] // 2  # one per cohort-month
    assert blocks[L.P_ADVOCACY] <= 2 * count["advocacy"]
    assert blocks[L.P_LOOPS] <= 2 * count["loops"]
    # the recording changed nothing: the compiled kernel gives the same draws
    fast = run_draws(compiled, SEED, 3, 5, threads=1)
    for output in OUTPUTS:
        np.testing.assert_array_equal(getattr(raw, output), getattr(fast, output), err_msg=output)


def test_count_of_the_example(example_scenario):
    compiled = compile_scenario(example_scenario)
    count = count_uniforms(compiled, draws=10)
    T, S = compiled.n_months, len(compiled.segments)
    assert count.per_draw["pricing"] == T * S
    assert count.per_draw["conversion"] == 2 * T * S * (len(compiled.stages) - 1)
    assert count.total == 10 * count.draw_total
    # two expansion uniforms for every cohort-month but those of age 0 (the month a cohort is formed)
    book_at_zero = int((compiled.book_age == 0).sum())
    assert count.per_draw["expansion"] == 2 * (cohort_months(compiled) - T * S - book_at_zero)
