"""Compiled models, kept in memory and on disk by structure, so that a model is compiled once.

Compiling a calibration model for nutpie takes most of a calibration's time: PyTensor rewrites the log
density and its gradient, then numba compiles them. :func:`compile_model` does it once per model
*structure* (see :mod:`revsim.calibrate.model_structure`: the data are inputs of the compiled code, not part
of it):

* in memory, for the rest of the process: a second fit of the same structure on other data (a backtest's
  origins, a benchmark's histories) compiles nothing;
* on disk, for later processes: each structure is an entry of the cache directory holding the generated C
  entry points nutpie calls (:mod:`revsim.calibrate.nutpie_entry`) and numba's compiled code of them.

The cache directory is ``$REVSIM_CACHE_DIR`` when set, else the user's cache directory
(``$XDG_CACHE_HOME/revsim`` or ``~/.cache/revsim`` on Linux, ``~/Library/Caches/revsim`` on macOS,
``%LOCALAPPDATA%\\revsim\\Cache`` on Windows); entries live under ``compiled/``. ``REVSIM_CACHE_DIR=off``
turns the disk cache off. The key of an entry covers the structure and the versions of revsim, PyMC,
PyTensor, nutpie, numba, llvmlite, NumPy and Python, so an upgrade or a changed model misses the cache
instead of reusing stale code.

Entries are written to a temporary directory and renamed into place, so a reader never sees half an entry
and two processes compiling the same structure at once both succeed (the second keeps the first's entry).
An entry that cannot be read (truncated, edited, written by another version) is set aside with a note and
compiled again: the cache can make a calibration slower, never different. The least recently used entries
beyond :data:`MAX_ENTRIES` are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["compile_model", "cache_directory", "CompiledEntry", "CompileReport", "compilations", "clear_memory",
           "CACHE_ENV", "MAX_ENTRIES"]

CACHE_ENV = "REVSIM_CACHE_DIR"
#: Entries kept on disk (the least recently used beyond this are removed; an entry takes about 1 MB).
MAX_ENTRIES = 64
_OFF = {"off", "none", "0", "false", "no"}

_MEMORY: dict[str, CompiledEntry] = {}
_COMPILATIONS = 0


@dataclass
class CompiledEntry:
    """One structure compiled: nutpie's C entry points and the numba functions they call.

    ``parts`` are the entry points of the log density's parts when it has several (``logp`` adds them);
    ``logp_inner`` is the graph function of the first part.
    """

    key: str
    logp: Any  # numba cfunc
    expand: Any
    logp_inner: Any
    cached_by_numba: bool = True
    parts: list[Any] = field(default_factory=list)

    @property
    def part_addresses(self) -> list[int]:
        return [part.address for part in self.parts]


@dataclass
class CompileReport:
    """Where the compiled model came from and what it cost."""

    source: str  # "memory", "disk", "compiled" or "uncached" (compiled by nutpie, without the cache)
    key: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return {"memory": "the model compiled earlier in this run",
                "disk": "the compiled model from the cache",
                "compiled": "compiled the model (new structure)",
                "uncached": "compiled the model (without the cache)"}[self.source]


def compilations() -> int:
    """How many structures this process compiled (tests count them)."""
    return _COMPILATIONS


def clear_memory() -> None:
    """Forget the structures compiled in this process (the disk cache stays)."""
    _MEMORY.clear()


def cache_directory() -> Path | None:
    """Where compiled models are kept on disk (None when ``REVSIM_CACHE_DIR=off``)."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None and configured.strip():
        if configured.strip().lower() in _OFF:
            return None
        return Path(configured).expanduser() / "compiled"
    if sys.platform == "win32":  # pragma: no cover
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "revsim" / "Cache"
    elif sys.platform == "darwin":  # pragma: no cover
        base = Path.home() / "Library" / "Caches" / "revsim"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "revsim"
    return base / "compiled"


