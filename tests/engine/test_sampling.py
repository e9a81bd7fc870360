"""The inversion samplers against scipy's exact quantiles, and the monotone coupling they give."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from revsim.engine.sampling import (
    binomial_quantile,
    gamma_quantile,
    poisson_quantile,
    regularized_beta,
    regularized_gamma_p,
)

# (the walks accumulate probabilities in double precision: tails beyond 1e-7 are not resolved exactly)
uniforms = st.floats(min_value=1e-7, max_value=1 - 1e-7)
counts = st.sampled_from([0, 1, 2, 7, 30, 99, 100, 101, 250, 1_000, 12_345, 10**6, 3 * 10**6])
probabilities = st.one_of(st.sampled_from([0.0, 1e-6, 0.01, 0.3, 0.5, 0.5000001, 0.8, 0.999, 1.0]),
                          st.floats(min_value=0.0, max_value=1.0))
means = st.one_of(st.sampled_from([0.0, 1e-3, 0.5, 29.9, 99.99, 100.0, 100.01, 5e3, 2e5, 9.9e5]),
                  st.floats(min_value=0.0, max_value=1e6))


@settings(max_examples=400, deadline=None)
@given(n=counts, p=probabilities, u=uniforms)
def test_binomial_quantile_is_scipys(n: int, p: float, u: float) -> None:
    ours, exact = binomial_quantile(n, p, u), int(stats.binom.ppf(u, n, p))
    # equal, unless u sits on a jump of the distribution function (e.g. F(49) = 0.5 for n = 99, p = 0.5)
    assert ours == exact or abs(stats.binom.cdf(min(ours, exact), n, p) - u) < 1e-12


@settings(max_examples=400, deadline=None)
@given(lam=means, u=uniforms)
def test_poisson_quantile_is_scipys(lam: float, u: float) -> None:
    ours, exact = poisson_quantile(lam, u), int(stats.poisson.ppf(u, lam))
    # equal, unless u is within the rounding of the distribution function (1e-10) of one of its jumps
    assert ours == exact or abs(stats.poisson.cdf(min(ours, exact), lam) - u) < 1e-10


@settings(max_examples=300, deadline=None)
@given(shape=st.floats(min_value=0.01, max_value=1e7), u=st.floats(min_value=1e-9, max_value=1 - 1e-9))
def test_gamma_quantile_matches_scipy(shape: float, u: float) -> None:
    """The quantile's probability is u (to the rounding of P(shape, x), which grows with the shape)."""
    from scipy import special

    x = gamma_quantile(shape, u)
    if stats.gamma.ppf(u, shape) < 1e-300:  # the quantile is below what a double can hold
        assert x < 1e-290
    else:
        assert special.gammainc(shape, x) == pytest.approx(u, abs=1e-14 * max(shape, 1e3))


@settings(max_examples=300, deadline=None)
@given(n=counts, p=probabilities, u=uniforms, extra=st.integers(0, 1000), dp=st.floats(0, 0.2))
def test_binomial_quantile_is_monotone_in_n_and_p(n: int, p: float, u: float, extra: int, dp: float) -> None:
    """The basis of the monotone coupling: more trials or a higher rate never give fewer successes."""
    k = binomial_quantile(n, p, u)
    assert binomial_quantile(n + extra, p, u) >= k
    assert binomial_quantile(n, min(1.0, p + dp), u) >= k


def test_special_functions_match_scipy() -> None:
    from scipy import special

    rng = np.random.default_rng(5)
    for _ in range(500):
        a, b = rng.lognormal(2, 2, size=2)
        x = rng.uniform()
        assert regularized_beta(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-10, abs=1e-250)
        assert regularized_gamma_p(a, x * 3 * a) == pytest.approx(special.gammainc(a, x * 3 * a), rel=1e-10,
                                                                 abs=1e-250)


