"""Philox-4x64-10, the counter-based generator of numpy's ``np.random.Philox`` and of Random123, for the kernels.

A counter-based generator is a keyed bijection of a 256-bit counter: ``philox(counter, key)`` gives four
64-bit words that look independent of those of any other counter, with no state carried from one call to
the next. The kernels address each random event by a counter made of what the event is (draw, process,
month, cohort or stage and segment...), so an event's uniform does not depend on which events were drawn
before it: an event that need not be drawn (an empty cohort's churn) is skipped, and every other event keeps
its exact uniform.

The 64 x 64 -> 128-bit products are LLVM ``i128`` multiplications (one ``mul`` on x86-64), written as a numba
intrinsic. :func:`philox` gives the same words as ``np.random.Philox(counter=c - 1, key=k).random_raw(4)``
(numpy increments its counter before each block), which ``tests/engine/test_philox.py`` checks.

References
----------
J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC11.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["philox", "philox_uniforms", "to_uniform"]

_M0 = np.uint64(0xD2E7470EE14C6C93)
_M1 = np.uint64(0xCA5A826395121157)
_W0 = np.uint64(0x9E3779B97F4A7C15)
_W1 = np.uint64(0xBB67AE8584CAA73B)
_SHIFT = np.uint64(11)
_HALF = 0.5
_ULP = 2.0 ** -53


@intrinsic
def _mulhilo(typingctx, a, b):
    """The high and low 64 bits of the 128-bit product of two uint64 (one multiplication)."""
    signature = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64)

    def codegen(context, builder, sig, args):
        wide, word = ir.IntType(128), ir.IntType(64)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        high = builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), word)
        low = builder.trunc(product, word)
        return context.make_tuple(builder, sig.return_type, (high, low))

    return signature, codegen


@njit(cache=True, nogil=True, inline="always")
def philox(c0, c1, c2, c3, k0, k1):
    """Philox-4x64-10 of the counter ``(c0, c1, c2, c3)`` under the key ``(k0, k1)``: four uint64 words."""
    for _ in range(9):
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 += _W0
        k1 += _W1
    hi0, lo0 = _mulhilo(_M0, c0)
    hi1, lo1 = _mulhilo(_M1, c2)
    return hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0


@njit(cache=True, nogil=True, inline="always")
def to_uniform(word):
    """A uint64 as a uniform strictly inside (0, 1): its top 53 bits, centred in their interval."""
    return (np.float64(word >> _SHIFT) + _HALF) * _ULP


@njit(cache=True, nogil=True, inline="always")
def philox_uniforms(c0, c1, c2, c3, k0, k1):
    """The four uniforms in (0, 1) of one Philox block (see :func:`philox` and :func:`to_uniform`)."""
    w0, w1, w2, w3 = philox(c0, c1, c2, c3, k0, k1)
    return to_uniform(w0), to_uniform(w1), to_uniform(w2), to_uniform(w3)
