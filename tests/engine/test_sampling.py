"""The inversion samplers against exact quantiles on both sides of every branch, and the monotone coupling.

Each quantile function switches method at a few thresholds (``revsim.engine.sampling``): a mean of 30 for
binomials of fewer than 4,096 trials and 100 for the others and Poisson counts (sums from zero below), a binomial
standard deviation of 60 (summed tail below, incomplete beta above), a variance of
1e6 (Cornish-Fisher start above), the 4,096 entries of the reciprocal table, and for gamma quantiles shapes of
100 and 1e10. Exactness is checked on both sides of each against scipy's distribution functions, and
monotonicity across each.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from revsim.engine.sampling import binomial_quantile, gamma_quantile, poisson_quantile
from exact_sums import needs_long_double, poisson_survival_by_sum

#: scipy's binomial distribution function (Boost's incomplete beta) is exact to about 1e-13 absolute up to
#: n = 1e7 and 1e-12 beyond (measured against 30-digit sums); the Poisson's (cephes) to 1e-16 within 4.5
#: standard deviations of the mean.
SCIPY_CDF_ERROR = 1e-12

# (the walks accumulate probabilities in double precision: tails beyond 1e-7 are not resolved exactly)
uniforms = st.floats(min_value=1e-7, max_value=1 - 1e-7)
counts = st.sampled_from([0, 1, 2, 7, 30, 99, 100, 101, 250, 333, 334, 1_000, 4095, 4096, 4097, 12_345, 14_399,
                          14_401, 10**6, 3 * 10**6, 3_999_999, 4_000_001, 10**8])
probabilities = st.one_of(st.sampled_from([0.0, 1e-6, 0.01, 0.3, 0.5, 0.5000001, 0.8, 0.999, 1.0]),
                          st.floats(min_value=0.0, max_value=1.0))
means = st.one_of(st.sampled_from([0.0, 1e-3, 0.5, 29.9, 99.99, 100.0, 100.01, 5e3, 2e5, 9.9e5, 999_999.9,
                                   1_000_000.1, 3e7]),
                  st.floats(min_value=0.0, max_value=1e8))


def is_binomial_quantile(k: int, n: int, p: float, u: float, tolerance: float = SCIPY_CDF_ERROR) -> bool:
    """Whether k is the smallest count with P(X <= k) >= u, to the accuracy of scipy's distribution function."""
    return (stats.binom.cdf(k, n, p) >= u - tolerance
            and (k == 0 or stats.binom.cdf(k - 1, n, p) < u + tolerance))


def is_poisson_quantile(k: int, lam: float, u: float, tolerance: float = SCIPY_CDF_ERROR) -> bool:
    return special.pdtr(k, lam) >= u - tolerance and (k == 0 or special.pdtr(k - 1, lam) < u + tolerance)


def grid(size: int = 60) -> np.ndarray:
    """Uniforms across (0, 1): random ones and the tails scipy resolves exactly."""
    return np.concatenate([np.random.default_rng(1).random(size), [1e-9, 1e-6, 1e-3, 0.5, 1 - 1e-3, 1 - 1e-6]])


@settings(max_examples=400, deadline=None)
@given(n=counts, p=probabilities, u=uniforms)
def test_binomial_quantile_is_exact(n: int, p: float, u: float) -> None:
    assert is_binomial_quantile(binomial_quantile(n, p, u), n, p, u)


@settings(max_examples=400, deadline=None)
@given(lam=means, u=st.floats(min_value=1e-7, max_value=1 - 1e-5))
def test_poisson_quantile_is_exact(lam: float, u: float) -> None:
    # (scipy's Poisson distribution function is not exact beyond 4.5 standard deviations above large means:
    # tested below against a sum of its terms)
    assert is_poisson_quantile(poisson_quantile(lam, u), lam, u)


#: (n, p) pairs on both sides of each branch threshold of the binomial quantile.
BINOMIAL_THRESHOLDS = {
    "mean 30": [(99, 0.3), (101, 0.3), (60, 0.5), (4095, 0.00732), (4095, 0.00733)],
    "mean 100": [(333, 0.3), (334, 0.3), (10**6, 0.99e-4), (10**6, 1.01e-4)],
    "sd 60": [(14_399, 0.5), (14_401, 0.5), (39_999, 0.1), (40_001, 0.1)],
    "reciprocal table": [(4095, 0.2), (4096, 0.2), (4097, 0.2), (4098, 0.5)],
    "variance 1e6": [(3_999_999, 0.5), (4_000_001, 0.5), (4_761_904, 0.3), (4_761_906, 0.3),
                     (10**12, 0.999999e-6), (10**12, 1.000001e-6)],
    "huge": [(10**9, 0.01), (4 * 10**9, 0.5), (3 * 10**9, 0.7), (10**9, 3e-6)],
}


