"""Modules a calibration would import only to find out that it does not need them.

Each import below cost a warm ``revsim calibrate`` of the worked example time on its one busy core, for
nothing:

- **dask** (0.3 to 0.5 s): xarray imports dask (and ``dask.array``, whose ``dask.sizeof`` reads the entry
  points of every installed distribution) the first time it builds a variable, to learn whether the data is a
  dask array. A calibration holds NumPy arrays only, and no dask array can exist in a process that never
  imported dask. :func:`without_dask` makes ``import dask`` fail while a calibration runs in such a process
  (xarray then treats every array as NumPy, which they are), and afterwards forgets what xarray cached about
  dask, so that dask works as usual once something really imports it.
- **IPython** (about 0.15 s): PyMC imports it at import to register a pretty-printer for IPython shells,
  and skips that when IPython is missing. Inside an IPython shell or notebook IPython is already imported,
  and nothing is hidden.
- **zarr** (about 0.1 s): PyMC imports it for its ``ZarrTrace`` backend, which needs zarr 2 (it imports
  ``zarr.storage.BaseStore``, gone from zarr 3) and otherwise disables itself: with zarr 3 the import only
  costs time. With zarr 2 nothing is hidden.

Every hiding is undone when the block ends (``sys.modules`` as before), and nothing is hidden that is already
imported.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator

__all__ = ["hidden_modules", "pymc_unused_modules", "without_dask"]


@contextlib.contextmanager
def hidden_modules(names: Iterable[str]) -> Iterator[list[str]]:
    """Inside the block, ``import name`` raises ``ModuleNotFoundError`` for each of ``names`` not imported yet.

    Yields the names actually hidden.
    """
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import of NAME halted; None in sys.modules"
    try:
        yield hidden
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def pymc_unused_modules() -> list[str]:
    """The modules ``import pymc`` loads that a calibration never uses (see the module docstring)."""
    names = ["IPython"]
    if _major_version("zarr") >= 3:
        names.append("zarr")
    return names


def _major_version(package: str) -> int:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version(package).split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 0


@contextlib.contextmanager
def without_dask() -> Iterator[bool]:
    """Inside the block, dask cannot be imported unless it already was (see the module docstring).

    Yields whether dask is hidden. xarray is imported first, so that what it records at import about the
    installed packages stays true; its lazily cached answers about dask are forgotten on entry and on exit.
    Where xarray keeps them elsewhere than expected, nothing is hidden.
    """
    if "dask" in sys.modules:
        yield False
        return
    import xarray  # noqa: F401 - before dask is hidden (xarray notes at import whether dask is installed)

    caches = _xarray_dask_caches()
    if caches is None:  # pragma: no cover - another xarray: leave dask alone
        yield False
        return
    _forget(caches)
    try:
        with hidden_modules(["dask"]):
            yield True
    finally:
        _forget(caches)


def _xarray_dask_caches() -> tuple | None:
    """xarray's memory of dask: ``module_available`` (cached), the duck-array module cache, the chunk managers."""
    try:
        from xarray.namedarray import parallelcompat, pycompat, utils
    except ImportError:  # pragma: no cover
        return None
    available = getattr(utils, "module_available", None)
    duck = getattr(pycompat, "_cached_duck_array_modules", None)
    managers = getattr(parallelcompat, "list_chunkmanagers", None)
    if not (hasattr(available, "cache_clear") and isinstance(duck, dict) and hasattr(managers, "cache_clear")):
        return None
    return available, duck, managers


def _forget(caches: tuple) -> None:
    available, duck, managers = caches
    available.cache_clear()
    duck.pop("dask", None)
    managers.cache_clear()
