"""Count and amount variates by inversion: one uniform in, the exact quantile out.

The kernels draw every random count as ``quantile(parameters, u)`` with ``u`` the next uniform of the
process's ``np.random.Generator``, and each random event consumes exactly one uniform at a position that
depends only on the scenario's structure (month, stage, segment, cohort), never on the counts. Two
scenarios that differ in one lever therefore use the same uniform for the same event, and since quantile
functions are monotone in their parameters (a binomial's quantile grows with n and p, a Poisson's with its
mean), raising a conversion rate can only raise the counts that follow it: common random numbers with a
monotone coupling.

Quantiles are exact up to floating-point rounding: small means are found by summing the probability mass
function from zero; large ones start next to the answer (a normal approximation), where the distribution
function is computed, and walk to it. For a binomial with a standard deviation up to 60 that distribution
function is the sum of the mass function over the tail beyond the start (a few hundred multiplications);
beyond, and for Poisson counts, it is the regularized incomplete beta or gamma function. Beyond a variance of
1e6 (counts in the millions) the Cornish-Fisher expansion gives the quantile. Gamma quantiles are found by
safeguarded Halley steps on the incomplete gamma function.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "binomial_quantile",
    "binomial_zero_terms",
    "small_binomial_quantile",
    "SMALL_MEAN",
    "poisson_quantile",
    "gamma_quantile",
    "regularized_beta",
    "regularized_gamma_p",
]

#: Below this mean the quantile is found by summing the mass function from zero.
SMALL_MEAN = 100.0
#: Above this variance the incomplete beta and gamma functions lose precision in double arithmetic, and the
#: quantile is the Cornish-Fisher expansion's instead (three terms; its error is a tiny fraction of the
#: standard deviation, far below the Monte Carlo error of any forecast).
_HUGE_VARIANCE = 1e6
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


@njit(cache=True, nogil=True)
def _reciprocal(k):
    """1 / k for a whole number k >= 1, from the table when it holds it."""
    return _RECIPROCALS[k - 1] if k <= _N_RECIPROCALS else 1.0 / k


@njit(cache=True, nogil=True)
def _log_factorial(k):
    """log(k!) for a whole number k >= 0, from the table when it holds it."""
    return _LOG_FACTORIALS[k] if k < _N_RECIPROCALS else math.lgamma(k + 1.0)


@njit(cache=True, nogil=True)
def _beta_continued_fraction(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_ITER):
        m2 = 2.0 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


@njit(cache=True, nogil=True)
def regularized_beta(a, b, x):
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


@njit(cache=True, nogil=True)
def regularized_gamma_p(a, x):
    """The regularized lower incomplete gamma function P(a, x)."""
    return _gamma_p(a, x, math.lgamma(a))


@njit(cache=True, nogil=True)
def _gamma_p(a, x, log_gamma_a):
    """P(a, x) given ``log_gamma_a = lgamma(a)``."""
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
def _binomial_cdf_by_tail(n, ratio, k, pmf, mean):
    """P(Binomial(n, p) <= k) given ``pmf = P(X = k)``, by summing the mass function over the tail on the side
    of ``k`` away from the mean (``ratio = p / (1 - p)``)."""
    term = pmf
    if k < mean:
        total = pmf
        inverse_ratio = 1.0 / ratio
        j = k
        while j > 0:  # P(X = j - 1) = P(X = j) * j / ((n - j + 1) * ratio)
            term *= j * inverse_ratio * _reciprocal(n - j + 1)
            j -= 1
            total += term
            if term < total * _TAIL_EPS:
                break
        return total
    above = 0.0
    j = k
    while j < n:  # P(X = j + 1) = P(X = j) * (n - j) * ratio / (j + 1)
        term *= (n - j) * ratio * _reciprocal(j + 1)
        j += 1
        above += term
        if term < above * _TAIL_EPS:
            break
    return 1.0 - above


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
def _binomial_quantile_low(n, p, u):
    """Quantile of Binomial(n, p) at u for p <= 1/2."""
    q = 1.0 - p
    ratio = p / q
    mean = n * p
    if mean < SMALL_MEAN:
        return small_binomial_quantile(n, ratio, math.exp(n * math.log1p(-p)), mean, u)
    # start next to the answer (normal approximation with a skewness correction), then walk to it exactly
    variance = mean * q
    z = _normal_quantile(u) if variance > _HUGE_VARIANCE else _rough_normal_quantile(u)
    sd = math.sqrt(variance)
    guess = mean + sd * z + (q - p) * (z * z - 1.0) / 6.0 - 0.5
    if variance > _HUGE_VARIANCE:
        kurtosis = (1.0 - 6.0 * p * q) / variance
        guess += sd * kurtosis * (z ** 3 - 3.0 * z) / 24.0 - (q - p) ** 2 / variance * sd * (2 * z ** 3 - 5 * z) / 36.0
        return min(max(int(math.floor(guess + 0.5)), 0), n)
    start = min(max(int(math.floor(guess + 0.5)), 0), n)
    if sd < _SUMMED_TAIL_SD:
        log_pmf = (_log_factorial(n) - _log_factorial(start) - _log_factorial(n - start)
                   + start * math.log(p) + (n - start) * math.log1p(-p))
        pmf = math.exp(log_pmf)
        cdf = _binomial_cdf_by_tail(n, ratio, start, pmf, mean)
    else:
        log_pmf = (math.lgamma(n + 1.0) - math.lgamma(start + 1.0) - math.lgamma(n - start + 1.0)
                   + start * math.log(p) + (n - start) * math.log1p(-p))
        pmf = math.exp(log_pmf)
        cdf = 1.0 if start >= n else regularized_beta(float(n - start), start + 1.0, q)
    k = start
    if u <= cdf:
        while k > 0 and cdf - pmf >= u:
            cdf -= pmf
            pmf *= k / (n - k + 1.0) / ratio
            k -= 1
            if pmf == 0.0:
                break
        return k
    while cdf < u and k < n:
        pmf *= (n - k) / (k + 1.0) * ratio
        k += 1
        cdf += pmf
        if pmf == 0.0:
            break
    return k


@njit(cache=True, nogil=True)
def binomial_quantile(n, p, u):
    """The smallest k with P(Binomial(n, p) <= k) >= u (exact shortcuts for n = 0, p <= 0, p >= 1)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        # by symmetry: n - Binomial(n, 1 - p) evaluated at 1 - u is the same quantile
        return n - _binomial_quantile_low(n, 1.0 - p, 1.0 - u)
    return _binomial_quantile_low(n, p, u)


