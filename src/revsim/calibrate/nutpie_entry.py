"""The C entry points nutpie calls to evaluate a model, generated per model structure and cached by numba.

nutpie samples a PyMC model through two C functions: the log density with its gradient, and the expansion
of a point into every variable of the trace. nutpie's own wrappers capture the model's data as constants
of the compiled code, which numba cannot cache; the wrappers generated here read the data through the
pointer nutpie passes along (``user_data``: for each data array its address and shape), so their compiled
code depends on the structure alone and numba caches it on disk beside the generated source. The data
are swapped without compiling anything (:func:`bind`). A log density split into parts
(:mod:`revsim.calibrate.logp_parts`) has an entry point per part, compiled in processes of their own, and
one that adds them. The expansion copies the point (the unconstrained parameters): the trace's other
variables are computed after sampling, for all draws at once (:mod:`revsim.calibrate.expansion`).

This module knows nutpie's internal model class (``nutpie.compile_pymc.CompiledPyMCModel``); the versions
of nutpie and numba are part of the cache key, and any failure here makes the calibration fall back to
``nutpie.compile_pymc_model``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import math
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["wrapper_source", "entry_names", "part_index", "graph_function", "load_entry_points", "EntryPoints", "bind",
           "address_as_pointer", "call_log_density", "llvm_lock_events_off", "PROGRESS_TEMPLATE"]

#: What nutpie's progress callback receives: finished and total draws (tuning included).
PROGRESS_TEMPLATE = "{{ total_finished_draws }} {{ total_draws }}"

try:  # numba is a dependency of revsim; the intrinsics are defined once, at import
    from llvmlite import ir as llvm_ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def address_as_pointer(typingctx: Any, address: Any) -> Any:
        """A ``void *`` from an integer address (inside numba code)."""
        signature = types.voidptr(address)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return builder.inttoptr(args[0], cgutils.voidptr_t)

        return signature, codegen

    @intrinsic
    def call_log_density(typingctx: Any, address: Any, dim: Any, x: Any, grad: Any, value: Any,
                         user_data: Any) -> Any:
        """Call the C function at ``address`` with nutpie's log density signature (inside numba code).

        The function is called through its address, not linked into the caller: the caller's compiled code
        holds none of it. Pointers may be given as pointers or as integer addresses.
        """
        signature = types.int64(address, dim, x, grad, value, user_data)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            double_p = llvm_ir.DoubleType().as_pointer()
            wanted = [llvm_ir.IntType(64), double_p, double_p, double_p, cgutils.voidptr_t]
            function_type = llvm_ir.FunctionType(llvm_ir.IntType(64), wanted)
            function = builder.inttoptr(args[0], function_type.as_pointer())
            converted = []
            for argument, kind, target in zip(args[1:], sig.args[1:], wanted, strict=True):
                if isinstance(target, llvm_ir.IntType):
                    converted.append(context.cast(builder, argument, kind, types.uint64))
                elif isinstance(kind, types.Integer):
                    converted.append(builder.inttoptr(argument, target))
                else:
                    converted.append(builder.bitcast(argument, target))
            return builder.call(function, converted)

        return signature, codegen
except ImportError:  # pragma: no cover
    address_as_pointer = call_log_density = None


def _data_statements(layout: list[tuple[str, str, int]], start: int) -> tuple[list[str], int]:
    """A statement reading each data array from ``meta`` (address, then shape; the first at ``start``) into
    ``data_<k>``, and ``meta``'s length."""
    statements, offset = [], start
    for k, (_, dtype, ndim) in enumerate(layout):
        shape = ", ".join(f"meta[{offset + 1 + j}]" for j in range(ndim))
        shape = f"({shape},)" if ndim == 1 else f"({shape})"
        statements.append(f"data_{k} = numba.carray(address_as_pointer(meta[{offset}]), {shape}, "
                          f"np.{np.dtype(dtype).type.__name__})")
        offset += 1 + ndim
    return statements, max(offset, 1)


