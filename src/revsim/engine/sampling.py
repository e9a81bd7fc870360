"""Count and amount variates by inversion: one uniform in, the exact quantile out.

The kernels draw every random count as ``quantile(parameters, u)`` with ``u`` the uniform of its event, a
Philox block addressed by what the event is (draw, process, month, stage, segment, cohort:
:mod:`revsim.engine.rng`), never by the counts. Two scenarios that differ in one lever therefore use the
same uniform for the same event, and since quantile
functions are monotone in their parameters (a binomial's quantile grows with n and p, a Poisson's with its
mean), raising a conversion rate can only raise the counts that follow it: common random numbers with a
monotone coupling.

Quantiles are exact up to floating-point rounding: the distribution function at the answer is at least u, and
below the answer it is less than u, each computed to within about 1e-15.

* Small means (below ``SMALL_MEAN``, 30, for a binomial of fewer than 4,096 trials; below 100 for the others
  and Poisson counts): the mass function is summed from zero.
* Larger means: the walk starts next to the answer, where the distribution function is computed, and steps
  to it. Up to a variance of 1e6 the start is the normal quantile with a skewness correction; beyond, the
  Cornish-Fisher expansion, within a count of the answer. The distribution function at the start is, for a
  binomial with a standard deviation below 60, the sum of the mass function over the tail beyond the start,
  first cut short once the terms left are sure to add up to less than 1e-4 (the answer stands when u is
  farther than that from the distribution function on both sides of it, as it is for all but about one
  binomial in 10,000; otherwise the whole tail, to 1e-17 of its sum); otherwise scipy's regularized incomplete beta or gamma function
  (:mod:`revsim.engine.special`). The mass at the start comes from a table of log factorials below 4,096
  trials (to about 1e-12), and from Loader's saddle-point formula beyond, exact for any number of trials.
* Gamma quantiles: safeguarded Halley steps on the regularized incomplete gamma function, summed here for
  shapes below 100 (faster there) and scipy's above.

(numba caches a compiled kernel by its own source file: after editing this module or
:mod:`revsim.engine.special`, delete the cache, ``find src -name '*.nbi' -delete``.)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from revsim.engine.special import betainc, binomial_pmf, gamma_density, gamma_p, gamma_q, ndtri, poisson_pmf

__all__ = [
    "binomial_quantile",
    "binomial_quantile_given_logs",
    "binomial_logs",
    "binomial_zero_terms",
    "small_binomial_quantile",
    "SMALL_MEAN",
    "poisson_quantile",
    "gamma_quantile",
]

#: Below this mean a binomial's quantile is found by summing its mass function from zero; from it on, by a walk
#: from a normal starting point (whose cost grows with the standard deviation, not the mean).
SMALL_MEAN = 30.0
#: The same for binomials beyond the table of log factorials, whose mass at the start takes Loader's formula,
#: and for Poisson counts.
_LARGE_SMALL_MEAN = 100.0
#: Above this variance a walk starts from the Cornish-Fisher expansion (three terms beyond the normal), which
#: is within a count of the answer; below, from a normal quantile with a skewness correction.
_HUGE_VARIANCE = 1e6
#: The Cornish-Fisher expansion of a binomial quantile beyond that variance is within ``_CORNISH_FISHER_MARGIN``
#: of a count of the exact one (its next terms are of the order of z**4 / variance: 5e-3 of a count in the
#: tails at 1e6, and no miss above 1e-4 was measured on 24,000 uniforms from 1e-16 to 1 - 1e-9); a guess
#: farther than that from a whole number is taken as it is, the others (2% of them) are checked against the
#: incomplete beta function, which takes 20-100 us at these sizes.
_CORNISH_FISHER_MARGIN = 0.01
_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 100_000
#: ``_RECIPROCALS[k] = 1 / (k + 1)`` (read through :func:`_reciprocal`): the sums of mass functions multiply
#: by these instead of dividing (a division in the chain of products costs several times a multiplication).
_N_RECIPROCALS = 4096
_RECIPROCALS = 1.0 / np.arange(1.0, _N_RECIPROCALS + 1.0)
#: ``_LOG_FACTORIALS[k] = log(k!)`` for k < _N_RECIPROCALS.
_LOG_FACTORIALS = np.array([math.lgamma(k + 1.0) for k in range(_N_RECIPROCALS)])
#: Up to this standard deviation, the distribution function at the starting point of a binomial's walk is
#: the sum of the mass function over the tail beyond it (about 9 standard deviations of terms, each one a
#: multiplication), which is faster than the continued fraction of the incomplete beta function.
_SUMMED_TAIL_SD = 60.0
#: A tail's sum stops when its next term is below this fraction of the sum so far.
_TAIL_EPS = 1e-17
#: A binomial's quantile is first found from a tail sum cut short once the terms left add up to less than this
#: (about 5 standard deviations from the mean instead of 9): the answer stands when u is farther than
#: ``_SHORT_TAIL_MARGIN`` (the cut plus the error of the mass at the start, 1e-12 relative) from the
#: distribution function on both sides of it, which fails for about 4 uniforms in 10,000; otherwise the full
#: tail is summed.
_SHORT_TAIL = 1e-4
_SHORT_TAIL_MARGIN = _SHORT_TAIL + 1e-9
#: From this shape on, gamma quantiles use scipy's incomplete gamma function (as fast or faster, and exact
#: where the series and continued fraction of :func:`_gamma_p` lose precision: 1e-13 relative at
#: a shape of 1e4, 1e-9 at 1e6, wrong beyond 1e9); below, the series is faster.
_SCIPY_GAMMA_SHAPE = 100.0
#: From this shape on, the Cornish-Fisher expansion of the gamma quantile is exact to the rounding of a double.
_CORNISH_FISHER_SHAPE = 1e10
#: Relative rounding of scipy's P near u, and of a double: the Halley steps stop below them.
_P_ROUNDING = 4.4e-16
_X_ROUNDING = 2.2e-16


@njit(cache=True, nogil=True)
def _reciprocal(k):
    """1 / k for a whole number k >= 1, from the table when it holds it."""
    return _RECIPROCALS[k - 1] if k <= _N_RECIPROCALS else 1.0 / k


@njit(cache=True, nogil=True)
def _gamma_p(a, x, log_gamma_a):
    """P(a, x) given ``log_gamma_a = lgamma(a)``, by its series or continued fraction (for the small shapes of
    :func:`gamma_quantile`: they lose precision from a shape of about 1e4)."""
    if x <= 0.0:
        return 0.0
    log_front = a * math.log(x) - x - log_gamma_a
    if x < a + 1.0:
        # series
        term = 1.0 / a
        total = term
        ap = a
        for _ in range(_MAX_ITER):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return total * math.exp(log_front)
    # continued fraction for Q(a, x) (modified Lentz)
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return 1.0 - math.exp(log_front) * h


@njit(cache=True, nogil=True)
def small_binomial_quantile(n, ratio, zero_term, mean, u):
    """Quantile of Binomial(n, p) at u by summing its mass function from zero (for p <= 1/2 and a mean below
    ``SMALL_MEAN``), given ``ratio = p / (1 - p)``, ``zero_term = (1 - p) ** n`` and ``mean = n * p``."""
    pmf = zero_term
    cdf = pmf
    k = 0
    while cdf < u and k < n:
        pmf *= (n - k) * ratio * _reciprocal(k + 1)
        k += 1
        cdf += pmf
        if pmf == 0.0 and k > mean:
            break
    return k


@njit(cache=True, nogil=True)
def _binomial_cdf_by_tail(n, ratio, k, pmf, mean, tolerance):
    """P(Binomial(n, p) <= k) given ``pmf = P(X = k)``, by summing the mass function over the tail on the side
    of ``k`` away from the mean (``ratio = p / (1 - p)``).

    Terms are taken two at a time, the second from the first by the product of their two ratios: the chain of
    dependent multiplications is half as long (a tail is about nine standard deviations of terms). The sum
    stops when its next term is below ``_TAIL_EPS`` of the sum so far, or, with ``tolerance > 0``, as soon as
    the terms left are sure to add up to less than ``tolerance``: the ratio of a term to the one before
    falls along the tail, so once it is ``r < 1`` the rest is at most ``term * r / (1 - r)``."""
    term = pmf
    if k < mean:
        total = pmf
        inverse_ratio = 1.0 / ratio
        j = k
        while j > 1:  # P(X = j - 1) = P(X = j) * j / ((n - j + 1) * ratio)
            first = j * inverse_ratio * _reciprocal(n - j + 1)
            second = (j - 1) * inverse_ratio * _reciprocal(n - j + 2)
            next_term = term * first
            term *= first * second
            j -= 2
            total += next_term + term
            if term < total * _TAIL_EPS or term * second < tolerance * (1.0 - second):
                return total
        if j == 1:
            total += term * inverse_ratio * _reciprocal(n)
        return total
    above = 0.0
    j = k
    while j < n - 1:  # P(X = j + 1) = P(X = j) * (n - j) * ratio / (j + 1)
        first = (n - j) * ratio * _reciprocal(j + 1)
        second = (n - j - 1) * ratio * _reciprocal(j + 2)
        next_term = term * first
        term *= first * second
        j += 2
        above += next_term + term
        if term < above * _TAIL_EPS or term * second < tolerance * (1.0 - second):
            return 1.0 - above
    if j == n - 1:
        above += term * ratio * _reciprocal(n)
    return 1.0 - above


@njit(cache=True, nogil=True)
def _walk_to_quantile(n, ratio, k, pmf, cdf, u):
    """From ``k`` with ``pmf = P(X = k)`` and ``cdf = P(X <= k)``, step to the smallest count whose distribution
    function reaches u; returns it with its mass and distribution function."""
    if u <= cdf:
        while k > 0 and cdf - pmf >= u:
            cdf -= pmf
            pmf *= k / (n - k + 1.0) / ratio
            k -= 1
            if pmf == 0.0:
                break
        return k, pmf, cdf
    while cdf < u and k < n:
        pmf *= (n - k) / (k + 1.0) * ratio
        k += 1
        cdf += pmf
        if pmf == 0.0:
            break
    return k, pmf, cdf


@njit(cache=True, nogil=True)
def binomial_zero_terms(p, size):
    """``(1 - p) ** n`` for n = 0 .. size - 1, computed as :func:`binomial_quantile` does: a table that lets a
    kernel skip the exponential when it draws many binomials with the same small ``p``."""
    out = np.empty(size)
    log_q = math.log1p(-p)
    for n in range(size):
        out[n] = math.exp(n * log_q)
    return out


@njit(cache=True, nogil=True)
def _binomial_quantile_low(n, p, u, log_p, log_q):
    """Quantile of Binomial(n, p) at u for p <= 1/2, given ``log(p)`` and ``log1p(-p)`` (or NaN: computed here)."""
    q = 1.0 - p
    ratio = p / q
    mean = n * p
    if log_q != log_q:
        log_q = math.log1p(-p)
    if mean < SMALL_MEAN or (mean < _LARGE_SMALL_MEAN and n >= _N_RECIPROCALS):
        return small_binomial_quantile(n, ratio, math.exp(n * log_q), mean, u)
    if log_p != log_p:
        log_p = math.log(p)
    variance = mean * q
    sd = math.sqrt(variance)
    if variance > _HUGE_VARIANCE:
        # the Cornish-Fisher expansion (with the continuity correction): within a count of the answer
        z = ndtri(u)
        skew = (q - p) / sd
        kurtosis = (1.0 - 6.0 * p * q) / variance
        guess = (mean - 0.5 + sd * (z + skew * (z * z - 1.0) / 6.0 + kurtosis * (z ** 3 - 3.0 * z) / 24.0
                                    - skew * skew * (2.0 * z ** 3 - 5.0 * z) / 36.0))
        start = min(max(int(math.ceil(guess)), 0), n)
        if abs(guess - math.floor(guess + 0.5)) > _CORNISH_FISHER_MARGIN:
            return start  # the expansion's error cannot move it across a count: no need for the slow beta function
    else:
        # a normal approximation with a skewness correction
        z = _rough_normal_quantile(u)
        guess = mean + sd * z + (q - p) * (z * z - 1.0) / 6.0 - 0.5
        start = min(max(int(math.floor(guess + 0.5)), 0), n)
    # walk from the start to the answer, from the exact distribution function at the start
    if n < _N_RECIPROCALS:  # the mass from the table of log factorials: to about 1e-12, and fast
        pmf = math.exp(_LOG_FACTORIALS[n] - _LOG_FACTORIALS[start] - _LOG_FACTORIALS[n - start]
                       + start * log_p + (n - start) * log_q)
    else:  # Loader's formula: the lgamma terms of the textbook one would lose 1e-16 n log n
        pmf = binomial_pmf(start, n, p)
    if sd < _SUMMED_TAIL_SD:
        # first a tail cut short, within _SHORT_TAIL of the distribution function: its answer is certain when u
        # is farther than _SHORT_TAIL_MARGIN from the distribution function on both sides of it
        cdf = _binomial_cdf_by_tail(n, ratio, start, pmf, mean, _SHORT_TAIL)
        k, pmf_k, cdf_k = _walk_to_quantile(n, ratio, start, pmf, cdf, u)
        if (k == n or cdf_k - _SHORT_TAIL_MARGIN >= u) and (k == 0 or cdf_k - pmf_k + _SHORT_TAIL_MARGIN < u):
            return k
        cdf = _binomial_cdf_by_tail(n, ratio, start, pmf, mean, 0.0)
    else:
        cdf = 1.0 if start >= n else betainc(float(n - start), start + 1.0, q)
    return _walk_to_quantile(n, ratio, start, pmf, cdf, u)[0]


@njit(cache=True, nogil=True)
def binomial_quantile(n, p, u):
    """The smallest k with P(Binomial(n, p) <= k) >= u (exact shortcuts for n = 0, p <= 0, p >= 1)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        # by symmetry: n - Binomial(n, 1 - p) evaluated at 1 - u is the same quantile
        return n - _binomial_quantile_low(n, 1.0 - p, 1.0 - u, math.nan, math.nan)
    return _binomial_quantile_low(n, p, u, math.nan, math.nan)


