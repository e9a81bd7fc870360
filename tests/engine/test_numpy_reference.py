"""The benchmark's numpy implementation of the model gives the same distribution as revsim.

``benchmarks/numpy_reference.py`` draws with numpy's own binomial, Poisson and gamma samplers, so it cannot
match revsim draw for draw; both use the same sampled parameters, and their process noise must have the same
distribution. Draw i of both runs shares its parameters, so the pairs are independent across draws and the
mean of the paired differences must be within Z of its standard error, sd(x - y) / sqrt(n): far tighter than
comparing two independent samples, since parameter uncertainty cancels (a 3% change of a conversion rate is
more than 10 standard errors away). Variances are compared by the log of their ratio, whose standard error is
sqrt((k1 - 1) / n1 + (k2 - 1) / n2) with k the samples' kurtosis (the chi-square bound, widened for tails
heavier than normal; conservative, since the samples are positively correlated).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from small_scenarios import SMALL_SCENARIOS

from benchmarks.numpy_reference import VariateRecorder, floor_seconds_per_variate, simulate_numpy
from revsim.engine import layout as L
from revsim.engine.compile import compile_scenario
from revsim.engine.run import run_draws
from revsim.engine.variates import count_uniforms
from revsim.scenario.load import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
Z = 4.5
DRAWS = 1500
SEED = 8086

SCENARIOS = {
    "saas_sales_led": lambda: load_scenario(ROOT / "scenarios" / "saas_sales_led.yaml"),
    "enterprise_expansion": lambda: load_scenario(ROOT / "scenarios" / "enterprise_expansion.yaml"),
    "loop_heavy": lambda: load_scenario(ROOT / "benchmarks" / "scenarios" / "loop_heavy.yaml"),
    "small_loops": lambda: scenario_from_dict(SMALL_SCENARIOS["loops"]),
    "small_capacity": lambda: scenario_from_dict(SMALL_SCENARIOS["capacity"]),
}
METRICS = {
    "arr": lambda raw: raw.money[..., L.MRR].sum(axis=2) * 12 / 100.0,
    "active_customers": lambda raw: raw.counts[..., L.ACTIVE_CUSTOMERS].sum(axis=2),
    "new_customers": lambda raw: raw.counts[..., L.NEW_CUSTOMERS].sum(axis=2),
}


def kurtosis(x: np.ndarray) -> float:
    centred = x - x.mean()
    return float(np.mean(centred**4) / np.mean(centred**2) ** 2)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_distribution_as_revsim(name):
    compiled = compile_scenario(SCENARIOS[name]())
    revsim = run_draws(compiled, SEED, 0, DRAWS, threads=2)
    numpy = simulate_numpy(compiled, revsim.params, SEED, batch=600)
    T = compiled.n_months
    failures = []
    for metric, values in METRICS.items():
        a, b = values(revsim).astype(float), values(numpy).astype(float)
        for t in sorted({0, T // 3, 2 * T // 3, T - 1}):
            x, y = a[:, t], b[:, t]
            se = (x - y).std(ddof=1) / math.sqrt(len(x))
            if se == 0:
                if x.mean() != y.mean():
                    failures.append(f"{metric} month {t}: means {x.mean()} and {y.mean()} with no spread in the "
                                "differences")
                continue
            if abs(x.mean() - y.mean()) > Z * se:
                failures.append(f"{metric} month {t}: means {x.mean():.6g} (revsim) and {y.mean():.6g} (numpy), "
                                f"{abs(x.mean() - y.mean()) / se:.1f} standard errors apart")
            if x.var() > 0 and y.var() > 0:
                se_log = math.sqrt((kurtosis(x) - 1) / len(x) + (kurtosis(y) - 1) / len(y))
                gap = abs(math.log(x.var() / y.var()))
                if gap > Z * se_log:
                    failures.append(f"{metric} month {t}: variances {x.var():.6g} (revsim) and {y.var():.6g} "
                                    f"(numpy), log ratio {gap / se_log:.1f} standard errors from 0")
    assert not failures, "\n".join(failures)


def test_recorder_counts_every_variate_the_model_draws():
    compiled = compile_scenario(scenario_from_dict(SMALL_SCENARIOS["loops"]))
    params = compiled.draw_parameters(SEED, 0, 20)
    recorder = VariateRecorder(limit=10**6)
    simulate_numpy(compiled, params, SEED, recorder=recorder)
    drawn = sum(recorder.counts.values())
    assert drawn == sum(recorder.kept_count(kind) for kind in recorder.counts)  # all kept under the limit
    # numpy draws a gamma for channel noise only when there is dispersion; revsim takes that uniform anyway
    expected = count_uniforms(compiled, draws=20)
    noise_without_dispersion = 20 * compiled.n_months * int((params.ch_par[0, :, L.DISPERSION] == 0).sum())
    assert drawn == expected.total - noise_without_dispersion
    seconds = floor_seconds_per_variate(recorder, repeats=1)
    assert set(seconds) == {"binomial", "poisson", "gamma"} and all(s > 0 for s in seconds.values())
