"""The funnel's conversion likelihood and its derivatives in one pass, in numba (pure arrays in, arrays out).

The funnel model (:mod:`revsim.calibrate.funnel`) gives each stage's entries into the next stage a
beta-binomial whose trials and rate follow the stage's stock: with :math:`s = 1 - h`,

.. math::

    A_t = n_t + s A_{t-1}, \\quad A_{-1} = f / h, \\qquad B_t = n_t + s^2 B_{t-1}, \\quad B_{-1} = f / (1 - s^2),

the same sums as the module docstring of :mod:`~revsim.calibrate.funnel` (:math:`A_t = \\sum_j n_{t-j}
s^j + s^{t+1} f / h`), taken month by month instead of as a product with the lag matrix: O(T) per
pair instead of O(T²). Each month's log-likelihood needs eight log-gamma functions of its parameters and
its gradient their eight digammas: :func:`log_gamma_and_digamma` computes both from one logarithm.

:func:`conversion_terms` returns, for every pair and month, the log-likelihood and its derivatives with
respect to the pair's hazard, conversion and concentration (the total derivatives: through the stock of
every earlier month too). The log density's gradient is then a weighted sum of them
(:class:`revsim.calibrate.conversion_op.ConversionLogp`). The graph these replace is kept in the tests as
the reference of the values and of PyTensor's own gradient.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from revsim.calibrate.digamma import digamma

__all__ = ["conversion_terms", "log_gamma_and_digamma", "IMPLEMENTATION", "RATE_BOUNDS"]

#: Part of the cache key of the compiled code: change it whenever this module's arithmetic changes.
IMPLEMENTATION = "revsim-conversion-2"

#: The share of a stage's members leaving in a month, :math:`q = hB_t/A_t` (the rate is :math:`r = qp`), is
#: kept within these bounds (as ``clip``: no derivative with respect to the stock outside them).
RATE_BOUNDS = (1e-12, 1 - 1e-12)

_HALF_LOG_TWO_PI = 0.9189385332046727
# fastmath=False is stated, not left to the default: numba compiles a function whose flags are not set with
# the flags of the first function that calls it, and a graph compiled with fast-math would otherwise give the
# kernel other rounding, kept by numba's cache for later processes
_digamma = numba.njit(digamma, cache=True, nogil=True, error_model="numpy", fastmath=False)


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=False)
def log_gamma_and_digamma(x: float) -> tuple[float, float]:
    """:math:`\\ln\\Gamma(x)` and :math:`\\psi(x)`.

    From :math:`x \\ge 10`, Stirling's series and the digamma's asymptotic series share one logarithm
    (seven terms each: relative error below :math:`10^{-16}` there; the digamma's is the same arithmetic as
    :func:`revsim.calibrate.digamma.digamma`); below, ``math.lgamma`` and that digamma.
    """
    if not x >= 10.0:  # also NaN
        return math.lgamma(x), _digamma(x)
    log_x = math.log(x)
    inv = 1.0 / x
    inv2 = inv * inv
    # Stirling: 1/(12x) - 1/(360x^3) + 1/(1260x^5) - 1/(1680x^7) + 1/(1188x^9) - 691/(360360x^11) + 1/(156x^13)
    stirling = inv * (1.0 / 12.0 + inv2 * (-1.0 / 360.0 + inv2 * (1.0 / 1260.0 + inv2 * (
        -1.0 / 1680.0 + inv2 * (1.0 / 1188.0 + inv2 * (-691.0 / 360360.0 + inv2 / 156.0))))))
    log_gamma = (x - 0.5) * log_x - x + _HALF_LOG_TWO_PI + stirling
    series = inv2 * (1.0 / 12.0 + inv2 * (-1.0 / 120.0 + inv2 * (1.0 / 252.0 + inv2 * (
        -1.0 / 240.0 + inv2 * (1.0 / 132.0 + inv2 * (-691.0 / 32760.0 + inv2 / 12.0))))))
    return log_gamma, log_x - 0.5 / x - series


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=False)
def _month(stock: float, squared: float, y: float, h: float, p: float, kappa: float
           ) -> tuple[float, float, float, float, float, float]:
    """One month of an occupied stage: the log-likelihood and its partial derivatives.

    Returns (log-likelihood, d/dA, d/dB, d/dh, d/dp, d/dkappa), the derivative with respect to h holding only
    its explicit part (through the rate; the caller adds the part through the stock).
    """
    low, high = RATE_BOUNDS
    ratio = stock * stock / squared
    if ratio >= y:  # n = max(A^2/B, y): the graph's maximum passes the derivative to A^2/B on a tie
        n, dn_da, dn_db = ratio, 2.0 * stock / squared, -ratio / squared
    else:
        n, dn_da, dn_db = y, 0.0, 0.0
    # r = q p with q = h B / A, the share of the stage's members leaving this month (at most 1, since B <= A):
    # the bounds apply to q, so that r never exceeds p (a bound on r itself put r above a conversion below
    # 1e-12, where kappa_r turned negative and the log-gamma functions of negative numbers made the
    # likelihood rise again as the conversion fell)
    raw = h * squared / stock
    if raw < low:
        q, dq_da, dq_db, dq_dh = low, 0.0, 0.0, 0.0
    elif raw > high:
        q, dq_da, dq_db, dq_dh = high, 0.0, 0.0, 0.0
    else:
        q, dq_da, dq_db, dq_dh = raw, -raw / stock, raw / squared, squared / stock
    r, dr_da, dr_db, dr_dh, dr_dp = q * p, p * dq_da, p * dq_db, p * dq_dh, q
    odds = p / (1.0 - p)
    rest = (1.0 - r) / r
    kappa_r = (kappa + 1.0) * odds * rest - 1.0
    a, b = r * kappa_r, (1.0 - r) * kappa_r
    first, second = y + a, n - y + b
    lg_n1, ps_n1 = log_gamma_and_digamma(n + 1.0)
    lg_y1, _ = log_gamma_and_digamma(y + 1.0)
    lg_ny1, ps_ny1 = log_gamma_and_digamma(n - y + 1.0)
    lg_1, ps_1 = log_gamma_and_digamma(first)
    lg_2, ps_2 = log_gamma_and_digamma(second)
    lg_12, ps_12 = log_gamma_and_digamma(first + second)
    lg_a, ps_a = log_gamma_and_digamma(a)
    lg_b, ps_b = log_gamma_and_digamma(b)
    lg_ab, ps_ab = log_gamma_and_digamma(a + b)
    value = lg_n1 - lg_y1 - lg_ny1 + (lg_1 + lg_2 - lg_12) - (lg_a + lg_b - lg_ab)
    d_n = ps_n1 - ps_ny1 + ps_2 - ps_12
    d_a = ps_1 - ps_12 - ps_a + ps_ab
    d_b = ps_2 - ps_12 - ps_b + ps_ab
    d_kappa_r = r * d_a + (1.0 - r) * d_b
    d_r = kappa_r * (d_a - d_b) - d_kappa_r * (kappa + 1.0) * odds / (r * r)
    d_stock = d_n * dn_da + d_r * dr_da
    d_squared = d_n * dn_db + d_r * dr_db
    d_p = d_r * dr_dp + d_kappa_r * (kappa + 1.0) * rest / ((1.0 - p) * (1.0 - p))
    return value, d_stock, d_squared, d_r * dr_dh, d_p, d_kappa_r * odds * rest


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=False)
def conversion_terms(hazard: np.ndarray, conversion: np.ndarray, concentration: np.ndarray,
                     trials: np.ndarray, before: np.ndarray, conversions: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood of each pair's conversions per month, and its derivatives.

    Parameters
    ----------
    hazard, conversion, concentration
        ``[pair]``: :math:`h`, :math:`p` and :math:`\\kappa`.
    trials
        ``[pair, month]``: the stage's entries :math:`n_t`.
    before
        ``[pair]``: the entries a month before the history, :math:`f`.
    conversions
        ``[pair, month]``: the entries into the next stage :math:`y_t`.

    Returns
    -------
    (logp, d_hazard, d_conversion, d_concentration), each ``[pair, month]``: a month whose stage holds
    nobody (:math:`B_t = 0`) has 0 everywhere. The derivatives are total: month ``t``'s with respect to
    :math:`h` includes its dependence through the stock of months ``0..t``.
    """
    pairs, months = trials.shape
    logp = np.zeros((pairs, months))
    d_hazard = np.zeros((pairs, months))
    d_conversion = np.zeros((pairs, months))
    d_concentration = np.zeros((pairs, months))
    for i in range(pairs):
        h, p, kappa = hazard[i], conversion[i], concentration[i]
        s = 1.0 - h
        s2 = s * s
        stock = before[i] / h  # A_{-1}
        stock_ds = before[i] / (h * h)  # dA_{-1}/ds
        squared = before[i] / (1.0 - s2)  # B_{-1}
        squared_ds = before[i] * 2.0 * s / ((1.0 - s2) * (1.0 - s2))
        for t in range(months):
            stock_ds = stock + s * stock_ds
            stock = trials[i, t] + s * stock
            squared_ds = 2.0 * s * squared + s2 * squared_ds
            squared = trials[i, t] + s2 * squared
            if not squared > 0.0:
                continue
            value, d_stock, d_squared, d_h, d_p, d_kappa = _month(stock, squared, conversions[i, t], h, p, kappa)
            logp[i, t] = value
            d_hazard[i, t] = d_h - d_stock * stock_ds - d_squared * squared_ds  # dh = -ds
            d_conversion[i, t] = d_p
            d_concentration[i, t] = d_kappa
    return logp, d_hazard, d_conversion, d_concentration