@njit(cache=True, nogil=True)
def binomial_logs(p):
    """``log(r)`` and ``log1p(-r)`` for ``r = min(p, 1 - p)`` (``1 - p`` as :func:`binomial_quantile` computes
    it), or NaN where p is 0 or 1: what :func:`binomial_quantile_given_logs` takes for a p used many times."""
    low = 1.0 - p if p > 0.5 else p
    if not 0.0 < low <= 0.5:
        return math.nan, math.nan
    return math.log(low), math.log1p(-low)


@njit(cache=True, nogil=True)
def binomial_quantile_given_logs(n, p, u, log_low, log1m_low):
    """:func:`binomial_quantile` given :func:`binomial_logs` of p (the same quantile, without the two
    logarithms)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - _binomial_quantile_low(n, 1.0 - p, 1.0 - u, log_low, log1m_low)
    return _binomial_quantile_low(n, p, u, log_low, log1m_low)


@njit(cache=True, nogil=True)
def poisson_quantile(lam, u):
    """The smallest k with P(Poisson(lam) <= k) >= u."""
    if lam <= 0.0:
        return 0
    if lam < _LARGE_SMALL_MEAN:
        pmf = math.exp(-lam)
        cdf = pmf
        k = 0
        while cdf < u:
            pmf *= lam * _reciprocal(k + 1)
            k += 1
            cdf += pmf
            if pmf == 0.0 and k > lam:
                break
        return k
    sd = math.sqrt(lam)
    if lam > _HUGE_VARIANCE:
        # the Cornish-Fisher expansion (with the continuity correction): within a count of the answer
        z = ndtri(u)
        guess = lam - 0.5 + sd * z + (z * z - 1.0) / 6.0 + ((z ** 3 - 3.0 * z) / 24.0 - (2.0 * z ** 3 - 5.0 * z) / 36.0) / sd
        start = max(int(math.ceil(guess)), 0)
    else:
        z = _rough_normal_quantile(u)
        guess = lam + sd * z + (z * z - 1.0) / 6.0 - 0.5
        start = max(int(math.floor(guess + 0.5)), 0)
    # walk from the start to the answer, from the exact distribution function at the start
    pmf = poisson_pmf(start, lam)
    cdf = gamma_q(start + 1.0, lam)
    k = start
    if u <= cdf:
        while k > 0 and cdf - pmf >= u:
            cdf -= pmf
            pmf *= k / lam
            k -= 1
            if pmf == 0.0:
                break
        return k
    while cdf < u:
        k += 1
        pmf *= lam / k
        cdf += pmf
        if pmf == 0.0:
            break
    return k


@njit(cache=True, nogil=True)
def gamma_quantile(shape, u):
    """The quantile of Gamma(shape, scale=1) at u, exact to the rounding of x for any shape (to about 1e-12
    relative below a shape of 100, and in the upper tail 1e-11 beyond u = 1 - 1e-6).

    Shapes below ``_SCIPY_GAMMA_SHAPE``: safeguarded Halley steps on P summed here (:func:`_gamma_p`, faster
    for those shapes); up to ``_CORNISH_FISHER_SHAPE``: on the exact P, or Q in the upper half
    (:func:`~revsim.engine.special.gamma_p`); beyond, the Cornish-Fisher expansion, exact there.
    """
    if u <= 0.0:
        return 0.0
    if u >= 1.0 or shape == math.inf:
        return math.inf
    if shape < _SCIPY_GAMMA_SHAPE:
        return _gamma_quantile_summed(shape, u)
    if shape < _CORNISH_FISHER_SHAPE:
        return _gamma_quantile_exact(shape, u)
    # the Cornish-Fisher expansion: its error, of the order of 1 / shape, is below the rounding of x
    z = ndtri(u)
    sd = math.sqrt(shape)
    skew = 2.0 / sd
    excess_kurtosis = 6.0 / shape
    w = (z + skew * (z * z - 1.0) / 6.0 + excess_kurtosis * (z ** 3 - 3.0 * z) / 24.0
         - skew * skew * (2.0 * z ** 3 - 5.0 * z) / 36.0)
    return shape + sd * w


@njit(cache=True, nogil=True)
def _gamma_start(shape, u):
    """Where the Halley steps start: Wilson-Hilferty, or the small-x expansion for small shapes."""
    x = 0.0
    if shape >= 1.0:
        c = 1.0 / (9.0 * shape)
        x = shape * (1.0 - c + _rough_normal_quantile(u) * math.sqrt(c)) ** 3
    if x <= 0.0:
        x = math.exp((math.log(u) + math.lgamma(shape + 1.0)) / shape)
    return x


@njit(cache=True, nogil=True)
def _halley_step(shape, x, f, density):
    """The Halley step from x for ``f = P(shape, x) - u`` (P'' / P' = (shape - 1) / x - 1), or NaN."""
    if density <= 0.0:
        return math.nan
    newton = f / density
    denominator = 1.0 - 0.5 * newton * ((shape - 1.0) / x - 1.0)
    return newton / denominator if denominator > 0.5 else newton


@njit(cache=True, nogil=True)
def _safeguarded(candidate, x, low, high):
    """``candidate`` if it lies inside the bracket (low, high) of the quantile, else a point that shrinks it."""
    if low < candidate < high and math.isfinite(candidate):
        return candidate
    if not math.isfinite(high):
        return 2.0 * x + 1.0
    if low == 0.0:
        return high * 1e-3  # the quantile may be many orders of magnitude below: shrink fast
    return 0.5 * (low + high)


@njit(cache=True, nogil=True)
def _gamma_quantile_summed(shape, u):
    """:func:`gamma_quantile` for shapes below 100, with P summed by :func:`_gamma_p`."""
    log_gamma = math.lgamma(shape)
    x = _gamma_start(shape, u)
    low, high = 0.0, math.inf
    for _ in range(200):
        f = _gamma_p(shape, x, log_gamma) - u
        if f == 0.0:
            return x
        if f < 0.0:
            low = x
        else:
            high = x
        density = math.exp((shape - 1.0) * math.log(x) - x - log_gamma) if x > 0.0 else 0.0
        step = _halley_step(shape, x, f, density)
        candidate = x - step
        if abs(step) <= 1e-9 * x and low <= candidate <= high:
            return candidate  # the error left after so small a Halley step is far below P's rounding
        candidate = _safeguarded(candidate, x, low, high)
        if candidate == 0.0 or (high < math.inf and high - low <= 4e-16 * high):
            return candidate
        x = candidate
    return x


@njit(cache=True, nogil=True)
def _gamma_quantile_exact(shape, u):
    """:func:`gamma_quantile` for shapes from 100 on, on the exact P (Q in the upper half, where 1 - u is exact and
    P is too close to 1 to tell neighbouring x apart)."""
    upper = u > 0.5
    tail = 1.0 - u if upper else u
    x = _gamma_start(shape, u)
    low, high = 0.0, math.inf
    for _ in range(200):
        f = tail - gamma_q(shape, x) if upper else gamma_p(shape, x) - u  # negative: x is below the quantile
        if abs(f) <= _P_ROUNDING * tail:
            return x
        if f < 0.0:
            low = x
        else:
            high = x
        step = _halley_step(shape, x, f, gamma_density(shape, x))
        candidate = x - step
        if abs(step) <= _X_ROUNDING * x and low <= candidate <= high:
            return candidate  # the step is below the rounding of x
        candidate = _safeguarded(candidate, x, low, high)
        if high < math.inf and high - low <= 4e-16 * high:
            return candidate
        x = candidate
    return x


@njit(cache=True, nogil=True)
def _rough_normal_quantile(u):
    """The standard normal quantile to a relative error of about 1e-9 (Acklam's rational approximation): a
    starting point."""
    if u <= 0.0:
        return -math.inf
    if u >= 1.0:
        return math.inf
    a0, a1, a2 = -3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02
    a3, a4, a5 = 1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00
    b0, b1, b2 = -5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02
    b3, b4 = 6.680131188771972e01, -1.328068155288572e01
    c0, c1, c2 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00
    c3, c4, c5 = -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00
    d0, d1, d2, d3 = 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00
    if u < 0.02425:
        q = math.sqrt(-2.0 * math.log(u))
        return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1.0)
    if u > 1.0 - 0.02425:
        q = math.sqrt(-2.0 * math.log1p(-u))
        return -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1.0)
    q = u - 0.5
    r = q * q
    return (((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q / \
        (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1.0)