def part_index(name: str) -> int:
    """The part of the log density the entry point ``name`` computes (``logp`` of a whole log density: 0)."""
    return 0 if name == "logp" else int(name.rsplit("_", 1)[1])


def entry_names(parts: int) -> list[str]:
    """The functions of the generated module compiled as C entry points, in the order they are compiled:
    the log density's parts (the log density itself when there is one part), the expansion, then the sum of
    the parts."""
    if parts == 1:
        return ["logp", "expand"]
    return [f"logp_part_{k}" for k in range(parts)] + ["expand", "logp"]


def _calls_a_graph(name: str, parts: int) -> bool:
    """Whether the entry point ``name`` calls a graph's function (a part of the log density), or is code of
    its own (the expansion's copy, the sum of the parts), compiled last in the calibration's process."""
    return name != "expand" and not (parts > 1 and name == "logp")


def wrapper_source(key: str, n_dim: int, layout: list[tuple[str, str, int]],
                   parameters: list[list[tuple[int, tuple[int, ...]]]], part_data: list[list[int]] | None = None
                   ) -> str:
    """Python source of the C entry points for a structure (``layout``: name, dtype, ndim of each data).

    Each part of the log density (:mod:`revsim.calibrate.logp_parts`; ``parameters`` has one item per part)
    has an entry point that reads the parameters its graph takes (``parameters[k]``: each one's offset in
    the point and its shape) as arrays viewing the point, and the data arrays its graph uses (``part_data[k]``,
    positions in ``layout``; all of them by default) from ``meta``, then calls the part's graph function,
    PyTensor's numba function of the rewritten graph, inside a ``try`` holding that one call (numba's
    analysis of a ``try`` block grows fast with the statements inside it), and copies the gradient of each
    parameter to its place in the output (0 for the parameters of other parts). The graph neither slices
    the point nor joins the gradients: those operations would be compiled in every part. The graph's
    function is called directly, not through PyTensor's compiled-function wrapper or a function of our own:
    numba optimises and generates the machine code of every function again at each level that links it, so
    each level between the graph and the entry point cost as much as compiling the graph's top level once
    more. With several parts, ``logp`` calls each part's entry point through its
    address (the first items of ``meta``) and adds them: the parts are compiled apart, each once, in
    processes of their own. The expansion copies the point: nutpie keeps the unconstrained parameters,
    from which :mod:`revsim.calibrate.expansion` computes the other variables.
    """
    parts = len(parameters)
    start = parts if parts > 1 else 0
    statements, n_meta = _data_statements(layout, start)
    if part_data is None:
        part_data = [list(range(len(layout)))] * parts
    if len(part_data) != parts:
        raise ValueError(f"part_data lists the data of {len(part_data)} parts, for {parts} parts")
    inner = "".join(f"\nlogp_inner_{k} = None  # the numba function of part {k}'s graph, set before compiling"
                    for k in range(parts))
    log_densities = "".join(
        _part_source("logp" if parts == 1 else f"logp_part_{k}", f"logp_inner_{k}",
                     _reading(_parameter_statements(taken) + [statements[i] for i in used],
                              [f"parameter_{j}" for j in range(len(taken))] + [f"data_{i}" for i in used]),
                     taken, n_dim)
        for k, (taken, used) in enumerate(zip(parameters, part_data, strict=True)))
    total = _total_source() if parts > 1 else ""
    return f'''"""Generated by revsim for the model structure {key}: the entry points nutpie calls. Do not edit."""

import numba
import numpy as np

from revsim.calibrate.nutpie_entry import address_as_pointer, call_log_density

N_DIM = {n_dim}
N_META = {n_meta}
N_PARTS = {parts}{inner}
{log_densities}{total}

def expand(dim, expanded, x_, out_, user_data_):
    if dim != N_DIM or expanded != N_DIM:
        return -1
    x = numba.carray(x_, (N_DIM,))
    out = numba.carray(out_, (N_DIM,))
    for i in range(N_DIM):
        out[i] = x[i]
    return 0
'''


