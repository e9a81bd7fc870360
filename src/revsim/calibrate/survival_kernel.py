"""The cohort tables' retention log-likelihood and its gradient in one pass, in numba (arrays in, arrays out).

The retention model (:mod:`revsim.calibrate.retention`) gives each segment the log-probability
:math:`\\ell_i = \\log S(i)` of surviving its first ``i`` events; with the deaths :math:`d_i` at each event and
the survivors :math:`n_i` whose last observed event is ``i`` (summed over the segment's cohorts), the
log-likelihood is

.. math::

    L = \\sum_{i : d_i > 0} d_i \\big(\\ell_{i-1} + \\log(1 - e^{\\delta_i})\\big) + \\sum_i n_i \\ell_i,
    \\qquad \\delta_i = \\min(\\ell_i - \\ell_{i-1}, -10^{-12}),

(``log(1 - e^x)`` as ``log1mexp``: ``log(-expm1(x))`` above :math:`-\\log 2`, ``log1p(-exp(x))`` below).
:func:`survival_terms` returns :math:`L` and :math:`\\partial L / \\partial \\ell` for every segment and
event; as a graph of PyTensor's operations this took 60 of the worked example's 353 operations to compile
(both retention models: the slices, the minimum, ``log1mexp``, the masked products and their gradients).
The graph is kept in the tests as the reference of the values and of PyTensor's gradient.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["survival_terms", "IMPLEMENTATION", "SMALLEST_STEP"]

#: Part of the cache key of the compiled code: change it whenever this module's arithmetic changes.
IMPLEMENTATION = "revsim-survival-1"

#: The largest log-probability of surviving one more event (a step of ``log S`` is at most this).
SMALLEST_STEP = -1e-12

_LOG_HALF = -0.6931471805599453


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=False)
def _log1mexp(x: float) -> tuple[float, float]:
    """``log(1 - exp(x))`` for ``x < 0`` and its derivative ``exp(x) / expm1(x)``."""
    if x < _LOG_HALF:
        value = math.log1p(-math.exp(x))
    else:
        value = math.log(-math.expm1(x))
    return value, math.exp(x) / math.expm1(x)


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=False)
def survival_terms(log_surv: np.ndarray, deaths: np.ndarray, survivors: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The log-likelihood (a 0-d array) and its derivative with respect to ``log_surv`` (``[S, E + 1]``).

    ``deaths`` is ``[S, E]`` (a death count of 0 adds nothing, whatever its log-probability), ``survivors``
    ``[S, E + 1]``.
    """
    segments, width = log_surv.shape
    total = 0.0
    gradient = np.zeros((segments, width))
    for s in range(segments):
        for i in range(width):
            n = survivors[s, i]
            total += n * log_surv[s, i]
            gradient[s, i] += n
        for i in range(width - 1):
            d = deaths[s, i]
            if d > 0.0:
                raw = log_surv[s, i + 1] - log_surv[s, i]
                step = raw if raw < SMALLEST_STEP else SMALLEST_STEP
                value, slope = _log1mexp(step)
                total += d * (log_surv[s, i] + value)
                if raw <= SMALLEST_STEP:  # the minimum passes the derivative to the difference on a tie
                    gradient[s, i] += d * (1.0 - slope)
                    gradient[s, i + 1] += d * slope
                else:
                    gradient[s, i] += d
    result = np.empty(())
    result[()] = total
    return result, gradient
