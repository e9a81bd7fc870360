"""Special functions for the samplers, callable from numba kernels.

* scipy's regularized incomplete gamma and beta functions and normal quantile
  (:mod:`scipy.special.cython_special`), called from compiled code by symbol: each C function's address is
  registered with LLVM under a fixed name at import, and the kernels declare it as an external function of
  that name, so numba's on-disk cache holds a call by name, valid in any later process that imports this
  module (a ctypes pointer would be an address, which numba refuses to cache);
* the binomial and Poisson probability masses by Loader's saddle-point formulas, accurate to about 1e-15
  relative for any number of trials: the textbook ``exp(lgamma(n + 1) - lgamma(k + 1) - ...)`` subtracts
  numbers of the order of ``n log n`` and keeps only ``1e-16 n log n`` of relative precision (1e-5 for a
  billion trials).

Measured on this project's machine (2 cores, one thread, 20,000 calls each; the ratio is scipy's time over
the hand-written functions this module replaced): the upper incomplete gamma function at ``a`` from 100 to
1e7 and ``x`` near ``a`` takes 70-130 ns against 0.8-90 us (0.15 to 0.001); the incomplete beta function
1-30 us against 2.6-52 us (0.35-0.6); the normal quantile 9 ns against 27 ns. scipy's are also exact to
about 1e-16 where the replaced ones lost up to 1e-8 (gamma, ``a = 1e7``) and 3e-9 (beta, ``n = 1e7``).

References
----------
C. Loader, "Fast and Accurate Computation of Binomial Probabilities", 2000.
"""

from __future__ import annotations

import ctypes
import math

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types

__all__ = [
    "gamma_p",
    "gamma_q",
    "betainc",
    "ndtri",
    "stirling_error",
    "deviance_term",
    "binomial_pmf",
    "poisson_pmf",
    "gamma_density",
]


def _cython_special_address(name: str, n_doubles: int) -> int:
    """The address of scipy's ``double name(double, ..., int __pyx_skip_dispatch)`` (a Cython ``cpdef`` function).

    scipy names the double version of a fused function ``__pyx_fuse_<i>name``, with ``i`` depending on the
    release, so the version is chosen by its signature.
    """
    from scipy.special import cython_special

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    wanted = f"double ({', '.join(['double'] * n_doubles)}, int __pyx_skip_dispatch)"
    for candidate in (name, f"__pyx_fuse_0{name}", f"__pyx_fuse_1{name}"):
        capsule = cython_special.__pyx_capi__.get(candidate)
        if capsule is not None and get_name(capsule).decode() == wanted:
            return get_pointer(capsule, get_name(capsule))
    raise ImportError(f"scipy.special.cython_special has no {wanted.replace('(', name + '(', 1)}")  # pragma: no cover


def _external(name: str, n_doubles: int) -> types.ExternalFunction:
    """scipy's ``name`` as an external function numba can call and cache (see the module docstring); it takes
    Cython's dispatch flag last (pass 0)."""
    symbol = f"revsim_scipy_{name}"
    llvm.add_symbol(symbol, _cython_special_address(name, n_doubles))
    return types.ExternalFunction(symbol, types.float64(*[types.float64] * n_doubles, types.intc))


_scipy_gammainc = _external("gammainc", 2)
_scipy_gammaincc = _external("gammaincc", 2)
_scipy_betainc = _external("betainc", 3)
_scipy_ndtri = _external("ndtri", 1)