@njit(cache=True, nogil=True)
def poisson_quantile(lam, u):
    """The smallest k with P(Poisson(lam) <= k) >= u."""
    if lam <= 0.0:
        return 0
    if lam < SMALL_MEAN:
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
    z = _normal_quantile(u) if lam > _HUGE_VARIANCE else _rough_normal_quantile(u)
    guess = lam + math.sqrt(lam) * z + (z * z - 1.0) / 6.0 - 0.5
    if lam > _HUGE_VARIANCE:
        guess += (z ** 3 - 3.0 * z) / (24.0 * math.sqrt(lam)) - (2 * z ** 3 - 5 * z) / (36.0 * math.sqrt(lam))
        return max(int(math.floor(guess + 0.5)), 0)
    start = max(int(math.floor(guess + 0.5)), 0)
    pmf = math.exp(start * math.log(lam) - lam - math.lgamma(start + 1.0))
    cdf = 1.0 - regularized_gamma_p(start + 1.0, lam)
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
    """The quantile of Gamma(shape, scale=1) at u, by safeguarded Halley steps on P(shape, x)."""
    if u <= 0.0:
        return 0.0
    if u >= 1.0:
        return math.inf
    log_gamma = math.lgamma(shape)
    # Wilson-Hilferty start, or the small-x expansion for small shapes
    x = 0.0
    if shape >= 1.0:
        c = 1.0 / (9.0 * shape)
        x = shape * (1.0 - c + _rough_normal_quantile(u) * math.sqrt(c)) ** 3
    if x <= 0.0:
        x = math.exp((math.log(u) + math.lgamma(shape + 1.0)) / shape)
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
        candidate = math.nan
        if density > 0.0:
            newton = f / density
            # Halley's correction: P'' / P' = (shape - 1) / x - 1
            denominator = 1.0 - 0.5 * newton * ((shape - 1.0) / x - 1.0)
            step = newton / denominator if denominator > 0.5 else newton
            candidate = x - step
            if abs(step) <= 1e-9 * x and low <= candidate <= high:
                return candidate  # the error left after so small a Halley step is far below P's rounding
        if not (low < candidate < high) or not math.isfinite(candidate):
            if not math.isfinite(high):
                candidate = 2.0 * x + 1.0
            elif low == 0.0:
                candidate = high * 1e-3  # the quantile may be many orders of magnitude below: shrink fast
            else:
                candidate = 0.5 * (low + high)
        if candidate == 0.0 or (high < math.inf and high - low <= 4e-16 * high):
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


@njit(cache=True, nogil=True)
def _normal_quantile(u):
    """The standard normal quantile (Acklam's rational approximation with one Halley refinement)."""
    x = _rough_normal_quantile(u)
    if not math.isfinite(x):
        return x
    e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - u
    step = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - step / (1.0 + x * step / 2.0)
