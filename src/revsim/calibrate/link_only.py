"""Compiling an entry point, the functions it calls are linked into it, and optimised and turned into machine
code there only.

numba compiles each function into a library of its own, which it *finalises* at once: LLVM's module passes,
then machine code. A caller links its callees' optimised modules into its own and finalises the whole again.
An entry point of the log density (:mod:`revsim.calibrate.nutpie_entry`) calls the graph's function, which
calls one function per operation: each operation was optimised and generated three times (its own library,
the graph's, the entry point's), the graph twice, and only the entry point's machine code ever runs (nutpie
calls it; a cached model holds nothing else).

Inside :func:`linked_into`, a library that numba makes for a function the entry point calls is finalised for
linking only: it links its own callees (LLVM's per-function passes have already run on its code), and
neither runs the module passes nor generates machine code. The entry point's library links them all and
runs LLVM's full pipeline once, over the whole. With IEEE arithmetic (no fast-math) the values and gradients
are the same bits. Such a library still works wherever numba needs it: if anything asks for its machine code
(a function with a wrapper callable from Python, a library serialised), it is finalised then, as numba would
have done at once. numba's cache does not write such a function to disk (that needs its machine code): the
entry point's cache entry holds its code. PyTensor's operations are cached functions, and a graph repeats
operations; what the cache would have written and read again for the next operation of the same key is
kept in memory while the block lasts.

On the worked example, compiling the log density's entry points took a fifth less time (cold, every cache
empty: 17.6 and 18.5 s against 23.3 and 23.5 s, interleaved), with the same values and gradients, bit for bit.

Left as numba makes them: the entry point itself, and functions of revsim's modules (the likelihood kernels,
cached on their own by numba and also called from Python).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["linked_into", "is_link_only"]


def linked_into(entry: Callable[..., Any]) -> contextlib.AbstractContextManager[bool]:
    """Inside the block, the functions numba compiles for ``entry`` (a Python function compiled as an entry
    point) are finalised for linking only (see the module docstring).

    Yields whether that is in force: False, and numba unchanged, when this numba lacks what it relies on.
    Inside the block, numba's cache keeps a function left to link only in memory, not on disk; the entry
    point is saved as before, with the code of everything it calls.
    """
    return _linked_into(entry)


def is_link_only(library: Any) -> bool:
    """Whether ``library`` (a numba code library) was finalised for linking only and has no machine code."""
    cls = _link_only_class()
    return cls is not None and isinstance(library, cls) and not library.materialised


@contextlib.contextmanager
def _linked_into(entry: Callable[..., Any]) -> Iterator[bool]:
    patches = _patches(entry)
    if patches is None:
        yield False
        return
    for owner, name, replacement in patches:
        replacement.original = getattr(owner, name)
        setattr(owner, name, replacement)
    try:
        yield True
    finally:
        for owner, name, replacement in reversed(patches):
            setattr(owner, name, replacement.original)


def _patches(entry: Callable[..., Any]) -> list[tuple[Any, str, Any]] | None:
    """The numba methods replaced inside the block, or None when this numba does not have them."""
    try:
        from numba.core import caching, cpu, typed_passes
        from numba.core.codegen import JITCodeLibrary
    except ImportError:  # pragma: no cover
        return None
    cls = _link_only_class()
    if cls is None or not all(hasattr(owner, name) for owner, name in (
            (typed_passes.BaseNativeLowering, "run_pass"), (cpu.CPUContext, "get_executable"),
            (caching.Cache, "load_overload"), (caching.Cache, "save_overload"), (caching.Cache, "_index_key"))):
        return None  # pragma: no cover - another numba

    def run_pass(self: Any, state: Any) -> Any:
        if state.library is None:  # what numba's lowering does first, with the library made link-only
            state.library = state.targetctx.codegen().create_library(state.func_id.func_qualname)
            state.library.enable_object_caching()
        if _calls_into(state, entry) and type(state.library) is JITCodeLibrary:
            state.library.__class__ = cls
        return run_pass.original(self, state)

    def get_executable(self: Any, library: Any, fndesc: Any, env: Any) -> Any:
        if not is_link_only(library) or library.defines(fndesc.llvm_cpython_wrapper_name):
            return get_executable.original(self, library, fndesc, env)
        # no wrapper callable from Python (numba's pointer would be 0): nothing to generate; the environment is
        # set if the library is ever finalised
        from numba import _dynfunc

        library.environment = (self.get_env_name(fndesc), env)
        return _dynfunc.make_function(fndesc.lookup_module(), fndesc.qualname.split(".")[-1],
                                      f"compiled wrapper for {fndesc.qualname!r}", 0, env, (library,))

    # what numba's cache would have saved to disk and loaded again for the next operation of the same key
    # (PyTensor's operations are cached functions, and a graph repeats operations): kept in memory instead
    kept: dict[tuple[str, Any], Any] = {}

    def load_overload(self: Any, signature: Any, target_context: Any) -> Any:
        if getattr(self, "_enabled", False):
            found = kept.get(_cache_key(self, signature, target_context.codegen()))
            if found is not None:  # as numba's cache rebuilds it: without the compilation's metadata
                return found._replace(metadata=None)
        return load_overload.original(self, signature, target_context)

    def save_overload(self: Any, signature: Any, result: Any) -> None:
        if not is_link_only(getattr(result, "library", None)):
            save_overload.original(self, signature, result)
        elif getattr(self, "_enabled", False) and self._impl.check_cachable(result):
            kept[_cache_key(self, signature, result.codegen)] = result

    return [(typed_passes.BaseNativeLowering, "run_pass", run_pass),
            (cpu.CPUContext, "get_executable", get_executable),
            (caching.Cache, "load_overload", load_overload), (caching.Cache, "save_overload", save_overload)]


def _cache_key(cache: Any, signature: Any, codegen: Any) -> tuple[str, Any]:
    """Where numba's ``cache`` would keep the function compiled for ``signature``: its index file and key."""
    return str(cache._cache_file._index_path), cache._index_key(signature, codegen)


