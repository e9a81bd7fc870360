"""Independent references for the special functions: Poisson tails summed term by term in long double."""

from __future__ import annotations

import math

import numpy as np
import pytest

LONG_DOUBLE = np.finfo(np.longdouble).eps < 1e-18
needs_long_double = pytest.mark.skipif(not LONG_DOUBLE, reason="an independent sum needs 80-bit long doubles")


def poisson_log_masses(j: np.ndarray, lam: float) -> np.ndarray:
    """log P(Poisson(lam) = j) for whole j >= 1e3 in long double, from Stirling's series (relative error of the
    mass about 1e-19 j log j: 2e-9 at j = 1e9)."""
    j = j.astype(np.longdouble)
    lam_ = np.longdouble(lam)
    log_factorial = ((j + 0.5) * np.log(j) - j + np.log(2 * np.pi, dtype=np.longdouble) / 2
                     + 1 / (12 * j) - 1 / (360 * j**3) + 1 / (1260 * j**5))
    return j * np.log(lam_) - lam_ - log_factorial


def poisson_survival_by_sum(k: int, lam: float) -> float:
    """P(Poisson(lam) > k) for k at least 4 standard deviations above lam >= 1e4, summed term by term (terms
    beyond 12 standard deviations are below 1e-30 of the sum)."""
    j = np.arange(k + 1, k + 1 + 12 * int(math.sqrt(lam)))
    return float(np.sum(np.exp(poisson_log_masses(j, lam))[::-1]))  # smallest first