def _parameter_statements(parameters: list[tuple[int, tuple[int, ...]]]) -> list[str]:
    """A statement per parameter making ``parameter_<j>``, the array of its shape viewing its slice of the point."""
    return [f"parameter_{j} = numba.carray(address_as_pointer(x.ctypes.data + {8 * offset}), {shape!r}, np.float64)"
            for j, (offset, shape) in enumerate(parameters)]


def _reading(statements: list[str], names: list[str]) -> str:
    """The statements of an entry point that read its parameters and data, then gather the graph's arguments."""
    # the call's arguments as one tuple, built before the ``try``: Python compiles a call or a tuple of more
    # than 30 items into bytecode that numba cannot analyse inside a ``try`` block
    return "".join(f"\n    {s}" for s in statements) + f"\n    arguments = ({''.join(n + ', ' for n in names)})"


def _gradient_copies(parameters: list[tuple[int, tuple[int, ...]]]) -> str:
    """Statements checking the length of each parameter's flattened gradient (``grad_<j>``) and copying it to
    the parameter's place in ``out``."""
    lines = []
    for j, (offset, shape) in enumerate(parameters):
        size = math.prod(shape)
        lines += [f"if grad_{j}.shape[0] != {size}:", "    return 5",
                  f"for i in range({size}):", f"    out[{offset} + i] = grad_{j}[i]"]
    return "".join(f"\n    {line}" for line in lines)


def _part_source(name: str, inner: str, reading: str, parameters: list[tuple[int, tuple[int, ...]]],
                 n_dim: int) -> str:
    """An entry point computing one part of the log density and its gradient with the graph ``inner``, a
    function of ``parameters`` (offset in the point, shape) and data returning the value and each parameter's
    gradient."""
    grads = "".join(f"grad_{j}, " for j in range(len(parameters)))
    size = sum(math.prod(shape) for _, shape in parameters)
    zeros = "" if size == n_dim else "\n    for i in range(N_DIM):\n        out[i] = 0.0"
    return f'''

def {name}(dim, x_, out_, logp_, user_data_):
    if dim != N_DIM:
        return -1
    meta = numba.carray(user_data_, (N_META,), np.int64)
    x = numba.carray(x_, (N_DIM,))
    out = numba.carray(out_, (N_DIM,))
    result = numba.carray(logp_, ()){reading}
    try:
        value, {grads}= {inner}(*arguments)
    except Exception:
        return 1{zeros}{_gradient_copies(parameters)}
    result[()] = value
    finite = True
    for i in range(N_DIM):
        if not np.isfinite(out[i]):
            finite = False
    if not finite:
        return 3
    if not np.isfinite(result[()]):
        return 4
    return 0
'''


def _total_source() -> str:
    """The entry point nutpie calls when the log density has parts: their sum, part after part."""
    return '''

def logp(dim, x_, out_, logp_, user_data_):
    if dim != N_DIM:
        return -1
    meta = numba.carray(user_data_, (N_META,), np.int64)
    out = numba.carray(out_, (N_DIM,))
    result = numba.carray(logp_, ())
    status = call_log_density(meta[0], dim, x_, out_, logp_, user_data_)
    if status != 0:
        return status
    value = result[()]
    part = np.empty(N_DIM + 1)
    for k in range(1, N_PARTS):
        status = call_log_density(meta[k], dim, x_, part.ctypes.data, part.ctypes.data + 8 * N_DIM, user_data_)
        if status != 0:
            return status
        value += part[N_DIM]
        for i in range(N_DIM):
            out[i] += part[i]
    result[()] = value
    for i in range(N_DIM):
        if not np.isfinite(out[i]):
            return 3
    if not np.isfinite(value):
        return 4
    return 0
'''