def compile_model(model: Any, *, use_cache: bool = True,
                  phase: Callable[[str], None] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> tuple[Any, CompileReport]:
    """A nutpie model for ``model``: from memory, from the disk cache, or compiled (and then kept).

    ``use_cache=False`` compiles the same code without reading or writing any cache. ``phase`` is told
    what is happening ("compiling", "loading"); ``progress`` receives (finished draws, total) while nutpie
    samples. Returns the model to pass to ``nutpie.sample`` and a :class:`CompileReport`.
    A model the cache cannot handle is compiled by ``nutpie.compile_pymc_model``, with a note.
    """
    from revsim.calibrate import digamma, shape_ops
    from revsim.calibrate.model_structure import StructureError, model_structure
    from revsim.calibrate.nutpie_entry import bind

    digamma.register()
    shape_ops.register()
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    try:
        structure = model_structure(model)
    except StructureError as error:
        return _uncached(model, f"the model cannot be cached ({error}): compiled by nutpie", phase)
    seconds["structure"] = time.perf_counter() - start
    report = CompileReport(source="compiled", key=structure.key, seconds=seconds)
    directory = cache_directory() if use_cache else None
    entry = _MEMORY.get(structure.key) if use_cache else None
    if entry is not None:
        report.source = "memory"
    else:
        try:
            entry = _from_disk(directory, structure, report, phase)
            if entry is None:
                entry = _compile(directory, structure, report, phase)
        except Exception as error:  # noqa: BLE001 - the cache must never stop a calibration
            return _uncached(model, f"the compiled-model cache failed ({type(error).__name__}: {error}): "
                                    "compiled by nutpie", phase)
        if use_cache:
            _MEMORY[structure.key] = entry
    start = time.perf_counter()
    compiled = bind(entry, structure, progress=progress)
    seconds["bind"] = time.perf_counter() - start
    return compiled, report


def _uncached(model: Any, note: str, phase: Callable[[str], None] | None) -> tuple[Any, CompileReport]:
    import warnings

    import nutpie

    global _COMPILATIONS
    if phase is not None:
        phase("compiling")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = nutpie.compile_pymc_model(model)
    _COMPILATIONS += 1
    return compiled, CompileReport(source="uncached", seconds={"compile": time.perf_counter() - start},
                                   notes=[note])


# --------------------------------------------------------------------------------------------------------
# Compiling
# --------------------------------------------------------------------------------------------------------


class _GraphFunctions:
    """The numba function of each entry point's graph, built by PyTensor when an entry point is compiled.

    Called with the name of an entry point (``logp`` or ``logp_part_<k>``), it rewrites that
    entry point's graph and returns PyTensor's numba function of it, compiled for the entry point's arguments
    (:func:`revsim.calibrate.nutpie_entry.compile_graph`). Each process builds only the graphs of
    the entry points it compiles: with several parts, the children rewrite theirs while this process
    rewrites its own.
    """

    def __init__(self, structure: Any) -> None:
        self.structure = structure
        self.functions: dict[str, Any] = {}
        self.seconds = 0.0  # spent by PyTensor in this process

    def __call__(self, job: str) -> Any:
        from revsim.calibrate.nutpie_entry import compile_graph, graph_function, part_index

        if job not in self.functions:
            start = time.perf_counter()
            part = part_index(job)
            function = _logp_function(self.structure, part)
            self.functions[job] = graph_function(function.vm.jit_fn)
            self.seconds += time.perf_counter() - start
            layout = self.structure.data_layout
            shapes = self.structure.value_shapes
            arguments = ([("float64", len(shapes[k])) for k in self.structure.part_parameters[part]]
                         + [(layout[k][1], len(layout[k][2])) for k in self.structure.part_data[part]])
            compile_graph(self.functions[job], arguments)
        return self.functions[job]


def part_parameters(structure: Any) -> list[list[tuple[int, tuple[int, ...]]]]:
    """For each part of the log density, the parameters its graph takes: offset in nutpie's flat point, shape."""
    slices = structure.value_slices
    return [[(slices[k].start, tuple(structure.value_shapes[k])) for k in taken] for taken in structure.part_parameters]


def _logp_function(structure: Any, part: int) -> Any:
    """Part ``part`` of the log density with its gradient, compiled by PyTensor for numba: a function of the
    parameters the part depends on (``structure.part_parameters[part]``, each a float64 array of its shape)
    and of the data it reads (``structure.part_data[part]``), returning the value, then the gradient of each
    of those parameters."""
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import compile as compile_pymc
    from pytensor.graph.rewriting.utils import rewrite_graph

    from revsim.calibrate.model_structure import LOGP_REWRITES

    model = structure.model
    rewrites = list(LOGP_REWRITES)
    if not model.check_bounds:
        rewrites.append("local_remove_check_parameter")
    logp = rewrite_graph(structure.logp_parts[part], include=rewrites)
    parameters = [structure.value_vars[k] for k in structure.part_parameters[part]]
    # the parameters of the other parts are not inputs: their gradient (0) is written by the entry point
    grads = pytensor.grad(logp, parameters, disconnected_inputs="ignore")
    inputs, replacements = [], {}
    for k, var in zip(structure.part_parameters[part], parameters, strict=True):
        given = pt.TensorType("float64", shape=structure.value_shapes[k])(var.name)  # static: as the point's slice
        inputs.append(given)
        replacements[var] = given if var.dtype == "float64" else given.astype(var.dtype)
    # each gradient flattened in the graph, as when the graph joined them: the rewrites, hence the arithmetic,
    # stay the same (a scalar's gradient returned as it is was rewritten into other rounding)
    logp, *grads = pytensor.clone_replace([logp, *(pt.as_tensor(g).astype("float64").ravel() for g in grads)],
                                          replacements)
    data = [structure.data_inputs[k] for k in structure.part_data[part]]
    with model, _numba_settings():
        return compile_pymc([*inputs, *data], [logp, *grads], mode="NUMBA", on_unused_input="ignore")


def _numba_settings() -> Any:
    """PyTensor's numba settings for calibration models: IEEE arithmetic, not fast-math.

    With fast-math, LLVM may reassociate sums differently when a function is compiled whole than when
    its parts come from numba's cache, and the chains' draws would depend on what was cached.
    """
    import pytensor

    return pytensor.config.change_flags(numba__fastmath=False)


def _compile(directory: Path | None, structure: Any, report: CompileReport,
             phase: Callable[[str], None] | None) -> CompiledEntry:
    """Compile ``structure`` and, with a cache directory, store it there."""
    from revsim.calibrate.nutpie_entry import load_entry_points, wrapper_source

    global _COMPILATIONS
    if phase is not None:
        phase("compiling")
    start = time.perf_counter()
    parts = len(structure.logp_parts)
    layout = [(name, dtype, len(broadcastable)) for name, dtype, broadcastable in structure.data_layout]
    source = wrapper_source(structure.key, structure.n_dim, layout, part_parameters(structure), structure.part_data)
    graphs = _GraphFunctions(structure)
    if directory is None:
        folder = Path(tempfile.mkdtemp(prefix="revsim-compiled-"))
        (folder / "entry.py").write_text(source, encoding="utf-8")
        try:
            entry = load_entry_points(folder / "entry.py", graphs, parts=parts)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        folder = _store(directory, structure, source, report)
        entry = load_entry_points(folder / "entry.py", graphs, parts=parts, parallel=True)
        if not entry.cached:
            report.notes.append("numba cannot cache this model's compiled code (an operation holds a pointer): "
                                "it is compiled again in every run")
        _prune(directory)
    # PyTensor's rewriting of the graphs this process compiled, then numba (with the children's work)
    report.seconds["rewrite"] = graphs.seconds
    report.seconds["numba"] = time.perf_counter() - start - graphs.seconds
    _COMPILATIONS += 1
    return _compiled_entry(structure, entry, graphs)


def _compiled_entry(structure: Any, entry: Any, graphs: _GraphFunctions) -> CompiledEntry:
    """What compiling or loading ``structure`` gave: its entry points, and the first part's graph function when
    this process built it."""
    from revsim.calibrate.nutpie_entry import entry_names

    first = entry_names(len(structure.logp_parts))[0]
    return CompiledEntry(key=structure.key, logp=entry.logp, expand=entry.expand,
                         logp_inner=graphs.functions.get(first), cached_by_numba=entry.cached, parts=entry.parts)


def _store(directory: Path, structure: Any, source: str, report: CompileReport) -> Path:
    """Write an entry atomically; returns its folder (another process's, when it was faster)."""
    from revsim.calibrate.model_structure import environment

    final = directory / structure.key
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".tmp-{structure.key}-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        (staging / "entry.py").write_text(source, encoding="utf-8")
        meta = {
            "key": structure.key, "environment": environment(), "n_dim": structure.n_dim,
            "data": [list(map(_jsonable, item)) for item in structure.data_layout],
            "value_names": structure.value_names, "expand_names": structure.expand_names,
            "sha256": {"entry.py": _sha256(source.encode())},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        try:
            os.rename(staging, final)
        except OSError:
            if not (final / "meta.json").exists():
                raise
            shutil.rmtree(staging, ignore_errors=True)  # another process stored it first: keep theirs
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------


def _from_disk(directory: Path | None, structure: Any, report: CompileReport,
               phase: Callable[[str], None] | None) -> CompiledEntry | None:
    """The entry of ``structure`` from the disk cache; None when absent or unreadable (with a note)."""
    if directory is None:
        return None
    folder = directory / structure.key
    if not (folder / "meta.json").exists():
        return None
    if phase is not None:
        phase("loading")
    start = time.perf_counter()
    try:
        entry = _load(folder, structure)
    except Exception as error:  # noqa: BLE001 - any damage: set the entry aside and compile again
        report.notes.append(f"the cached compiled model {folder} could not be used ({type(error).__name__}: "
                            f"{error}); it was compiled again")
        _discard(folder)
        return None
    report.source = "disk"
    report.seconds["load"] = time.perf_counter() - start
    try:
        os.utime(folder / "meta.json")  # recently used: pruned last
    except OSError:  # pragma: no cover - a read-only cache still serves
        pass
    return entry


def _load(folder: Path, structure: Any) -> CompiledEntry:
    from revsim.calibrate.model_structure import environment
    from revsim.calibrate.nutpie_entry import load_entry_points

    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    source = (folder / "entry.py").read_bytes()
    expected = {"key": structure.key, "environment": environment(), "n_dim": structure.n_dim,
                "data": [list(map(_jsonable, item)) for item in structure.data_layout]}
    for name, value in expected.items():
        if meta.get(name) != value:
            raise ValueError(f"its {name} does not match the model's")
    if meta.get("sha256", {}).get("entry.py") != _sha256(source):
        raise ValueError("entry.py is damaged (checksum)")
    # the graphs are rewritten only when numba's cache lacks an entry point's code (the key is the same
    # structure's, so the same graphs)
    graphs = _GraphFunctions(structure)
    entry = load_entry_points(folder / "entry.py", graphs, parts=len(structure.logp_parts))
    return _compiled_entry(structure, entry, graphs)


def _discard(folder: Path) -> None:
    """Set a damaged entry aside (renamed first, so no reader picks it up), then remove it."""
    trash = folder.with_name(f".trash-{folder.name}-{uuid.uuid4().hex}")
    try:
        os.rename(folder, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _prune(directory: Path) -> None:
    """Remove the least recently used entries beyond :data:`MAX_ENTRIES`, and stale temporary folders."""
    try:
        entries = [p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")]
        now = time.time()
        for stale in directory.glob(".t*"):
            if now - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
    except OSError:  # pragma: no cover
        return
    if len(entries) <= MAX_ENTRIES:
        return

    def used(path: Path) -> float:
        try:
            return (path / "meta.json").stat().st_mtime
        except OSError:
            return 0.0

    for old in sorted(entries, key=used)[: len(entries) - MAX_ENTRIES]:
        _discard(old)
