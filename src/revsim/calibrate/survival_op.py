"""The retention log-likelihood as one PyTensor operation, evaluated by a numba kernel.

:class:`SurvivalLogp` computes the log-likelihood of the cohort tables' sufficient statistics given the
log-survival after each event, and its derivative, in one pass
(:func:`revsim.calibrate.survival_kernel.survival_terms`); its gradient is that derivative weighted by the
incoming gradient. PyTensor's numba backend calls the kernel directly (:func:`register`, with a cache key of
its own so that numba caches it); other backends call it from Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from revsim.calibrate import survival_kernel
from revsim.calibrate.kernel_dispatch import register_kernel

__all__ = ["SurvivalLogp", "survival_logp", "register"]


class SurvivalLogp(Op):
    """``(logp, d_log_surv) = op(log_surv, deaths, survivors)``, the arrays of
    :func:`revsim.calibrate.survival_kernel.survival_terms`.

    Only ``logp`` is meant to be used; the derivative is an output so that the gradient reuses the pass that
    computed the value. The gradient flows to ``log_surv``, never to the data.
    """

    __props__ = ()

    def make_node(self, log_surv: Any, deaths: Any, survivors: Any) -> Apply:
        log_surv, deaths, survivors = (pt.as_tensor_variable(v).astype("float64")
                                       for v in (log_surv, deaths, survivors))
        for name, var in (("log_surv", log_surv), ("deaths", deaths), ("survivors", survivors)):
            if var.ndim != 2:
                raise TypeError(f"SurvivalLogp: {name} must have 2 dimensions, not {var.ndim}")
        outputs = [pt.tensor(dtype="float64", shape=()), pt.tensor(dtype="float64", shape=log_surv.type.shape)]
        return Apply(self, [log_surv, deaths, survivors], outputs)

    def perform(self, node: Apply, inputs: list[np.ndarray], output_storage: list[list[Any]]) -> None:
        log_surv, deaths, survivors = (np.ascontiguousarray(x, dtype=np.float64) for x in inputs)
        segments, width = log_surv.shape
        if deaths.shape != (segments, width - 1) or survivors.shape != log_surv.shape:
            raise ValueError(f"SurvivalLogp: log_surv {log_surv.shape}, deaths {deaths.shape} and survivors "
                             f"{survivors.shape} do not match ([S, E + 1], [S, E], [S, E + 1])")
        for storage, value in zip(output_storage, survival_kernel.survival_terms(log_surv, deaths, survivors),
                                  strict=True):
            storage[0] = value

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list[Any]) -> list[Any]:
        return [(), shapes[0]]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True, True], [False, False], [False, False]]

    def L_op(self, inputs: list[Any], outputs: list[Any], output_grads: list[Any]) -> list[Any]:
        from pytensor.gradient import DisconnectedType, grad_not_implemented

        if not isinstance(output_grads[1].type, DisconnectedType):
            return [grad_not_implemented(self, 0, inputs[0], "the gradient of output 1 (a derivative)"),
                    disconnected_type(), disconnected_type()]
        return [output_grads[0] * outputs[1], disconnected_type(), disconnected_type()]


_OP = SurvivalLogp()


def survival_logp(log_surv: Any, deaths: Any, survivors: Any) -> Any:
    """The retention log-likelihood (the first output of :class:`SurvivalLogp`)."""
    return _OP(log_surv, deaths, survivors)[0]


def register() -> None:
    """Make PyTensor's numba backend call the kernel for :class:`SurvivalLogp` (idempotent)."""
    register_kernel(SurvivalLogp, survival_kernel.survival_terms, survival_kernel)


register()
