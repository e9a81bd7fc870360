"""Parameter recovery of the acquisition, movement, pricing and loop models, fitted jointly on synthetic history."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from revsim.calibrate.context import context_without_scenario
from revsim.calibrate.fit import FitOptions, fit
from revsim.calibrate.history import History, MrrHistory
from revsim.calibrate.synthetic import funnel_counts, mrr_movements, referrals

pytest.importorskip("pymc")
pytest.importorskip("nutpie")

TRUTH = {
    "conversion": [0.3, 0.45, 0.25],
    "months_in_stage": [0.5, 1.0, 2.0],
    "growth": 0.01,
    "dispersion": 0.02,
    "expansion_rate": 0.004,
    "contraction_rate": 0.0025,
    "mrr_churn_rate": 0.02,
    "acv": 12_000.0,
    "acv_cv": 0.4,
    "loop_coefficient": 0.05,
}
SEASON = np.exp(0.15 * np.sin(2 * np.pi * np.arange(12) / 12))  # geometric mean 1, like the model's


@pytest.fixture(scope="module")
def result() -> Any:
    rng = np.random.default_rng(2024)
    funnel = funnel_counts(volume=3000, growth=TRUTH["growth"], dispersion=TRUTH["dispersion"],
                           conversion=TRUTH["conversion"], months_in_stage=TRUTH["months_in_stage"], months=36,
                           rng=rng, seasonality=SEASON, stages=["lead", "mql", "opp", "won"])
    mrr = mrr_movements(expansion_rate=TRUTH["expansion_rate"], contraction_rate=TRUTH["contraction_rate"],
                        churn_rate=TRUTH["mrr_churn_rate"], noise=0.0005, months=36, start_mrr=500_000,
                        new_per_month=30_000, rng=rng)
    won = funnel.counts[:, 3, 0, 0]
    cv2 = TRUTH["acv_cv"] ** 2
    new = np.where(won > 0, rng.gamma(np.maximum(won, 1) / cv2, TRUTH["acv"] / 12 * cv2), 0.0)
    mrr = MrrHistory(**{**mrr.__dict__, "new": new[:, None]})
    source = np.linspace(200, 420, 36).round()
    loops = referrals(coefficient=TRUTH["loop_coefficient"], source=source, rng=rng)
    history = History(funnel=funnel, mrr=mrr, referrals=loops)
    return fit(history, context_without_scenario(history), FitOptions(draws=400, tune=400, chains=2, seed=3))


def samples(result: Any, name: str) -> np.ndarray:
    values = result.posterior[name].values
    return values.reshape(values.shape[0] * values.shape[1], -1)


def test_true_values_are_inside_the_90_percent_intervals(result: Any) -> None:
    misses = []
    checked = 0
    for name, truth in TRUTH.items():
        values = samples(result, name)
        for i, value in enumerate(np.atleast_1d(truth)):
            low, high = np.quantile(values[:, i], [0.05, 0.95])
            checked += 1
            if not low <= value <= high:
                misses.append(f"{name}[{i}]: {value} not in [{low:.4g}, {high:.4g}]")
    # 14 quantities: with honest 90% intervals, more than 3 misses has probability under 5%
    assert len(misses) <= 3, misses
    assert checked == 14


def test_posterior_means_are_close_where_the_data_are_strong(result: Any) -> None:
    mean = {name: samples(result, name).mean(axis=0) for name in TRUTH}
    np.testing.assert_allclose(mean["conversion"], TRUTH["conversion"], rtol=0.05)
    np.testing.assert_allclose(mean["acv"], TRUTH["acv"], rtol=0.03)
    np.testing.assert_allclose(mean["loop_coefficient"], TRUTH["loop_coefficient"], rtol=0.05)
    np.testing.assert_allclose(mean["mrr_churn_rate"], TRUTH["mrr_churn_rate"], rtol=0.05)
    np.testing.assert_allclose(mean["growth"], TRUTH["growth"], atol=0.004)


def test_the_sampler_converged(result: Any) -> None:
    from revsim.calibrate.diagnostics import diagnostic_warnings, diagnostics_table

    table = diagnostics_table(result)
    assert set(table.block) == {"funnel", "volume", "movements", "pricing", "loops"}
    assert result.divergences == 0
    assert table.r_hat.max() < 1.02, table.sort_values("r_hat").tail()
    assert {"r_hat", "ess_bulk", "ess_tail", "divergences"} <= set(table.columns)
    warnings = diagnostic_warnings(table.assign(r_hat=1.05), divergences=3)
    assert any("r_hat above 1.01" in w for w in warnings) and any("3 divergent" in w for w in warnings)


def test_predictive_checks_cover_the_history(result: Any) -> None:
    from revsim.calibrate.checks import predictive_checks

    checks = {c.block: c for c in predictive_checks(result, draws=200)}
    assert set(checks) == {"funnel", "volume", "movements", "pricing", "loops"}
    for check in checks.values():
        assert 0.75 <= check.coverage(0.9) <= 1.0, (check.block, check.coverage(0.9))
