"""A normal truncated far in its tail: quantiles from logarithms, not the bound (the mass underflows to 0)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from revsim.scenario.distributions import Normal

U = np.array([0.0, 0.001, 0.01, 0.25, 0.5, 0.75, 0.99, 0.999, 1.0])


@pytest.mark.parametrize(("low", "high"), [(40.0, 41.0), (-41.0, -40.0), (10.0, np.inf), (-np.inf, -10.0),
                                           (38.5, np.inf), (-1.0, 2.0), (0.5, 3.0), (-3.0, -0.5), (-np.inf, 0.3)])
def test_quantiles_and_mean_match_scipy_however_far_in_the_tail(low: float, high: float) -> None:
    mu, sigma = 1000.0, 50.0
    dist = Normal(mu=mu, sigma=sigma, low=mu + sigma * low, high=mu + sigma * high)
    reference = stats.truncnorm(low, high, loc=mu, scale=sigma)
    np.testing.assert_allclose(dist.ppf(U), reference.ppf(U), rtol=1e-12)
    assert dist.mean() == pytest.approx(float(reference.mean()), rel=1e-12)


def test_a_tail_draw_is_not_the_bound() -> None:
    """Before: every quantile of normal(0, 1) truncated to [40, 41] was 41, the upper bound."""
    draws = Normal(mu=0.0, sigma=1.0, low=40.0, high=41.0).ppf(np.linspace(0.01, 0.99, 99))
    assert 40.0 < draws.min() and draws.max() < 40.2
    assert np.all(np.diff(draws) > 0)