def graph_function(function: Any) -> Any:
    """The numba function of a compiled PyTensor function's graph, which the entry points call.

    PyTensor's numba linker wraps the graph's function (``jitable_func``) in a function that numba can
    cache and compiles that wrapper again to be callable from Python; the entry points call the graph's
    function itself, so that numba compiles the graph's top level once for them rather than once per
    wrapper. When PyTensor cannot cache the graph (no wrapper), ``function`` is returned as it is.
    ``function`` is PyTensor's callable (``vm.jit_fn``) or the converted graph of
    :func:`pytensor.link.numba.dispatch.basic.numba_funcify_ensure_cache`.
    """
    inner = getattr(getattr(function, "py_func", None), "__globals__", {}).get("jitable_func")
    return inner if hasattr(inner, "py_func") else function


@dataclasses.dataclass
class EntryPoints:
    """The compiled C entry points of one structure.

    ``logp`` is the function nutpie calls; when the log density has several parts, ``parts`` holds their
    entry points, which ``logp`` calls through the addresses :func:`user_data` puts first in ``meta``.
    """

    logp: Any
    expand: Any
    parts: list[Any]
    cached: bool


def load_entry_points(path: Path, inner: Callable[[str], Any], *, parts: int = 1,
                      parallel: bool = False) -> EntryPoints:
    """Import the generated module at ``path`` and load its entry points from numba's cache, or compile them.

    ``inner(name)`` returns the numba function of the graph the entry point ``name`` calls (``logp`` when the
    log density is whole, ``logp_part_<k>``); it is called only when numba's cache lacks that
    entry point (the cached code already holds it), in the process that compiles it. ``cached`` in the result
    says whether numba could cache them.

    With ``parallel``, when several entry points are to be compiled (a new structure), each but the first is
    compiled into numba's cache by a forked child while this process compiles the first (and the entry points
    that call no graph), then this process loads them from the cache (or compiles one itself, when its child
    failed or numba could not cache it): the same code, compiled on several cores
    (:func:`revsim.calibrate.forked_child.fork_child`).
    """
    global _FROM_CHILD
    import numba
    from numba.core import utils as numba_utils
    from numba.core.ccallback import CFunc
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.sigutils import normalize_signature

    from revsim.calibrate.forked_child import fork_child, stop_child, wait_child

    # numba gives functions compiled from generated source (PyTensor's) the globals of its placeholder
    # module "<dynamic>", and rebuilds them from cache with importlib.import_module("<dynamic>"), which fails
    # unless the placeholder is importable: make it so (the same module object, hence the same globals)
    sys.modules.setdefault(numba_utils._dynamic_modname, numba_utils._dynamic_module)
    name = "revsim_entry_" + re.sub(r"\W", "_", path.parent.name)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    types = numba.types
    log_density = types.int64(types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                              types.CPointer(types.double), types.voidptr)
    expansion = types.int64(types.uint64, types.uint64, types.CPointer(types.double),
                            types.CPointer(types.double), types.voidptr)
    names = entry_names(parts)
    own = [name for name in names if not _calls_a_graph(name, parts)]  # no graph: compiled last, here
    entries: dict[str, Any] = {}
    with global_compiler_lock, warnings.catch_warnings(record=True) as caught, llvm_lock_events_off():
        warnings.simplefilter("always", numba.NumbaWarning)
        made = {}
        for function in names:
            # what numba's cfunc(cache=True) does, with the inner functions made only when compiling
            signature = expansion if function == "expand" else log_density
            entry = CFunc(getattr(module, function), normalize_signature(signature), locals={}, options={})
            entry.enable_caching()
            made[function] = entry
        found = {name: entry._cache.load_overload(entry._sig, entry._targetdescr.target_context)
                 for name, entry in made.items()}
        pending = [function for function in names if function not in own and found[function] is None]
        children = {}
        if parallel and len(pending) > 1:
            for function in pending[1:]:
                pid = fork_child(lambda function=function: _compile_entry(made[function], module, inner, function))
                if pid is not None:  # no fork here (or it failed): this process compiles it
                    children[function] = pid
        try:
            # what this process compiles first, then what the children compiled (waiting for them last)
            for function, entry in sorted(made.items(), key=lambda item: item[0] in children):
                result = found[function]
                if result is None and function in children:
                    succeeded = wait_child(children.pop(function))
                    if succeeded:
                        result = entry._cache.load_overload(entry._sig, entry._targetdescr.target_context)
                    if result is not None:
                        _FROM_CHILD += 1
                if result is None:
                    result = _compile_entry(entry, module, inner if function not in own else None, function)
                entry._library = result.library
                entry._wrapper_name = result.fndesc.llvm_cfunc_wrapper_name
                entry._wrapper_address = entry._library.get_pointer_to_function(entry._wrapper_name)
                entries[function] = entry
        finally:
            for child in children.values():  # this process failed first: their work is not needed
                stop_child(child)
        cached = not any("Cannot cache" in str(w.message) for w in caught)
    return EntryPoints(logp=entries["logp"], expand=entries["expand"],
                       parts=[entries[f"logp_part_{k}"] for k in range(parts)] if parts > 1 else [], cached=cached)