@pytest.mark.parametrize("threshold", list(BINOMIAL_THRESHOLDS))
def test_binomial_quantiles_are_exact_on_both_sides_of_each_threshold(threshold: str) -> None:
    for n, p in BINOMIAL_THRESHOLDS[threshold]:
        for n_p in ((n, p), (n, 1.0 - p)):  # p > 1/2 goes through the symmetry
            for u in grid():
                k = binomial_quantile(*n_p, u)
                assert is_binomial_quantile(k, *n_p, u), (threshold, n_p, u, k, stats.binom.ppf(u, *n_p))


@pytest.mark.parametrize("lam", [99.99, 100.01, 5e3, 999_999.9, 1_000_000.1, 3e7, 8e9])
def test_poisson_quantiles_are_exact_on_both_sides_of_each_threshold(lam: float) -> None:
    for u in grid():
        if u <= 1 - 1e-5:
            assert is_poisson_quantile(poisson_quantile(lam, u), lam, u)


def test_huge_means_are_exact_where_the_cornish_fisher_expansion_alone_was_not() -> None:
    """Above a variance of 1e6 the quantile used to be the expansion rounded to the nearest count: about half of
    the draws one below the exact quantile."""
    u = np.random.default_rng(2).random(400)
    for lam in (2e6, 3e7):
        assert [poisson_quantile(lam, x) for x in u] == stats.poisson.ppf(u, lam).astype(int).tolist()
    for n, p in ((10**7, 0.3), (4 * 10**9, 0.5)):
        assert all(is_binomial_quantile(binomial_quantile(n, p, x), n, p, x) for x in u[:100])


@needs_long_double
@pytest.mark.parametrize("lam", [3e5, 3e7, 1e9])
def test_poisson_quantiles_are_exact_far_above_large_means(lam: float) -> None:
    """Beyond 4.5 standard deviations above a large mean scipy's incomplete gamma function cuts its series
    short (a relative error of 1e-5 at a mean of 1e6); revsim sums it to the end there."""
    for tail in (1e-6, 1e-9):
        k = poisson_quantile(lam, 1.0 - tail)
        above_k, above_previous = poisson_survival_by_sum(k, lam), poisson_survival_by_sum(k - 1, lam)
        assert above_k <= tail * (1 + 1e-7) and above_previous > tail * (1 - 1e-7)


@pytest.mark.parametrize(("n", "p"), [(300, 0.4), (1282, 2 / 3), (856, 0.248), (4095, 0.03), (2000, 0.5),
                                      (16_000, 0.1), (14_000, 0.5)])
def test_summed_tails_hold_in_the_far_tails(n: int, p: float) -> None:
    for u in (1e-12, 1e-9, 1e-4, 0.5, 1 - 1e-4, 1 - 1e-9):
        assert binomial_quantile(n, p, u) == int(stats.binom.ppf(u, n, p))


@pytest.mark.parametrize(("n", "p"), [(60, 0.5), (100, 0.5), (500, 0.25), (750, 1 / 3), (1200, 0.5), (5000, 0.1),
                                      (14_000, 0.5)])
def test_quantiles_next_to_the_distribution_function_are_exact(n: int, p: float) -> None:
    """A walk first sums a tail cut short (within 1e-4 of the distribution function) and sums it all when u lies
    that close to the distribution function: uniforms at and around F(k) for counts k about the mean take both
    paths."""
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    for k in range(int(mean - 3 * sd), int(mean + 3 * sd) + 1, max(1, int(sd / 3))):
        cdf = stats.binom.cdf(k, n, p)
        for offset in (-2e-3, -1.01e-4, -9.9e-5, -3e-5, -1e-9, 0.0, 1e-9, 3e-5, 9.9e-5, 1.01e-4, 2e-3):
            u = cdf + offset
            if not 0.0 < u < 1.0:
                continue
            for n_p, v in (((n, p), u), ((n, 1.0 - p), 1.0 - u)):  # and through the symmetry
                assert is_binomial_quantile(binomial_quantile(*n_p, v), *n_p, v), (n_p, v)


