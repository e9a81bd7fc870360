"""The funnel's conversion likelihood as one PyTensor operation, evaluated by a numba kernel.

As a graph of PyTensor's elementwise operations the likelihood took about 70% of the worked example's log
density evaluation (a product with the ``[pair, month, month]`` lag matrix for the stock, then the
beta-binomial's log-gamma functions and, for the gradient, their digammas, each in its own pass over the
months). :class:`ConversionLogp` computes the log-likelihood and its derivatives in one pass
(:func:`revsim.calibrate.conversion_kernel.conversion_terms`); its gradient is the derivatives weighted by
the incoming gradient, summed over the months. PyTensor's numba backend calls the kernel directly
(:func:`register`, with a cache key of its own so that numba caches it); other backends call it from Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from revsim.calibrate import conversion_kernel
from revsim.calibrate.kernel_dispatch import register_kernel

__all__ = ["ConversionLogp", "conversion_logp_op", "register"]


class ConversionLogp(Op):
    """``(logp, d_hazard, d_conversion, d_concentration) = op(hazard, conversion, concentration, trials,
    before, conversions)``, the arrays of :func:`revsim.calibrate.conversion_kernel.conversion_terms`.

    Only ``logp`` is meant to be used; the derivatives are outputs so that the gradient reuses the pass that
    computed the value. The gradient flows to the three parameters, never to the data (the last three).
    """

    __props__ = ()

    def make_node(self, hazard: Any, conversion: Any, concentration: Any, trials: Any, before: Any,
                  conversions: Any) -> Apply:
        vectors = [pt.as_tensor_variable(v).astype("float64") for v in (hazard, conversion, concentration)]
        trials, before, conversions = (pt.as_tensor_variable(v).astype("float64")
                                       for v in (trials, before, conversions))
        for name, var, ndim in (("hazard", vectors[0], 1), ("conversion", vectors[1], 1),
                                ("concentration", vectors[2], 1), ("trials", trials, 2), ("before", before, 1),
                                ("conversions", conversions, 2)):
            if var.ndim != ndim:
                raise TypeError(f"ConversionLogp: {name} must have {ndim} dimension(s), not {var.ndim}")
        shape = trials.type.shape
        outputs = [pt.tensor(dtype="float64", shape=shape) for _ in range(4)]
        return Apply(self, [*vectors, trials, before, conversions], outputs)

    def perform(self, node: Apply, inputs: list[np.ndarray], output_storage: list[list[Any]]) -> None:
        arrays = [np.ascontiguousarray(x, dtype=np.float64) for x in inputs]
        pairs = arrays[3].shape[0]
        for name, array in zip(("hazard", "conversion", "concentration", "before"),
                               (arrays[0], arrays[1], arrays[2], arrays[4]), strict=True):
            if array.shape != (pairs,):
                raise ValueError(f"ConversionLogp: {name} has shape {array.shape}, expected ({pairs},)")
        if arrays[5].shape != arrays[3].shape:
            raise ValueError(f"ConversionLogp: conversions have shape {arrays[5].shape}, trials {arrays[3].shape}")
        for storage, value in zip(output_storage, conversion_kernel.conversion_terms(*arrays), strict=True):
            storage[0] = value

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list[Any]) -> list[Any]:
        return [shapes[3]] * 4

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True] * 4] * 3 + [[False] * 4] * 3

    def L_op(self, inputs: list[Any], outputs: list[Any], output_grads: list[Any]) -> list[Any]:
        from pytensor.gradient import DisconnectedType, grad_not_implemented

        for k, grad in enumerate(output_grads[1:], start=1):
            if not isinstance(grad.type, DisconnectedType):
                return [grad_not_implemented(self, j, inputs[j], f"the gradient of output {k} (a derivative)")
                        for j in range(3)] + [disconnected_type() for _ in range(3)]
        weight = output_grads[0]
        return [pt.sum(weight * outputs[k], axis=1) for k in (1, 2, 3)] + [disconnected_type() for _ in range(3)]


_OP = ConversionLogp()


def conversion_logp_op(hazard: Any, conversion: Any, concentration: Any, trials: Any, before: Any,
                       conversions: Any) -> Any:
    """The log-likelihood ``[pair, month]`` of the conversions (the first output of :class:`ConversionLogp`)."""
    return _OP(hazard, conversion, concentration, trials, before, conversions)[0]


def register() -> None:
    """Make PyTensor's numba backend call the kernel for :class:`ConversionLogp` (idempotent)."""
    register_kernel(ConversionLogp, conversion_kernel.conversion_terms, conversion_kernel)


register()