_FROM_CHILD = 0


@contextlib.contextmanager
def llvm_lock_events_off() -> Iterator[None]:
    """No numba event for every call into LLVM while the entry points compile.

    numba registers callbacks on llvmlite's lock that announce each of the tens of thousands of calls into
    LLVM a compilation makes as two events, to every listener of its compile-time statistics (one per
    function being compiled, nested): about a tenth of the CPU time of compiling a model's log density, for
    statistics nobody reads here. The callbacks are set aside while compiling and put back afterwards (a
    forked child compiles without them too). Where llvmlite keeps its callbacks elsewhere, nothing changes.
    """
    from llvmlite.binding import ffi

    callbacks = getattr(getattr(getattr(ffi, "lib", None), "_lock", None), "_cblist", None)
    if not isinstance(callbacks, list):  # pragma: no cover - another llvmlite
        yield
        return
    kept = list(callbacks)
    callbacks.clear()
    try:
        yield
    finally:
        callbacks[:] = kept


#: LLVM's optimisation level for a graph's function and the operations it calls (numba's default is 3).
GRAPH_OPTIMISATION = 1


def compile_graph(function: Any, arguments: list[tuple[str, int]]) -> None:
    """Compile a part's graph function for the arguments its entry point passes, optimised at -O1.

    ``arguments`` are the (dtype, ndim) of the arrays passed: the part's parameters, then its data. The graph's
    own machine code would never run: its entry point links the graph's code (and, through it, every
    operation's) and LLVM optimises the linked whole at numba's level (-O3) before generating the code nutpie
    calls. Compiled inside :func:`revsim.calibrate.link_only.linked_into` (as :func:`_compile_entry` does),
    the graph and its operations get no machine code nor module passes of their own, and LLVM's per-function
    passes run on them at :data:`GRAPH_OPTIMISATION` (before the link-only libraries, that level saved a fifth
    of the CPU on the worked example at the same cost per evaluation; with them, level 0 compiled no faster and
    an evaluation took twice as long, 115 us against 60). With IEEE arithmetic (no fast-math) no level changes
    a result: the values and gradients are the same bits. Compiled first, for the exact argument types, the
    graph is not compiled again (at -O3) when the entry point is.

    revsim's own kernels (the funnel's and retention's likelihoods), when they are compiled here, keep
    numba's level (``NUMBA_OPT``, 3 by default): they are cached on their own and also called from Python
    (an operation's ``perform``).
    """
    from numba import from_dtype, types
    from numba.core import config, event

    if not hasattr(function, "compile"):  # pragma: no cover - not a numba function: the entry point compiles it
        return
    signature = tuple(types.Array(from_dtype(np.dtype(dtype)), ndim, "C") for dtype, ndim in arguments)
    kernels = _revsim_functions_at(int(config.OPT))
    with numba_optimisation(GRAPH_OPTIMISATION), event.install_listener("numba:compile", kernels):
        function.compile(signature)