def _calls_into(state: Any, entry: Callable[..., Any]) -> bool:
    """Whether the function being lowered is one the entry point calls, left to link only: not the entry point,
    not a function of revsim's."""
    function = getattr(state.func_id, "func", None)
    module = getattr(state.func_id, "modname", None) or ""
    return function is not entry and module != "revsim" and not module.startswith("revsim.")


_CLASS: Any = False


def _link_only_class() -> Any:
    """numba's JIT code library, finalised for linking only until its machine code is asked for (None when this
    numba's library lacks what it relies on)."""
    global _CLASS
    if _CLASS is not False:
        return _CLASS
    from numba.core.codegen import JITCodeLibrary

    needed = ("_raise_if_finalized", "_get_module_for_linking", "_optimize_final_module", "_finalize_final_module",
              "get_pointer_to_function", "serialize_using_object_code", "serialize_using_bitcode")
    if not all(hasattr(JITCodeLibrary, name) for name in needed):  # pragma: no cover - another numba
        _CLASS = None
        return _CLASS

    class LinkOnlyLibrary(JITCodeLibrary):
        """A library finalised for linking: its callees linked in, no module passes, no machine code, until
        something asks for its machine code."""

        materialised = False
        environment: tuple[str, Any] | None = None

        def finalize(self) -> None:
            self._raise_if_finalized()
            seen = set()
            for library in self._linking_libraries:  # as numba's finalize
                if library not in seen:
                    self._reload_init.update(library._reload_init)
                    seen.add(library)
                    self._final_module.link_in(library._get_module_for_linking(), preserve=True)
            self._finalized = True

        def defines(self, name: str) -> bool:
            """Whether the library's code defines the function ``name``."""
            try:
                return not self._final_module.get_function(name).is_declaration
            except NameError:
                return False

        def materialise(self) -> None:
            """Run what numba's finalize would have: the module passes, then the machine code."""
            if self.materialised:
                return
            self._ensure_finalized()
            self.materialised = True
            self._optimize_final_module()
            self._final_module.verify()
            self._finalize_final_module()
            if self.environment is not None:
                self.codegen.set_env(*self.environment)

        def get_pointer_to_function(self, name: str) -> int:
            if not self.defines(name):
                return 0
            self.materialise()
            return super().get_pointer_to_function(name)

        def serialize_using_object_code(self) -> Any:
            self.materialise()
            return super().serialize_using_object_code()

        def serialize_using_bitcode(self) -> Any:
            self.materialise()
            return super().serialize_using_bitcode()

    _CLASS = LinkOnlyLibrary
    return _CLASS
