"""``count_uniforms`` against the uniforms the kernel really takes.

The kernel runs as plain Python (numba's ``py_func``, the same code) with every process generator wrapped in
a proxy that counts its calls; the structural count must match it process by process, and the proxies must
not change what the draw computes.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba.core.registry import CPUDispatcher
from small_scenarios import SMALL_SCENARIOS

import revsim.engine.kernels as kernels
import revsim.engine.run as run_module
from revsim.engine import layout as L
from revsim.engine.compile import compile_scenario
from revsim.engine.rng import process_generators
from revsim.engine.run import run_draws
from revsim.engine.variates import cohort_months, count_uniforms
from revsim.scenario.load import scenario_from_dict

SEED = 99
OUTPUTS = ("stage_entries", "stage_open", "stage_converted", "stage_lost", "counts", "money", "loop_entries",
           "flags")


class CountingGenerator:
    """Stands in for a ``np.random.Generator``: the same uniforms, and how many were taken."""

    def __init__(self, generator: np.random.Generator) -> None:
        self.generator = generator
        self.count = 0

    def random(self) -> float:
        self.count += 1
        return self.generator.random()


def counted_run(monkeypatch, compiled, start, stop):
    """Run draws in pure Python with counting generators; return the results and the uniforms per process."""
    taken = np.zeros(len(L.PROCESSES), np.int64)
    proxies: list[CountingGenerator] = []

    def generators(seed, start, stop):
        blocks = []
        for draw in range(start, stop):
            made = [CountingGenerator(g) for g in process_generators(seed, draw)]
            proxies.extend(made)
            blocks.append(tuple(made))
        return blocks

    for name in dir(kernels):  # every jitted function the kernel calls runs as Python, so proxies pass through
        if isinstance(getattr(kernels, name), CPUDispatcher):
            monkeypatch.setattr(kernels, name, getattr(kernels, name).py_func)
    monkeypatch.setattr(run_module, "block_generators", generators)
    raw = run_draws(compiled, SEED, start, stop, threads=1)
    monkeypatch.undo()
    for i, proxy in enumerate(proxies):
        taken[i % len(L.PROCESSES)] += proxy.count
    return raw, dict(zip(L.PROCESSES, taken.tolist(), strict=True))


@pytest.mark.parametrize("name", sorted(SMALL_SCENARIOS))
def test_structural_count_equals_the_uniforms_taken(monkeypatch, name):
    compiled = compile_scenario(scenario_from_dict(SMALL_SCENARIOS[name]))
    raw, taken = counted_run(monkeypatch, compiled, 3, 5)
    count = count_uniforms(compiled, draws=2)
    assert {p: n * 2 for p, n in count.per_draw.items()} == taken
    assert count.total == sum(taken.values())
    # the proxies changed nothing: the compiled kernel gives the same draws
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
