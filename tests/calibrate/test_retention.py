"""The retention models: likelihood, parameter recovery, agreement with maximum likelihood, projections, LOO.

The MCMC fits run in a fresh process (``calibration_workers.retention_fits``, started by the session's
``fits`` fixture): one PyMC model, sBG and constant churn side by side, compiled once and sampled again on each
synthetic table (nutpie swaps the data without compiling again).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from calibration_workers import RECOVERY_SEEDS, TRUE_ALPHA, TRUE_BETA
from scipy import optimize, special

from revsim.calibrate.retention import (
    cohort_loglik,
    event_grid,
    log_survival_grid,
    retention_data,
    sbg_survival,
    sufficient_loglik,
    sufficient_statistics,
)
from revsim.calibrate.synthetic import sbg_cohorts


def test_event_grid_for_annual_contracts_seen_monthly_with_onboarding() -> None:
    events, renewals, onboarded = event_grid(30, 1, 12, 2)
    assert events == [2, 12, 24]
    assert renewals == [0, 0, 1, 2]
    assert onboarded == [0, 1, 1, 1]
    assert event_grid(3, 12, 1, None)[1] == [0, 12, 24, 36]  # yearly periods of monthly contracts


def test_likelihood_is_fader_hardie_on_a_small_table() -> None:
    rng = np.random.default_rng(0)
    data = retention_data(sbg_cohorts(TRUE_ALPHA, TRUE_BETA, cohorts=5, size=200, rng=rng))
    a, b = 0.7, 5.0
    expected = 0.0
    for c in range(5):
        counts = [200 - data.deaths[c, :i].sum() for i in range(data.last_event[c] + 1)]
        for t in range(1, len(counts)):
            p_t = special.beta(a + 1, b + t - 1) / special.beta(a, b)  # P(T = t)
            expected += (counts[t - 1] - counts[t]) * np.log(p_t)
        expected += counts[-1] * np.log(special.beta(a, b + len(counts) - 1) / special.beta(a, b))
    grid = log_survival_grid(data, alpha=np.array([a]), beta=np.array([b]))
    assert cohort_loglik(grid, data).sum() == pytest.approx(expected, rel=1e-10)
    deaths, survivors = sufficient_statistics(data)
    assert sufficient_loglik(grid, deaths, survivors) == pytest.approx(expected, rel=1e-10)


# ------------------------------------------------------------------------------------------------ MCMC fits


@pytest.fixture(scope="module")
def fits(fits: dict[str, Any]) -> dict[str, Any]:  # noqa: F811 - the session's background fits
    return fits["retention"].result()


def inside(samples: np.ndarray, truth: float, level: float = 0.9) -> bool:
    low, high = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return bool(low <= truth <= high)


def test_true_values_fall_in_the_90_percent_interval_at_the_expected_rate_mcmc(fits: dict[str, Any]) -> None:
    """A handful of full MCMC fits, each on its own synthetic table (the Laplace check below covers many)."""
    assert len(fits["recovery"]) == len(RECOVERY_SEEDS)
    hits = {"alpha": sum(inside(f["alpha"], TRUE_ALPHA) for f in fits["recovery"]),
            "beta": sum(inside(f["beta"], TRUE_BETA) for f in fits["recovery"])}
    # 90% intervals: 8 fits cover the truth 7.2 times on average; 6 or more happens with probability 0.96
    assert hits["alpha"] >= 6 and hits["beta"] >= 6, hits
    assert sum(f["divergences"] for f in fits["recovery"]) == 0


@pytest.mark.slow
def test_true_values_fall_in_the_90_percent_interval_at_the_expected_rate_across_200_seeds() -> None:
    """The posterior's Laplace approximation (mode and curvature, with the default priors) on 200 tables."""
    m_true, k_true = TRUE_ALPHA / (TRUE_ALPHA + TRUE_BETA), TRUE_ALPHA + TRUE_BETA
    z = 1.6448536269514722
    covered = np.zeros(2)
    n = 200
    for seed in range(n):
        data = retention_data(sbg_cohorts(TRUE_ALPHA, TRUE_BETA, cohorts=24, size=300,
                                          rng=np.random.default_rng(10_000 + seed)))
        deaths, survivors = sufficient_statistics(data)

        def negative_log_posterior(x: np.ndarray) -> float:
            m, k = special.expit(x[0]), np.exp(x[1])
            grid = log_survival_grid(data, alpha=np.array([m * k]), beta=np.array([(1 - m) * k]))
            prior = (np.log(3) + 2 * np.log1p(-m) + np.log(m) + np.log1p(-m)  # Beta(1, 3) on m, in logit m
                     - 0.5 * ((x[1] - np.log(10.0)) / 1.5) ** 2)  # LogNormal(log 10, 1.5) on k, in log k
            return -float(sufficient_loglik(grid, deaths, survivors) + prior)

        best = optimize.minimize(negative_log_posterior, np.array([-2.0, 2.0]), method="Nelder-Mead",
                                 options={"xatol": 1e-8, "fatol": 1e-9})
        h = 1e-4
        hessian = np.zeros((2, 2))
        for i in range(2):
            for j in range(2):
                e_i, e_j = np.eye(2)[i] * h, np.eye(2)[j] * h
                hessian[i, j] = (negative_log_posterior(best.x + e_i + e_j) - negative_log_posterior(best.x + e_i - e_j)
                                 - negative_log_posterior(best.x - e_i + e_j)
                                 + negative_log_posterior(best.x - e_i - e_j)) / (4 * h * h)
        sd = np.sqrt(np.diag(np.linalg.inv(hessian)))
        truth = np.array([special.logit(m_true), np.log(k_true)])
        covered += np.abs(truth - best.x) <= z * sd
    rate = covered / n
    # binomial(200, 0.9): 3 standard deviations are +/- 0.064
    assert np.all((rate > 0.836) & (rate < 0.964)), rate