def test_quantiles_given_the_logarithms_of_p_are_the_same_quantiles() -> None:
    """The funnel tables log(p) and log1p(-p) once per draw (``binomial_logs``): same numbers, same draws."""
    from revsim.engine.sampling import binomial_logs, binomial_quantile_given_logs

    u = np.random.default_rng(5).random(300)
    for n in (0, 1, 40, 99, 101, 750, 4097, 14_401, 4_000_001):
        for p in (0.0, 1e-3, 0.25, 0.3, 0.5, 0.5000001, 2 / 3, 0.999, 1.0):
            logs = binomial_logs(p)
            assert [binomial_quantile_given_logs(n, p, x, *logs) for x in u] == [binomial_quantile(n, p, x) for x in u]


# -- monotone coupling across the thresholds ------------------------------------------------------------------

MONOTONE_UNIFORMS = np.random.default_rng(4).random(1500)


@pytest.mark.parametrize(("n_values", "p"), [
    (range(96, 105), 0.3),  # mean 30
    (range(330, 338), 0.3),  # mean 100
    (range(14_396, 14_404), 0.5),  # sd 60
    (range(4093, 4100), 0.2),  # reciprocal table
    (range(3_999_997, 4_000_004), 0.5),  # variance 1e6
    (range(3_999_997, 4_000_004), 0.5000001),
])
def test_binomial_quantiles_grow_with_n_across_thresholds(n_values: range, p: float) -> None:
    previous = np.zeros(MONOTONE_UNIFORMS.size, np.int64)
    for n in n_values:
        counts_now = np.array([binomial_quantile(n, p, u) for u in MONOTONE_UNIFORMS])
        assert (counts_now >= previous).all(), n
        previous = counts_now


@pytest.mark.parametrize(("n", "p_values"), [
    (1000, np.linspace(0.0295, 0.0305, 5)),  # mean 30
    (1000, np.linspace(0.0995, 0.1005, 5)),  # mean 100
    (14_400, np.linspace(0.4995, 0.5005, 7)),  # sd 60 and the symmetry at p = 1/2
    (4_000_000, np.linspace(0.4999, 0.5001, 7)),  # variance 1e6
    (10**12, np.linspace(0.9999e-6, 1.0001e-6, 5)),  # variance 1e6 with tiny p
])
def test_binomial_quantiles_grow_with_p_across_thresholds(n: int, p_values: np.ndarray) -> None:
    previous = np.zeros(MONOTONE_UNIFORMS.size, np.int64)
    for p in p_values:
        counts_now = np.array([binomial_quantile(n, float(p), u) for u in MONOTONE_UNIFORMS])
        assert (counts_now >= previous).all(), p
        previous = counts_now


@pytest.mark.parametrize("lam_values", [np.linspace(99.9, 100.1, 5), np.linspace(999_999.9, 1_000_000.1, 5),
                                        [999_999.9, 1_000_000.1]])
def test_poisson_quantiles_grow_with_the_mean_across_thresholds(lam_values) -> None:
    """Raising a mean from 999,999.9 to 1,000,000.1 used to lower the count for about 30% of uniforms."""
    previous = np.zeros(MONOTONE_UNIFORMS.size, np.int64)
    for lam in lam_values:
        counts_now = np.array([poisson_quantile(float(lam), u) for u in MONOTONE_UNIFORMS])
        assert (counts_now >= previous).all(), lam
        previous = counts_now


@settings(max_examples=300, deadline=None)
@given(n=counts, p=probabilities, u=uniforms, extra=st.integers(0, 1000), dp=st.floats(0, 0.2))
def test_binomial_quantile_is_monotone_in_n_and_p(n: int, p: float, u: float, extra: int, dp: float) -> None:
    """The basis of the monotone coupling: more trials or a higher rate never give fewer successes."""
    k = binomial_quantile(n, p, u)
    assert binomial_quantile(n + extra, p, u) >= k
    assert binomial_quantile(n, min(1.0, p + dp), u) >= k


def test_inverted_uniforms_have_the_right_distribution() -> None:
    """A sample of binomial quantiles of uniforms has the binomial's mean and variance (MC error)."""
    u = np.random.default_rng(0).random(20_000)
    n, p = 400, 0.07
    draws = np.array([binomial_quantile(n, p, x) for x in u])
    mean, var = n * p, n * p * (1 - p)
    assert abs(draws.mean() - mean) < 4.5 * np.sqrt(var / draws.size)
    assert abs(draws.var() - var) < 4.5 * var * np.sqrt(2 / draws.size)


def test_small_binomials_from_a_table_of_zero_terms_are_exactly_the_general_ones() -> None:
    """The cohort kernel looks (1 - p) ** n up in a table made by binomial_zero_terms: same numbers, same draws."""
    from revsim.engine.sampling import SMALL_MEAN, binomial_zero_terms, small_binomial_quantile

    u = np.random.default_rng(3).random(400)
    for p in (1e-4, 0.0175, 0.2, 0.5):
        table = binomial_zero_terms(p, 256)
        for n in (1, 7, 40, 199, 255):
            if n * p >= SMALL_MEAN:
                continue
            tabled = [small_binomial_quantile(n, p / (1 - p), table[n], n * p, x) for x in u]
            assert tabled == [binomial_quantile(n, p, x) for x in u]


