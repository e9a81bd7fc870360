"""A PyMC model split into its structure and its data, and a key that names the structure.

A calibration computes two functions of a model: the log density with its gradient (compiled for nutpie),
and the "expansion" from the unconstrained parameters to every variable of the trace (evaluated after
sampling, :mod:`revsim.calibrate.expansion`). What they compute depends on the model's
*structure* (its variables, their shapes and transforms, the operations of the likelihood, the priors'
constants), not on the data. :func:`model_structure` rewrites both graphs so that every data array is an
input: the model's ``pm.Data`` variables, and every array constant of the graph that holds data (counts,
rates, index arrays, a lag matrix...). Two models with the same structure then have identical graphs, whatever
their data, and one compiled function serves both: the key of :func:`model_structure` is a hash of the
graphs, so any change of structure (a new variable, another prior, another segment) changes it.

An array constant is taken as data when it has more than one element and is used as a value (by an
elementwise operation, or as the indices of advanced indexing); shape arguments stay constants. Scalars
stay constants: they are part of the structure (``0.5``, ``1e-12``, a prior's parameters). A dimension of
length 1 stays broadcastable (part of the structure too), every other dimension is free, so a history with
more months or more cohorts is the same structure.
"""

from __future__ import annotations

import functools
import hashlib
import math
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ModelStructure", "StructureError", "model_structure", "environment"]

#: Rewrites applied to the log density before its gradient is taken (as nutpie does).
LOGP_REWRITES = ("canonicalize", "stabilize")


class StructureError(ValueError):
    """The model cannot be split into structure and data (it is then compiled without the cache)."""


@dataclass
class ModelStructure:
    """The graphs to compile, their data inputs with this model's values, and the key of the structure.

    ``logp_parts`` and ``expand`` are functions of ``value_vars`` (the unconstrained parameters, in nutpie's
    order) and ``data_inputs``; ``data`` holds this model's value of each data input. ``logp_parts`` is the
    log density as a sum of parts compiled separately (:mod:`revsim.calibrate.logp_parts`): one part, the
    whole log density, when the model is not split. ``part_data`` lists, for each part, the positions in
    ``data_inputs`` of the data its graph reads (its entry point passes those alone), and ``part_parameters``
    the positions in ``value_vars`` of the parameters it depends on (its graph takes those alone, and
    gives their gradient).
    """

    key: str
    model: Any  # the PyMC model with frozen dimensions
    value_vars: list[Any]
    value_names: list[str]
    value_shapes: list[tuple[int, ...]]
    expand_names: list[str]
    expand_shapes: list[tuple[int, ...]]
    logp_parts: list[Any]
    expand: list[Any]
    data_inputs: list[Any]
    data_names: list[str]
    data: list[np.ndarray]
    initial_point: Any  # seed -> {value variable name: array}, this model's
    part_data: list[list[int]]
    part_parameters: list[list[int]]

    @property
    def n_dim(self) -> int:
        return sum(math.prod(s) for s in self.value_shapes)

    @property
    def value_slices(self) -> list[slice]:
        """Where each parameter lies in nutpie's flat point (the parameters one after the other, flattened)."""
        slices, start = [], 0
        for shape in self.value_shapes:
            slices.append(slice(start, start + math.prod(shape)))
            start += math.prod(shape)
        return slices

    @property
    def data_layout(self) -> list[tuple[str, str, tuple[bool, ...]]]:
        """(name, dtype, broadcastable dimensions) of every data input."""
        return [(name, var.type.dtype, tuple(s == 1 for s in var.type.shape))
                for name, var in zip(self.data_names, self.data_inputs, strict=True)]