@contextlib.contextmanager
def numba_optimisation(level: int) -> Iterator[None]:
    """numba's LLVM optimisation level (``NUMBA_OPT``) set to ``level`` inside the block, restored after.

    numba reads the level each time it builds LLVM's passes; the machine-code generator keeps the level
    numba started with.
    """
    from numba.core import config

    before = config.OPT
    config.OPT = type(before)(level)
    try:
        yield
    finally:
        config.OPT = before


def _revsim_functions_at(level: int) -> Any:
    """A listener of numba's compile events: a function of a ``revsim`` module compiles at ``level``, with
    what it calls; the level in force comes back when its compilation ends."""
    from numba.core import config, event

    class Listener(event.Listener):
        def __init__(self) -> None:
            self.levels: list[Any] = []

        def on_start(self, ev: Any) -> None:
            self.levels.append(config.OPT)
            module = getattr(getattr(ev.data.get("dispatcher"), "py_func", None), "__module__", None) or ""
            if module == "revsim" or module.startswith("revsim."):
                config.OPT = type(config.OPT)(level)

        def on_end(self, ev: Any) -> None:
            config.OPT = self.levels.pop()

    return Listener()


def compiled_by_a_child() -> int:
    """How many entry points this process loaded from a child's compilation (tests count them)."""
    return _FROM_CHILD


def _compile_entry(entry: Any, module: Any, inner: Callable[[str], Any] | None, name: str) -> Any:
    """Compile the entry point ``name`` (and the graph function it calls) and save it in numba's cache.

    ``inner(name)`` makes the graph's function when the module does not hold it yet (None: the entry point
    calls no graph). The functions the entry point calls are linked into it and optimised and generated there
    only (:mod:`revsim.calibrate.link_only`).
    """
    from revsim.calibrate.link_only import linked_into

    with linked_into(entry._pyfunc):
        if inner is not None:
            attribute = f"logp_inner_{part_index(name)}"
            if getattr(module, attribute) is None:
                setattr(module, attribute, inner(name))
        result = entry._compile_uncached()
    entry._cache.save_overload(entry._sig, result)
    return result


def user_data(arrays: list[np.ndarray], part_addresses: list[int] | None = None) -> np.ndarray:
    """The ``meta`` array the entry points read: the addresses of the log density's parts (when it has
    several), then for each data array its address and its shape."""
    meta: list[int] = [int(address) for address in part_addresses or []]
    for array in arrays:
        meta.append(array.ctypes.data)
        meta.extend(int(n) for n in array.shape)
    return np.asarray(meta or [0], dtype=np.int64)


def bind(entry: Any, structure: Any, *, progress: Callable[[int, int], None] | None = None) -> Any:
    """A nutpie model sampling ``entry`` (compiled for ``structure.key``) on ``structure``'s data.

    nutpie's trace holds the unconstrained parameters; :meth:`expand_posterior` adds the other variables.
    """
    from nutpie.compile_pymc import CompiledPyMCModel

    from revsim.calibrate.expansion import Expansion

    cls = _model_class(CompiledPyMCModel)
    arrays = [np.array(a, order="C") for a in structure.data]  # copies (0-d stays 0-d): nutpie's own
    for array in arrays:
        array.flags.writeable = False
    names, shapes, slices = list(structure.value_names), list(structure.value_shapes), structure.value_slices
    initial = _flat_initial_point(structure.initial_point, structure.value_names, structure.value_shapes)
    dims, coords = _dims_and_coords(structure.model, structure.value_names, structure.value_shapes)
    return cls(
        dims=dims, compiled_logp_func=entry.logp, compiled_expand_func=entry.expand, initial_point_func=initial,
        shared_data=dict(zip(structure.data_names, arrays, strict=True)),
        user_data=user_data(arrays, entry.part_addresses),
        n_expanded=structure.n_dim, shape_info=(names, slices, shapes), logp_func=entry.logp_inner,
        expand_func=None, _n_dim=structure.n_dim, _shapes=dict(zip(names, shapes, strict=True)),
        _coords=coords, entry=entry, progress_callback=progress, expansion=Expansion(structure))


_CLASS: Any = None


