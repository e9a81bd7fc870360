"""The digamma function in numba, for PyTensor's ``psi`` (the derivative of ``gammaln``).

PyTensor's numba backend evaluates ``psi`` by calling SciPy's Cython function through a pointer, and numba
cannot cache code that holds a pointer: every log density with a ``gammaln`` (the beta-binomial,
negative-binomial and sBG likelihoods) was compiled again in every process, about a minute for the worked
example. :func:`register` gives PyTensor a pure-numba digamma instead, whose compiled code numba caches.

The algorithm: the reflection formula for :math:`x \\le 0`, the recurrence
:math:`\\psi(x) = \\psi(x+1) - 1/x` up to :math:`x \\ge 10`, then the asymptotic series
:math:`\\ln x - 1/(2x) - \\sum_k B_{2k}/(2k\\,x^{2k})` to the seventh term (relative error below
:math:`10^{-15}` there; tested against SciPy).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["digamma", "register", "IMPLEMENTATION"]

#: Part of the cache key of the compiled code: change it whenever :func:`digamma` changes.
IMPLEMENTATION = "revsim-digamma-2"


def digamma(x: float) -> float:
    """:math:`\\psi(x)`; NaN at its poles (0 and the negative integers)."""
    x = float(x)
    shift = 0.0
    if x <= 0.0:
        if x == math.floor(x):
            return math.nan
        shift = -math.pi / math.tan(math.pi * x)
        x = 1.0 - x
    while x < 10.0:
        shift -= 1.0 / x
        x += 1.0
    inv2 = 1.0 / (x * x)
    # B_2k / (2k), k = 1..7, summed by Horner's rule
    series = inv2 * (1.0 / 12.0 + inv2 * (-1.0 / 120.0 + inv2 * (1.0 / 252.0 + inv2 * (
        -1.0 / 240.0 + inv2 * (1.0 / 132.0 + inv2 * (-691.0 / 32760.0 + inv2 / 12.0))))))
    return shift + math.log(x) - 0.5 / x - series


_registered = False


def register() -> None:
    """Make PyTensor's numba backend compile ``psi`` with :func:`digamma` (idempotent)."""
    global _registered
    if _registered:
        return
    from pytensor.link.numba.dispatch import basic as numba_basic
    from pytensor.link.numba.dispatch.scalar import scalar_op_cache_key
    from pytensor.scalar.math import Psi

    # fast-math off, stated: PyTensor's default would take the flags of whatever context registers it first
    compiled = numba_basic.numba_njit(digamma, fastmath=False)

    @numba_basic.register_funcify_and_cache_key(Psi)
    def numba_funcify_psi(op: Any, node: Any = None, **kwargs: Any) -> tuple[Any, str]:
        return compiled, scalar_op_cache_key(op, implementation=IMPLEMENTATION)

    _registered = True
