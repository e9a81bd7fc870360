"""numba implementations of PyTensor's ``Alloc``, ``SpecifyShape`` and ``Split`` that compile without string
formatting.

PyTensor's own implementations report a wrong shape with a message naming the shapes (an f-string in
``SpecifyShape`` and ``Split``, numba's broadcasting assignment ``res[...] = val`` in ``Alloc``), and numba
compiles that formatting (``str`` of integers and tuples, string concatenation) into each operation, once for
every tuple length: on the worked example, about 2 s of CPU of each part's compilation went to error messages
no calibration shows. These implementations check the same conditions and raise with a fixed message, and
fill an ``Alloc`` with explicit loops. They compute the same arrays (a copy, the input itself, its views: no
arithmetic).

:func:`register` makes PyTensor's numba backend use them; their compiled code is cached under keys of their
own (the generated source and :data:`IMPLEMENTATION`), never mixed with PyTensor's.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Any

__all__ = ["IMPLEMENTATION", "SPLIT_SOURCE", "alloc_source", "alloc_written", "register", "specify_shape_source"]

#: Changes whenever the generated code does, so that numba's cache never serves an older version.
IMPLEMENTATION = "revsim-shape-ops-1"

_registered = False

#: ``split(x, axis, sizes)``: the views of ``x`` along ``axis`` of the given sizes, as PyTensor's own.
SPLIT_SOURCE = """def split(x, axis, sizes):
    if (sizes < 0).any():
        raise ValueError('Split: a size is negative')
    axis = axis.item()
    split_indices = np.cumsum(sizes)
    if split_indices[-1] != x.shape[axis]:
        raise ValueError('Split: the sizes do not add up to the length of the axis')
    return np.split(x, split_indices[:-1], axis=axis)
"""


def alloc_written(value_ndim: int, shape_count: int) -> bool:
    """Whether :func:`alloc_source` writes an ``Alloc`` of a ``value_ndim``-dimensional value into ``shape_count``
    dimensions (at least one, and no fewer than the value's); PyTensor's own compiles the others."""
    return 1 <= shape_count and value_ndim <= shape_count


def alloc_source(value_ndim: int, shape_count: int, value_static: tuple[int | None, ...], dtype: str) -> str:
    """The source of ``alloc(val, sh0, ...)``: an array of shape ``(sh0, ...)`` filled with ``val`` broadcast.

    ``val`` has ``value_ndim`` dimensions (at most ``shape_count``, which is at least 1), aligned on the
    output's last ones, with the static shape ``value_static`` (None where unknown). A dimension of ``val``
    must be the output's, or 1 statically (PyTensor broadcasts no dimension at run time); else it raises.
    """
    if not alloc_written(value_ndim, shape_count):
        raise ValueError(f"an Alloc of {value_ndim} dimension(s) into {shape_count}: PyTensor's own compiles it")
    offset = shape_count - value_ndim
    lines = [f"def alloc(val, {', '.join(f'sh{d}' for d in range(shape_count))}):"]
    lines += [f"    n{d} = sh{d}.item()" for d in range(shape_count)]
    for j, static in enumerate(value_static):
        if static != 1:
            lines.append(f"    if val.shape[{j}] != n{offset + j}:")
            lines.append("        raise ValueError('Alloc: the value does not fit the shape (PyTensor broadcasts "
                         "no dimension at run time)')")
    shape = ", ".join(f"n{d}" for d in range(shape_count)) + ("," if shape_count == 1 else "")
    lines.append(f"    res = np.empty(({shape}), dtype=np.{dtype})")
    if value_ndim == 0:
        lines.append("    v = val.item()")
        value = "v"
    else:
        value = "val[" + ", ".join("0" if static == 1 else f"i{offset + j}"
                                   for j, static in enumerate(value_static)) + "]"
    indent = "    "
    for d in range(shape_count):
        lines.append(f"{indent}for i{d} in range(n{d}):")
        indent += "    "
    lines.append(f"{indent}res[{', '.join(f'i{d}' for d in range(shape_count))}] = {value}")
    lines.append("    return res")
    return "\n".join(lines) + "\n"


def specify_shape_source(specified: list[bool]) -> str:
    """The source of ``specify_shape(x, shape_0, ...)``: ``x`` itself, after checking each specified dimension."""
    names = [f"shape_{i}" for i in range(len(specified))]
    lines = [f"def specify_shape(x{''.join(', ' + name for name in names)}):"]
    for i, (name, given) in enumerate(zip(names, specified, strict=True)):
        if given:
            lines.append(f"    if x.shape[{i}] != {name}.item():")
            lines.append("        raise AssertionError('SpecifyShape: the input does not have the specified shape')")
    lines.append("    return x")
    return "\n".join(lines) + "\n"


def _key(source: str) -> str:
    return sha256(f"{IMPLEMENTATION}\n{source}".encode()).hexdigest()


def register() -> None:
    """Make PyTensor's numba backend compile ``Alloc``, ``SpecifyShape`` and ``Split`` with these versions
    (idempotent)."""
    global _registered
    if _registered:
        return
    import numpy as np
    from pytensor.link.numba.cache import compile_numba_function_src
    from pytensor.link.numba.dispatch import basic as numba_basic
    from pytensor.tensor.basic import Alloc, Split
    from pytensor.tensor.shape import SpecifyShape
    from pytensor.tensor.type_other import NoneConst

    def compiled(source: str, name: str) -> tuple[Any, str]:
        function = compile_numba_function_src(source, name, {"np": np}, write_to_disk=True)
        # fast-math off, stated, as for revsim's kernels (no arithmetic here, but the flags are part of the key)
        return numba_basic.numba_njit(function, fastmath=False), _key(source)

    pytensor_alloc = numba_basic.numba_funcify_and_cache_key.dispatch(Alloc)

    @numba_basic.register_funcify_and_cache_key(Alloc)
    def numba_funcify_alloc(op: Any, node: Any, **kwargs: Any) -> tuple[Any, str]:
        value, shape_count = node.inputs[0].type, len(node.inputs) - 1
        if not alloc_written(value.ndim, shape_count):  # not in revsim's graphs
            return pytensor_alloc(op, node, **kwargs)
        return compiled(alloc_source(value.ndim, shape_count, value.shape, value.dtype), "alloc")

    @numba_basic.register_funcify_and_cache_key(SpecifyShape)
    def numba_funcify_specify_shape(op: Any, node: Any, **kwargs: Any) -> tuple[Any, str]:
        specified = [dim is not NoneConst for dim in node.inputs[1:]]
        return compiled(specify_shape_source(specified), "specify_shape")

    @numba_basic.register_funcify_and_cache_key(Split)
    def numba_funcify_split(op: Any, node: Any = None, **kwargs: Any) -> tuple[Any, str]:
        return compiled(SPLIT_SOURCE, "split")

    _registered = True