@pytest.mark.parametrize("mean", [2e6, 3e7, 5e8, 8e9])
def test_huge_poisson_quantiles_are_within_a_hair_of_the_exact_ones(mean: float) -> None:
    """Beyond a variance of 1e6 the Cornish-Fisher expansion is used: within 1e-3 standard deviations."""
    for u in (1e-6, 0.01, 0.3, 0.5, 0.9, 0.999999):
        assert abs(poisson_quantile(mean, u) - stats.poisson.ppf(u, mean)) <= max(1, 1e-3 * np.sqrt(mean))


def test_inverted_uniforms_have_the_right_distribution() -> None:
    """A sample of binomial quantiles of uniforms has the binomial's mean and variance (MC error)."""
    u = np.random.default_rng(0).random(20_000)
    n, p = 400, 0.07
    draws = np.array([binomial_quantile(n, p, x) for x in u])
    mean, var = n * p, n * p * (1 - p)
    assert abs(draws.mean() - mean) < 4.5 * np.sqrt(var / draws.size)
    assert abs(draws.var() - var) < 4.5 * var * np.sqrt(2 / draws.size)


@pytest.mark.parametrize(("n", "p"), [(10**7, 0.3), (10**9, 0.01), (4 * 10**9, 0.5)])
def test_huge_binomial_quantiles_are_within_a_hair_of_the_exact_ones(n: int, p: float) -> None:
    sd = np.sqrt(n * p * (1 - p))
    for u in (1e-6, 0.01, 0.3, 0.5, 0.9, 0.999999):
        assert abs(binomial_quantile(n, p, u) - stats.binom.ppf(u, n, p)) <= max(1, 1e-3 * sd)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=200, max_value=40_000), p=st.floats(min_value=0.002, max_value=0.998), u=uniforms)
def test_binomial_quantile_with_a_summed_tail_is_scipys(n: int, p: float, u: float) -> None:
    """Means of 100 and more with a standard deviation below 60: the distribution function at the starting point
    is the sum of the mass function over a tail (the funnel's usual binomials)."""
    ours, exact = binomial_quantile(n, p, u), int(stats.binom.ppf(u, n, p))
    assert ours == exact or abs(stats.binom.cdf(min(ours, exact), n, p) - u) < 1e-12


@pytest.mark.parametrize(("n", "p"), [(300, 0.4), (1282, 2 / 3), (856, 0.248), (4095, 0.03), (2000, 0.5), (16_000, 0.1), (14_000, 0.5)])
def test_summed_tails_hold_in_the_far_tails(n: int, p: float) -> None:
    for u in (1e-12, 1e-9, 1e-4, 0.5, 1 - 1e-4, 1 - 1e-9):
        assert binomial_quantile(n, p, u) == int(stats.binom.ppf(u, n, p))


def test_small_binomials_from_a_table_of_zero_terms_are_exactly_the_general_ones() -> None:
    """The cohort kernel looks (1 - p) ** n up in a table made by binomial_zero_terms: same numbers, same draws."""
    from revsim.engine.sampling import binomial_zero_terms, small_binomial_quantile

    u = np.random.default_rng(3).random(400)
    for p in (1e-4, 0.0175, 0.2, 0.5):
        table = binomial_zero_terms(p, 256)
        for n in (1, 7, 40, 199):
            if n * p >= 100:
                continue
            tabled = [small_binomial_quantile(n, p / (1 - p), table[n], n * p, x) for x in u]
            assert tabled == [binomial_quantile(n, p, x) for x in u]


@pytest.mark.parametrize("shape", [1.0, 4.0, 47.5, 2.5e3])
def test_gamma_quantiles_are_exact_across_the_unit_interval(shape: float) -> None:
    """The Halley iteration stops only once P(shape, x) = u to its rounding (shapes 1 and 4 used to wander)."""
    from scipy import special

    for u in np.linspace(1e-6, 1 - 1e-6, 41):
        assert special.gammainc(shape, gamma_quantile(shape, u)) == pytest.approx(u, abs=1e-13 * max(shape, 10))