@njit(cache=True, nogil=True)
def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b) (scipy.special.betainc: Boost's, to about 1e-13)."""
    return _scipy_betainc(a, b, x, 0)


@njit(cache=True, nogil=True)
def ndtri(u):
    """The standard normal quantile (scipy.special.ndtri)."""
    return _scipy_ndtri(u, 0)


# -- Loader's saddle-point masses ------------------------------------------------------------------------------

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2PI = math.log(2.0 * math.pi)
#: ``stirling_error(k)`` for k = 0 .. 15 (k = 0 is never used), to double precision.
_STIRLING_ERRORS = np.array([
    0.0,
    0.08106146679532726, 0.0413406959554093, 0.02767792568499834, 0.020790672103765093,
    0.016644691189821193, 0.013876128823070748, 0.01189670994589177, 0.010411265261972096,
    0.009255462182712733, 0.00833056343336287, 0.007573675487951841, 0.00694284010720953,
    0.006408994188004207, 0.0059513701127588475, 0.005554733551962801,
])
_S0, _S1, _S2, _S3, _S4 = 1.0 / 12.0, 1.0 / 360.0, 1.0 / 1260.0, 1.0 / 1680.0, 1.0 / 1188.0


@njit(cache=True, nogil=True)
def stirling_error(n):
    """``log(n!) - log(sqrt(2 pi n) (n / e) ** n)`` (``n!`` being ``gamma(n + 1)``) for a whole number ``n >= 1``
    or any real ``n > 15``."""
    if n <= 15.0:
        return _STIRLING_ERRORS[int(n)]
    nn = n * n
    if n > 500.0:
        return (_S0 - _S1 / nn) / n
    if n > 80.0:
        return (_S0 - (_S1 - _S2 / nn) / nn) / n
    if n > 35.0:
        return (_S0 - (_S1 - (_S2 - _S3 / nn) / nn) / nn) / n
    return (_S0 - (_S1 - (_S2 - (_S3 - _S4 / nn) / nn) / nn) / nn) / n


@njit(cache=True, nogil=True)
def deviance_term(x, mean):
    """``x log(x / mean) + mean - x`` without cancellation when ``x`` is close to ``mean`` (Loader's bd0)."""
    if abs(x - mean) < 0.1 * (x + mean):
        v = (x - mean) / (x + mean)
        total = (x - mean) * v
        term = 2.0 * x * v
        v2 = v * v
        for j in range(1, 1000):
            term *= v2
            updated = total + term / (2 * j + 1)
            if updated == total:
                return updated
            total = updated
        return total  # pragma: no cover - the series converges in far fewer terms
    return x * math.log(x / mean) + mean - x


@njit(cache=True, nogil=True)
def binomial_pmf(k, n, p):
    """P(Binomial(n, p) = k) for whole numbers ``0 <= k <= n`` and ``0 < p < 1``, to about 1e-15 relative."""
    q = 1.0 - p
    if k == 0:
        return math.exp(n * math.log1p(-p))
    if k == n:
        return math.exp(n * math.log(p))
    x, y = float(k), float(n - k)
    log_core = (stirling_error(float(n)) - stirling_error(x) - stirling_error(y)
                - deviance_term(x, n * p) - deviance_term(y, n * q))
    log_spread = _LOG_2PI + math.log(x) + math.log1p(-x / n)
    return math.exp(log_core - 0.5 * log_spread)


@njit(cache=True, nogil=True)
def poisson_pmf(k, lam):
    """P(Poisson(lam) = k) for a whole number ``k >= 0`` and ``lam > 0``, to about 1e-15 relative."""
    if k == 0:
        return math.exp(-lam)
    x = float(k)
    return math.exp(-stirling_error(x) - deviance_term(x, lam) - _LOG_SQRT_2PI - 0.5 * math.log(x))


@njit(cache=True, nogil=True)
def gamma_density(shape, x):
    """The density of Gamma(shape, scale=1) at ``x > 0``, for ``shape > 16``, to about 1e-15 relative.

    It is the Poisson mass at ``shape - 1`` with mean ``x``: the textbook ``exp((shape - 1) log x - x -
    lgamma(shape))`` loses ``1e-16 shape log shape`` of relative precision.
    """
    k = shape - 1.0
    return math.exp(-stirling_error(k) - deviance_term(k, x) - _LOG_SQRT_2PI - 0.5 * math.log(k))


# -- the incomplete gamma function where scipy's series stops early ----------------------------------------------

#: scipy evaluates P(a, x) by Temme's uniform expansion for ``a > 200`` and ``|x - a| < 4.5 sqrt(a)``; for
#: ``x < a`` outside that band, by its power series cut at 2,000 terms, which need about ``5.4 sqrt(a)`` terms
#: at the band's edge: from ``a`` of about 1.4e5 the cut sum is short (a relative error of 1e-5 at ``a = 1e6``,
#: 4.6 standard deviations from the mean). There the series is summed here to convergence.
_SCIPY_SERIES_SAFE_A = 1e5
_TEMME_BAND = 4.4


@njit(cache=True, nogil=True)
def _scipy_series_is_cut(a, x):
    """Whether scipy would compute P(a, x) by a power series that 2,000 terms do not sum."""
    return a > _SCIPY_SERIES_SAFE_A and x < a - _TEMME_BAND * math.sqrt(a)


@njit(cache=True, nogil=True)
def _lower_gamma_series(a, x):
    """P(a, x) for ``x < a`` and ``a > 15``: the power series (DLMF 8.11.4) summed until it converges, with
    Loader's prefactor ``x ** a exp(-x) / gamma(a + 1)``."""
    prefactor = math.exp(-stirling_error(a) - deviance_term(a, x) - _LOG_SQRT_2PI - 0.5 * math.log(a))
    total = 1.0
    term = 1.0
    r = a
    while term > 1.1e-16 * total:
        r += 1.0
        term *= x / r
        total += term
    return prefactor * total


@njit(cache=True, nogil=True)
def gamma_p(a, x):
    """The regularized lower incomplete gamma function P(a, x), to about 1e-15 (scipy's, summed to convergence
    where scipy's series would stop early)."""
    if _scipy_series_is_cut(a, x):
        return _lower_gamma_series(a, x)
    return _scipy_gammainc(a, x, 0)


@njit(cache=True, nogil=True)
def gamma_q(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x) (see :func:`gamma_p`)."""
    if _scipy_series_is_cut(a, x):
        return 1.0 - _lower_gamma_series(a, x)
    return _scipy_gammaincc(a, x, 0)