def test_posterior_agrees_with_maximum_likelihood_on_thousands_of_customers(fits: dict[str, Any]) -> None:
    large = fits["large"]
    alpha, beta = large["alpha"], large["beta"]
    assert np.mean(alpha) == pytest.approx(TRUE_ALPHA, rel=0.05)
    assert np.mean(beta) == pytest.approx(TRUE_BETA, rel=0.05)
    periods = np.arange(0, 37)
    projected = np.mean([sbg_survival(a, b, periods) for a, b in zip(alpha[::4], beta[::4], strict=True)], axis=0)
    mle = sbg_survival(large["alpha_mle"], large["beta_mle"], periods)
    assert np.max(np.abs(projected - mle)) < 0.003, np.max(np.abs(projected - mle))
    assert np.median(alpha) == pytest.approx(large["alpha_mle"], rel=0.02)
    assert np.median(beta) == pytest.approx(large["beta_mle"], rel=0.02)


def test_projected_survival_matches_held_out_periods(fits: dict[str, Any]) -> None:
    """Fitted on the first 12 periods of each cohort, projected to periods 13 to 23, against what happened."""
    held = fits["held_out"]
    periods, observed = held["periods"], held["observed"]
    sbg = np.mean([sbg_survival(a, b, periods) for a, b in zip(held["alpha"][::4], held["beta"][::4], strict=True)],
                  axis=0)
    constant = np.mean([(1 - c) ** periods for c in held["churn"][::4]], axis=0)
    assert np.max(np.abs(sbg - observed)) < 0.02, (sbg, observed)
    # the constant-churn model, fitted on the same periods, misses the flattening of the curve
    assert np.max(np.abs(constant - observed)) > 2 * np.max(np.abs(sbg - observed))


def test_loo_chooses_the_model_the_data_came_from(fits: dict[str, Any]) -> None:
    for expected, outcome in fits["loo"].items():
        assert outcome["best"] == expected, outcome["describe"]