def _model_class(base: Any) -> Any:
    """nutpie's model class, with data swapped by name and progress reported to a callback."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS

    @dataclasses.dataclass(frozen=True)
    class CachedPyMCModel(base):  # type: ignore[misc, valid-type]
        entry: Any = None
        progress_callback: Any = None
        expansion: Any = None

        def expand_posterior(self, posterior: Any) -> Any:
            """nutpie's posterior (the unconstrained parameters) with every other variable of the model."""
            from revsim.calibrate.expansion import expand_posterior

            return expand_posterior(posterior, self.expansion, self.shared_data, self.dims, self._coords)

        def with_data(self, **updates: Any) -> Any:
            """The same compiled model on other data arrays (same dtype, rank and broadcastable dimensions)."""
            arrays = dict(self.shared_data)
            for name, value in updates.items():
                if name not in arrays:
                    raise KeyError(f"unknown data variable: {name}")
                old = arrays[name]
                new = np.array(value, dtype=old.dtype, order="C")
                if new.ndim != old.ndim or any((a == 1) != (b == 1) for a, b in zip(old.shape, new.shape,
                                                                                      strict=True)):
                    raise ValueError(f"data variable {name} must have {old.ndim} dimensions, of length 1 where "
                                     f"{old.shape} has them; got {new.shape}")
                new.flags.writeable = False
                arrays[name] = new
            return dataclasses.replace(self, shared_data=arrays,
                                       user_data=user_data(list(arrays.values()), self.entry.part_addresses))

        def with_progress(self, callback: Any) -> Any:
            return dataclasses.replace(self, progress_callback=callback)

        def _make_sampler(self, settings: Any, init_mean: Any, cores: Any, progress_type: Any, store: Any) -> Any:
            if self.progress_callback is not None:
                from nutpie import _lib

                callback = self.progress_callback

                def report(text: str) -> None:
                    try:
                        done, total = (int(x) for x in text.split())
                    except ValueError:  # not the template's output: nothing to show
                        return
                    callback(done, total)

                progress_type = _lib.ProgressType.template_callback(200, PROGRESS_TEMPLATE, cores, report)
            return super()._make_sampler(settings, init_mean, cores, progress_type, store)

    _CLASS = CachedPyMCModel
    return _CLASS


def _flat_initial_point(function: Callable[[Any], dict[str, np.ndarray]], names: list[str],
                        shapes: list[tuple[int, ...]]) -> Callable[[Any], np.ndarray]:
    """nutpie's start: one flat array of the unconstrained parameters (calls are serialised)."""
    import threading

    lock = threading.Lock()
    size = sum(math.prod(s) for s in shapes)

    def initial_point(seed: Any = None) -> np.ndarray:
        with lock:
            point = function(seed)
        flat = np.empty(size, dtype=np.float64)
        start = 0
        for name, shape in zip(names, shapes, strict=True):
            value = np.asarray(point[name], dtype=np.float64)
            if value.shape != tuple(shape):
                raise ValueError(f"initial value of {name} has shape {value.shape}, expected {shape}")
            flat[start:start + value.size] = value.ravel()
            start += value.size
        return flat

    return initial_point


def _dims_and_coords(model: Any, value_names: list[str], value_shapes: list[tuple[int, ...]]
                     ) -> tuple[dict[str, tuple[str, ...]], dict[str, Any]]:
    """The trace's dimensions and coordinates, as nutpie gives them (with the unconstrained parameters')."""
    import itertools

    import pandas as pd

    coords = {}
    for name, values in model.coords.items():
        if values is None:
            values = pd.RangeIndex(int(model.dim_lengths[name].eval()))
        coords[name] = pd.Index(values)
    labels = []
    for name, shape in zip(value_names, value_shapes, strict=True):
        for index in itertools.product(*[range(n) for n in shape]):
            labels.append(f"{name}_{'.'.join(str(i) for i in index)}" if index else name)
    coords["unconstrained_parameter"] = pd.Index(labels)
    return dict(model.named_vars_to_dims), coords
