"""The special functions the samplers call from compiled code: scipy's, reached by symbol, and Loader's masses."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from exact_sums import needs_long_double, poisson_log_masses, poisson_survival_by_sum
from scipy import special, stats

from revsim.engine.special import betainc, binomial_pmf, gamma_density, gamma_p, gamma_q, ndtri, poisson_pmf


def test_scipys_functions_are_called_as_they_are() -> None:
    rng = np.random.default_rng(5)
    for _ in range(300):
        a, b = rng.lognormal(2, 2, size=2)
        x = rng.uniform()
        assert betainc(a, b, x) == special.betainc(a, b, x)
        assert gamma_p(a, x * 2 * a) == special.gammainc(a, x * 2 * a)  # below 1e5 scipy's series is summed
        assert gamma_q(a, x * 2 * a) == special.gammaincc(a, x * 2 * a)
        assert ndtri(x) == special.ndtri(x)


@needs_long_double
@pytest.mark.parametrize("a", [3e5, 1e7, 1e9])
def test_incomplete_gamma_is_exact_where_scipys_series_stops_early(a: float) -> None:
    """scipy sums P(a, x) for x more than 4.5 sd below a large a by a series it cuts at 2,000 terms."""
    for z in (-4.6, -6.0, -9.0):
        x = a + z * math.sqrt(a)
        exact = poisson_survival_by_sum(int(a) - 1, x)  # P(a, x) = P(Poisson(x) >= a) for whole a
        assert gamma_p(a, x) == pytest.approx(exact, rel=1e-12)
        assert 1.0 - gamma_q(a, x) == pytest.approx(exact, rel=1e-8)
    assert special.gammainc(1e6, 1e6 - 4.6e3) != pytest.approx(gamma_p(1e6, 1e6 - 4.6e3), rel=1e-8)  # scipy's cut


@pytest.mark.parametrize(("n", "p"), [(5, 0.3), (30, 0.5), (1000, 0.01), (4095, 0.3), (10**5, 0.3), (10**7, 0.4),
                                      (10**9, 1e-3), (4 * 10**9, 0.5), (10**12, 1e-6)])
def test_binomial_masses_are_exact_for_any_number_of_trials(n: int, p: float) -> None:
    """Boost's mass (scipy.stats.binom.pmf) to 1e-12; the textbook lgamma formula is off by 1e-6 at n = 1e9."""
    sd = math.sqrt(n * p * (1 - p))
    for z in (-3.0, -0.5, 0.0, 0.7, 2.0):
        k = int(min(max(round(n * p + z * sd), 0), n))
        assert binomial_pmf(k, n, p) == pytest.approx(stats.binom.pmf(k, n, p), rel=2e-12)
    assert binomial_pmf(0, 50, 0.1) == pytest.approx(0.9**50, rel=1e-14)
    assert binomial_pmf(50, 50, 0.9) == pytest.approx(0.9**50, rel=1e-14)


@needs_long_double
@pytest.mark.parametrize("lam", [150.0, 1e4, 1e6, 1e8, 1e10])
def test_poisson_masses_are_exact_for_any_mean(lam: float) -> None:
    for z in (-3.0, 0.0, 2.0):
        k = int(round(lam + z * math.sqrt(lam)))
        exact = float(np.exp(poisson_log_masses(np.array([k]), lam))[0])
        assert poisson_pmf(k, lam) == pytest.approx(exact, rel=1e-13)
    assert poisson_pmf(0, 3.5) == math.exp(-3.5)


@pytest.mark.parametrize("shape", [16.5, 100.0, 2.5e3, 1e5])
def test_gamma_densities(shape: float) -> None:
    for z in (-3.0, 0.0, 2.0):
        x = shape + z * math.sqrt(shape)
        assert gamma_density(shape, x) == pytest.approx(stats.gamma.pdf(x, shape), rel=1e-11)


def test_compiled_calls_to_scipy_are_cached_on_disk(tmp_path) -> None:
    """numba caches functions that call scipy by symbol: a second process loads them and gets the same numbers."""
    script = ("from revsim.engine.sampling import poisson_quantile as q; v = q(5e4, 0.3); "
              "print(v, sum(q.stats.cache_hits.values()))")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    (first, first_hits), (second, second_hits) = (run.stdout.split() for run in runs)
    assert first == second == str(int(stats.poisson.ppf(0.3, 5e4)))
    assert int(first_hits) == 0 and int(second_hits) == 1
