"""Every variable of the trace computed from the sampled parameters after sampling, for all draws at once.

nutpie samples the unconstrained parameters; the trace also holds every other variable of the model (a
parameter on its own scale, a deterministic: ``sbg_alpha``, a segment's churn...). nutpie computes them at
each draw with a compiled "expansion" function, which numba compiled as long as a fifth of the log density
on the worked example (73 operations, 17 s of CPU on a first calibration). revsim's entry point for nutpie
copies the parameters only (:mod:`revsim.calibrate.nutpie_entry`), and :class:`Expansion` computes the other
variables afterwards: the model's graph of them, vectorised over the draws (a leading dimension added to
every parameter) and evaluated by PyTensor's Python implementations, which need no compilation (0.13 s for
the worked example's 4,000 draws, the function built included). The values are NumPy's arithmetic on the same
draws: equal to numba's within rounding (9e-16 on the worked example).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Expansion", "expand_posterior"]

_FUNCTIONS: dict[str, Any] = {}  # structure key -> compiled function, for the rest of the process


class Expansion:
    """The variables of a structure's trace other than its parameters, as functions of the parameters' draws.

    Parameters
    ----------
    structure
        A :class:`revsim.calibrate.model_structure.ModelStructure`: its ``expand`` graphs are functions of its
        ``value_vars`` (the unconstrained parameters) and ``data_inputs``.
    """

    def __init__(self, structure: Any) -> None:
        self.key = structure.key
        self.value_vars = list(structure.value_vars)
        self.value_names = list(structure.value_names)
        self.value_shapes = [tuple(s) for s in structure.value_shapes]
        self.names = list(structure.expand_names)
        self.shapes = [tuple(s) for s in structure.expand_shapes]
        self.outputs = list(structure.expand)
        self.data_inputs = list(structure.data_inputs)
        self.data_names = list(structure.data_names)

    def _function(self) -> Any:
        """The graph vectorised over a leading dimension of draws, compiled without C or numba (once per key)."""
        function = _FUNCTIONS.get(self.key)
        if function is None:
            import pytensor
            import pytensor.tensor as pt
            from pytensor.compile.mode import Mode
            from pytensor.graph.replace import vectorize_graph

            batched = [pt.tensor(dtype=var.dtype, shape=(None, *shape), name=f"{var.name}_draws")
                       for var, shape in zip(self.value_vars, self.value_shapes, strict=True)]
            outputs = vectorize_graph(self.outputs, replace=dict(zip(self.value_vars, batched, strict=True)))
            function = pytensor.function([*batched, *self.data_inputs], outputs,
                                         mode=Mode(linker="py", optimizer="fast_compile"), on_unused_input="ignore")
            _FUNCTIONS[self.key] = function
        return function

    def __call__(self, values: dict[str, np.ndarray], data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every expanded variable for a batch of draws.

        Parameters
        ----------
        values
            Each parameter's draws, ``[draw, *shape]`` (the unconstrained values, by value variable name).
        data
            Each data input's array, by name (the compiled model's ``shared_data``).

        Returns
        -------
        dict
            Each variable's values, ``[draw, *shape]``, as float64 (as nutpie stores them).
        """
        if not self.names:
            return {}
        arrays = [np.asarray(values[name], dtype=var.dtype)
                  for name, var in zip(self.value_names, self.value_vars, strict=True)]
        draws = arrays[0].shape[0] if arrays else 1
        results = self._function()(*arrays, *[data[name] for name in self.data_names])
        expanded = {}
        for name, shape, result in zip(self.names, self.shapes, results, strict=True):
            result = np.asarray(result, dtype=np.float64)
            if result.shape != (draws, *shape):  # a variable that no parameter moves has no draw dimension
                result = np.broadcast_to(result, (draws, *shape))
            expanded[name] = np.ascontiguousarray(result)
        return expanded


def expand_posterior(posterior: Any, expansion: Expansion, data: dict[str, np.ndarray],
                     dims: dict[str, Any], coords: dict[str, Any]) -> Any:
    """``posterior`` (nutpie's, with the unconstrained parameters) with every expanded variable added.

    The variables are added after the parameters, in the model's order, with the dimensions nutpie would
    give them: the model's named dimensions (``dims``, with ``coords``), else ``<name>_dim_<k>``.
    """
    import arviz as az

    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    values = {name: np.asarray(posterior[name].values).reshape(chains * draws, *shape)
              for name, shape in zip(expansion.value_names, expansion.value_shapes, strict=True)}
    expanded = expansion(values, data)
    arrays = {}
    for name, shape in zip(expansion.names, expansion.shapes, strict=True):
        named = list(dims.get(name) or [])
        used = {dim: coords[dim] for dim in named if dim in coords}
        array = expanded[name].reshape(chains, draws, *shape)
        arrays[name] = az.numpy_to_data_array(array, var_name=name, coords=used, dims=named or None)
        arrays[name] = arrays[name].assign_coords(chain=posterior["chain"], draw=posterior["draw"])
    return posterior.assign(arrays)