def environment() -> dict[str, str]:
    """The versions and settings the compiled code depends on (part of the key)."""
    from importlib.metadata import PackageNotFoundError, version

    import pytensor

    found = {"python": sys.version.split()[0]}
    for package in ("revsim", "pymc", "pytensor", "nutpie", "numba", "llvmlite", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:  # pragma: no cover - an uninstalled checkout
            found[package] = "unknown"
    config = pytensor.config
    found["pytensor_config"] = f"floatX={config.floatX} numba__fastmath={config.numba__fastmath}"
    # the code that lifts, compiles and wraps the graphs: an edit of it misses the cache
    code = hashlib.sha256()
    for name in ("model_structure.py", "logp_parts.py", "compile_cache.py", "nutpie_entry.py", "digamma.py",
                 "conversion_kernel.py", "conversion_op.py", "survival_kernel.py", "survival_op.py",
                 "kernel_dispatch.py", "shape_ops.py", "link_only.py"):
        code.update((Path(__file__).parent / name).read_bytes())
    found["code"] = code.hexdigest()[:16]
    return found


def model_structure(model: Any) -> ModelStructure:
    """Split ``model`` into structure and data (see the module docstring).

    Raises
    ------
    StructureError
        When a graph has an input that is neither a parameter nor data (a random generator...) or an
        operation that cannot be described reproducibly.
    """
    from pymc.model.transform.optimization import freeze_dims_and_data
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import graph_inputs, io_toposort
    from pytensor.tensor.type import TensorType

    from pymc.initial_point import make_initial_point_fn
    from revsim.calibrate.logp_parts import split_terms

    frozen = freeze_dims_and_data(model, data=[])  # dimensions are structure; data stay inputs
    value_vars = [frozen.rvs_to_values[rv] for rv in frozen.free_RVs]
    value_names = [v.name for v in value_vars]
    expand = [v for v in frozen.unobserved_value_vars if v.name not in value_names]
    terms = frozen.logp(sum=False)
    # one part: the sum of every term, what frozen.logp() is
    part_logps = [_sum_of([terms[i] for i in members]) for members in split_terms(terms, value_vars)]
    outputs = [*part_logps, *expand]
    # nutpie's start: the support point of every variable, jittered (U(-1, 1) on the unconstrained scale)
    initial_point = make_initial_point_fn(model=frozen, jitter_rvs=set(frozen.free_RVs),
                                          default_strategy="support_point", return_transformed=True)
    point = initial_point(0)
    value_shapes = [tuple(int(n) for n in np.shape(point[name])) for name in value_names]
    expand_shapes = _shapes(expand, value_vars, point)

    roots: list[Any] = []
    uses: dict[Any, list[tuple[Any, int]]] = {}
    for node in io_toposort([], outputs):
        for position, var in enumerate(node.inputs):
            if var.owner is None:
                if var not in uses:
                    roots.append(var)
                    uses[var] = []
                uses[var].append((node.op, position))
    values = set(value_vars)
    originals, inputs, names, data = [], [], [], []
    taken = set(value_names)
    for var in roots:
        if var in values:
            continue
        if isinstance(var, SharedVariable):
            if not isinstance(var.type, TensorType):
                raise StructureError(f"the model's graph uses {var} ({var.type}), which is not data")
            value = np.asarray(var.get_value(borrow=True))
            placeholder = var.type()
            name = var.name or "data"
        elif isinstance(var, Constant):
            if not _is_data(var, uses[var]):
                continue
            value = np.asarray(var.data)
            placeholder = TensorType(var.type.dtype, shape=tuple(1 if n == 1 else None for n in value.shape))()
            name = "constant"
        else:
            raise StructureError(f"the model's graph has a free input {var} that is neither a parameter nor data")
        unique, n = name, 1
        while unique in taken:
            unique, n = f"{name}_{n}", n + 1
        taken.add(unique)
        placeholder.name = unique
        originals.append(var)
        inputs.append(placeholder)
        names.append(unique)
        data.append(np.array(value, dtype=var.type.dtype, order="C"))  # a copy; 0-d stays 0-d
    lifted = _rebuild(outputs, dict(zip(originals, inputs, strict=True)))
    split = len(part_logps)
    logp_parts, expand = list(lifted[:split]), list(lifted[split:])
    position = {var: k for k, var in enumerate(inputs)}
    part_data = [sorted(position[var] for var in graph_inputs([part]) if var in position) for part in logp_parts]
    parameter = {var: k for k, var in enumerate(value_vars)}
    part_parameters = [sorted(parameter[var] for var in graph_inputs([part]) if var in parameter)
                       for part in logp_parts]
    # The names are the model's: a variable whose last operation is rebuilt on a data input (an index array
    # made an input, say) comes out of the rebuild without its name.
    expand_names = [v.name for v in outputs[split:]]

    signature = _GraphSignature()
    signature.add_inputs("parameter", value_vars)
    signature.add_inputs("data", inputs)
    signature.add_outputs(lifted)
    digest = hashlib.sha256()
    for part in (repr(sorted(environment().items())), repr(value_names), repr(value_shapes),
                 repr([v.name for v in frozen.unobserved_value_vars if v.name not in value_names]),
                 repr(expand_shapes), repr(bool(frozen.check_bounds)), repr(LOGP_REWRITES), signature.hexdigest()):
        digest.update(part.encode())
        digest.update(b"\0")
    return ModelStructure(
        key=digest.hexdigest()[:32], model=frozen, value_vars=value_vars, value_names=value_names,
        value_shapes=value_shapes, expand_names=expand_names, expand_shapes=expand_shapes,
        logp_parts=logp_parts, expand=expand, data_inputs=inputs, data_names=names, data=data,
        initial_point=initial_point, part_data=part_data, part_parameters=part_parameters)


def _sum_of(terms: list[Any]) -> Any:
    """The sum of log density terms, as PyMC's ``Model.logp`` adds them."""
    from pytensor.tensor import as_tensor
    from pytensor.tensor.math import variadic_add

    return variadic_add(*(as_tensor(term).sum() for term in terms))


def _rebuild(outputs: list[Any], replacements: dict[Any, Any]) -> list[Any]:
    """The graphs of ``outputs`` with ``replacements`` (data by inputs), and without the lengths that
    ``SpecifyShape`` asserts (lengths of 1, broadcastable, are kept).

    PyMC asserts the shape of an observed array when a likelihood is written ``pm.logp(pm.X.dist(...), y)``:
    the number of observations would then be part of the structure. The assertion computes nothing. Nodes
    are rebuilt in topological order, so their output types follow their new inputs.
    """
    from pytensor.graph.traversal import io_toposort
    from pytensor.tensor.shape import SpecifyShape, specify_shape

    memo = dict(replacements)
    for node in io_toposort([], outputs):
        inputs = [memo.get(v, v) for v in node.inputs]
        if isinstance(node.op, SpecifyShape):
            relaxed = _relaxed_lengths(node.inputs[1:])
            if relaxed is not None:
                memo[node.outputs[0]] = (inputs[0] if all(k is None for k in relaxed)
                                         else specify_shape(inputs[0], tuple(relaxed)))
                continue
        if all(new is old for new, old in zip(inputs, node.inputs, strict=True)):
            continue
        rebuilt = node.clone_with_new_inputs(inputs, strict=False)
        memo.update(zip(node.outputs, rebuilt.outputs, strict=True))
    return [memo.get(v, v) for v in outputs]


def _relaxed_lengths(lengths: list[Any]) -> list[Any] | None:
    """The lengths a relaxed ``SpecifyShape`` keeps (None: any), or None when there is nothing to relax."""
    from pytensor.graph.basic import Constant

    kept, changed = [], False
    for length in lengths:
        if not isinstance(length, Constant):
            kept.append(length)  # a symbolic length is part of the graph: kept
        elif np.asarray(length.data).ndim == 0 and int(length.data) == 1:
            kept.append(1)
        elif np.asarray(length.data).ndim == 0 and int(length.data) == -1:
            kept.append(None)  # no length asserted
        else:
            kept.append(None)
            changed = True
    return kept if changed else None


def _shapes(variables: list[Any], value_vars: list[Any], point: dict[str, np.ndarray]) -> list[tuple[int, ...]]:
    """The shapes of ``variables``: static where the graph knows them, else evaluated at ``point``."""
    import pytensor

    unknown = [v for v in variables if any(n is None for n in v.type.shape)]
    found: dict[Any, tuple[int, ...]] = {}
    if unknown:
        shapes = pytensor.function([], [v.shape for v in unknown], givens=[(v, point[v.name]) for v in value_vars],
                                   mode="FAST_COMPILE", on_unused_input="ignore")()
        found = {v: tuple(int(n) for n in shape) for v, shape in zip(unknown, shapes, strict=True)}
    return [found.get(v) or tuple(int(n) for n in v.type.shape) for v in variables]


def _is_data(constant: Any, uses: list[tuple[Any, int]]) -> bool:
    """An array constant holding data: more than one element, used only as a value (see the module doc)."""
    from pytensor.tensor.elemwise import Elemwise
    from pytensor.tensor.subtensor import AdvancedIncSubtensor, AdvancedIncSubtensor1, AdvancedSubtensor, \
        AdvancedSubtensor1

    value = np.asarray(constant.data)
    if value.ndim == 0 or value.size <= 1:
        return False
    if value.dtype.kind == "f":
        return True
    if value.dtype.kind not in "iub":
        return False
    for op, position in uses:
        if isinstance(op, Elemwise):
            continue
        if isinstance(op, AdvancedSubtensor | AdvancedSubtensor1) and position >= 1:
            continue
        if isinstance(op, AdvancedIncSubtensor | AdvancedIncSubtensor1) and position >= 2:
            continue
        return False
    return True


class _GraphSignature:
    """A hash of pytensor graphs that two processes compute alike for the same structure.

    Variables are numbered in the order they are met; an operation is described by its class and its
    parameters (``__props__``, or the attributes of a scalar operation), constants by their type and bytes.
    A value that cannot be described reproducibly raises :class:`StructureError` (no key is better than a
    wrong one).
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._index: dict[Any, int] = {}

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def _put(self, *parts: Any) -> None:
        self._hash.update(repr(parts).encode())
        self._hash.update(b"\0")

    def add_inputs(self, kind: str, variables: list[Any]) -> None:
        for var in variables:
            self._index[var] = len(self._index)
            self._put(kind, var.name, _describe_type(var.type))

    def add_outputs(self, outputs: list[Any]) -> None:
        from pytensor.graph.basic import Constant
        from pytensor.graph.traversal import io_toposort

        for node in io_toposort([], outputs):
            arguments = []
            for var in node.inputs:
                if var not in self._index:
                    if not isinstance(var, Constant):
                        raise StructureError(f"unexpected free input {var} in the lifted graph")
                    self._index[var] = len(self._index)
                    self._put("constant", _describe_type(var.type), _describe(var.data))
                arguments.append(self._index[var])
            self._put("apply", _describe(node.op), tuple(arguments))
            for var in node.outputs:
                self._index[var] = len(self._index)
                self._put("output", _describe_type(var.type))
        self._put("outputs", tuple(self._index[var] for var in outputs))


def _describe_type(t: Any) -> Any:
    return (type(t).__module__, type(t).__qualname__, str(getattr(t, "dtype", "")),
            repr(getattr(t, "shape", None)), str(t))


def _describe(value: Any, depth: int = 0) -> Any:
    """A reproducible description of an operation or one of its parameters."""
    if depth > 20:
        raise StructureError("an operation's parameters nest too deeply to be described")
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return (type(value).__name__, repr(value))
    if isinstance(value, np.ndarray | np.generic):
        array = np.array(value, order="C")
        return ("array", array.dtype.str, array.shape, hashlib.sha256(array.tobytes()).hexdigest())
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(_describe(v, depth + 1) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), _describe(v, depth + 1)) for k, v in value.items())))
    if isinstance(value, slice):
        return ("slice", _describe((value.start, value.stop, value.step), depth + 1))
    if isinstance(value, type | types.FunctionType | types.BuiltinFunctionType | np.ufunc):
        return ("callable", getattr(value, "__module__", None), getattr(value, "__qualname__", repr(value)))
    from pytensor.graph.fg import FunctionGraph
    from pytensor.graph.op import Op
    from pytensor.graph.type import Type

    if isinstance(value, Type):
        return _describe_type(value)
    if isinstance(value, FunctionGraph):
        inner = _GraphSignature()
        inner.add_inputs("inner", list(value.inputs))
        inner.add_outputs(list(value.outputs))
        return ("graph", inner.hexdigest())
    head = (type(value).__module__, type(value).__qualname__)
    if isinstance(value, Op) and isinstance(getattr(type(value), "__props__", None), tuple):
        return (*head, tuple((p, _describe(getattr(value, p), depth + 1)) for p in type(value).__props__))
    if isinstance(getattr(value, "fgraph", None), FunctionGraph):  # composite scalar operations
        return (*head, _describe(value.fgraph, depth + 1))
    if isinstance(value, types.MethodType):
        return ("method", _describe(value.__func__, depth + 1), _describe(value.__self__, depth + 1))
    if isinstance(value, functools.partial):
        return ("partial", _describe((value.func, value.args, value.keywords), depth + 1))
    text = repr(value)
    text = "" if " at 0x" in text else text
    attributes = getattr(value, "__dict__", None)
    if attributes is not None:
        return (*head, text, _describe({k: v for k, v in attributes.items() if not k.startswith("_")}, depth + 1))
    if not text:
        raise StructureError(f"cannot describe {value!r} reproducibly")
    return (*head, text)