# -- gamma quantiles ---------------------------------------------------------------------------------------------


def is_gamma_quantile(shape: float, u: float, x: float) -> bool:
    """Whether scipy's P(shape, x) (Q in the upper half, where 1 - u is exact) is u to its accuracy (cephes': at
    worst 1e-13 relative) or to the change of P between x and its neighbouring doubles."""
    tail = min(u, 1.0 - u)
    residual = (1.0 - u) - special.gammaincc(shape, x) if u > 0.5 else special.gammainc(shape, x) - u
    return abs(residual) <= 1e-13 * tail + 2 * stats.gamma.pdf(x, shape) * np.spacing(x)


@settings(max_examples=300, deadline=None)
@given(shape=st.floats(min_value=0.01, max_value=1e7), u=st.floats(min_value=1e-9, max_value=1 - 1e-9))
def test_gamma_quantile_matches_scipy(shape: float, u: float) -> None:
    """The quantile's probability is u (to the rounding of P(shape, x) below a shape of 100, of x above)."""
    x = gamma_quantile(shape, u)
    if stats.gamma.ppf(u, shape) < 1e-300:  # the quantile is below what a double can hold
        assert x < 1e-290
    elif shape < 100:
        assert special.gammainc(shape, x) == pytest.approx(u, abs=1e-14 * max(shape, 1e3))
    elif abs(stats.norm.ppf(u)) < 4.4:  # where scipy's P is exact
        assert is_gamma_quantile(shape, u, x)


@pytest.mark.parametrize("shape", [1.0, 4.0, 47.5, 99.99, 100.01, 2.5e3, 3e6, 9.9e9, 1.01e10, 1e13])
def test_gamma_quantiles_are_exact_across_the_unit_interval(shape: float) -> None:
    """Halley steps stop only once P(shape, x) = u to its rounding (shapes 1 and 4 used to wander); the
    Cornish-Fisher expansion from a shape of 1e10 is exact too."""
    for u in np.linspace(1e-6, 1 - 1e-6, 41):
        x = gamma_quantile(shape, u)
        if shape < 100:
            assert special.gammainc(shape, x) == pytest.approx(u, abs=1e-13 * max(shape, 10))
        elif shape < 1e5 or abs(stats.norm.ppf(u)) < 4.4:  # where scipy's P is exact
            assert is_gamma_quantile(shape, u, x), u


@pytest.mark.parametrize("shape", [1e3, 1e6, 1e8, 1e10, 1e12])
def test_gamma_quantiles_stay_exact_at_large_shapes(shape: float) -> None:
    """The old iteration was a quarter of a standard deviation off at a shape of 1e9, and its P wrong by 0.1
    at 1e10."""
    for u in (1e-3, 0.1, 0.5, 0.9, 1 - 1e-3):
        assert is_gamma_quantile(shape, u, gamma_quantile(shape, u))


@needs_long_double
@pytest.mark.parametrize("shape", [3e5, 1e7, 1e9])
def test_gamma_quantiles_are_exact_far_below_large_shapes(shape: float) -> None:
    """Where scipy's P cuts its series short (more than 4.5 standard deviations below the mean of a large shape),
    the quantile is checked against P summed term by term: P(a, x) = P(Poisson(x) >= a) for whole a."""
    for u in (1e-6, 1e-9):
        x = gamma_quantile(shape, u)
        # x is the quantile if the Poisson mass at and beyond `shape` with mean x is u
        assert poisson_survival_by_sum(int(shape) - 1, x) == pytest.approx(u, rel=1e-7)


def test_gamma_quantiles_grow_with_the_shape_across_thresholds() -> None:
    u = np.random.default_rng(5).random(300)
    for shapes in ((99.99, 100.0, 100.01), (9.999e9, 1e10, 1.0001e10)):
        values = np.array([[gamma_quantile(s, x) for x in u] for s in shapes])
        assert (np.diff(values, axis=0) > 0).all()


def test_degenerate_gamma_shapes() -> None:
    assert gamma_quantile(math.inf, 0.3) == math.inf
    assert gamma_quantile(5.0, 0.0) == 0.0 and gamma_quantile(5.0, 1.0) == math.inf
    assert gamma_quantile(1e300, 0.3) == pytest.approx(1e300, rel=1e-15)
