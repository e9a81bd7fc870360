"""Functions an entry point calls, linked into it without machine code of their own
(revsim.calibrate.link_only)."""

from __future__ import annotations

import ctypes
import math

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from numba.core import cpu, typed_passes  # noqa: E402

from revsim.calibrate.link_only import is_link_only, linked_into  # noqa: E402

SIGNATURE = numba.types.float64(numba.types.float64)


def make_functions() -> tuple[object, object, object]:
    """A C entry point calling ``outer`` (no Python wrapper, as PyTensor compiles its operations), which calls
    ``inner`` (a plain numba function, callable from Python); new dispatchers every time, so nothing comes
    compiled."""

    @numba.njit(no_cpython_wrapper=True, no_cfunc_wrapper=True)
    def outer(x: float) -> float:
        return inner(x) * 3.0 + math.log1p(x)

    @numba.njit
    def inner(x: float) -> float:
        return math.exp(-x) + x * x

    def entry(x: float) -> float:
        return outer(x) - 1.0

    return entry, outer, inner


def expected(x: float) -> float:
    return (math.exp(-x) + x * x) * 3.0 + math.log1p(x) - 1.0


def library_of(dispatcher: object) -> object:
    (result,) = dispatcher.overloads.values()
    return result.library


def compile_entry(entry: object) -> object:
    return numba.cfunc(SIGNATURE)(entry)  # compiled now


def test_callees_are_linked_into_the_entry_point_without_machine_code_of_their_own() -> None:
    entry, outer, inner = make_functions()
    with linked_into(entry) as active:
        compiled = compile_entry(entry)
    assert active
    # outer (no Python wrapper) was neither optimised as a module nor turned into machine code: the entry point
    # holds its code; inner, callable from Python, was finalised as numba does (it needs its Python entry)
    assert is_link_only(library_of(outer)) and not is_link_only(library_of(inner))
    assert not is_link_only(compiled._library)
    function = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(compiled.address)
    for x in (0.0, 0.5, 3.25):
        assert function(x) == pytest.approx(expected(x), rel=1e-14)


def test_the_same_bits_as_numba_compiling_every_function_on_its_own() -> None:
    values = []
    for linked in (False, True):
        entry, _, _ = make_functions()
        if linked:
            with linked_into(entry):
                compiled = compile_entry(entry)
        else:
            compiled = compile_entry(entry)
        function = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(compiled.address)
        values.append(np.array([function(x) for x in np.linspace(0.0, 7.0, 29)]))
    assert np.array_equal(values[0], values[1])


def test_a_callee_gets_its_machine_code_when_python_calls_it_or_numba_saves_it() -> None:
    entry, outer, inner = make_functions()
    with linked_into(entry):
        compile_entry(entry)
    # inner has a Python wrapper: numba asked for its address when compiling it, so it was finalised then
    assert inner(0.75) == pytest.approx(math.exp(-0.75) + 0.75 * 0.75, rel=1e-14)
    library = library_of(outer)
    assert is_link_only(library)
    name, kind, _ = library.serialize_using_object_code()  # what numba's cache saves: the machine code
    assert kind == "object" and not is_link_only(library)


def test_numba_is_restored_after_the_block_and_other_compilations_are_left_alone() -> None:
    run_pass, get_executable = typed_passes.BaseNativeLowering.run_pass, cpu.CPUContext.get_executable
    entry, outer, _ = make_functions()
    with linked_into(entry):
        assert typed_passes.BaseNativeLowering.run_pass is not run_pass
    assert typed_passes.BaseNativeLowering.run_pass is run_pass and cpu.CPUContext.get_executable is get_executable
    other, other_outer, other_inner = make_functions()
    compile_entry(other)  # outside the block: numba as usual
    assert not is_link_only(library_of(other_outer)) and not is_link_only(library_of(other_inner))


def test_revsim_kernels_keep_their_own_machine_code() -> None:
    from revsim.calibrate import link_only

    class FunctionId:
        def __init__(self, module: str) -> None:
            self.func, self.modname = None, module

    class State:
        def __init__(self, module: str) -> None:
            self.func_id = FunctionId(module)

    def entry() -> None:
        pass

    assert not link_only._calls_into(State("revsim.calibrate.conversion_kernel"), entry)
    assert link_only._calls_into(State("pytensor.link.numba.dispatch.elemwise"), entry)
    state = State("revsim_entry_abc")
    state.func_id.func = entry
    assert not link_only._calls_into(state, entry)


CACHED_MODULE = '''
import math
import numba


@numba.njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def operation(x):
    return math.sqrt(x + 1.0) * 2.0
'''


def test_an_operation_repeated_in_the_graph_is_compiled_once_and_kept_in_memory(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """PyTensor caches each operation's function; a graph holds the same operation several times. Inside the
    block the second is read from memory, as numba would have read it from disk, and nothing is written."""
    import importlib.util

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "repeated_operation.py").write_text(CACHED_MODULE)
    copies = []
    for k in range(2):  # two dispatchers of one cached function: the same key in numba's cache
        spec = importlib.util.spec_from_file_location(f"repeated_operation_{k}", tmp_path / "repeated_operation.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        copies.append(module.operation)
    first, second = copies

    def entry(x: float) -> float:
        return first(x) + second(x)

    with linked_into(entry):
        compiled = compile_entry(entry)
    assert sum(first._cache_hits.values()) == 0 and sum(second._cache_hits.values()) == 1
    assert is_link_only(library_of(second))
    assert not list(tmp_path.rglob("*.nbi")) and not list(tmp_path.rglob("*.nbc"))  # nothing written
    function = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(compiled.address)
    assert function(3.0) == 2.0 * (math.sqrt(4.0) * 2.0)
