"""Opening the results of a run, in either form ``revsim run`` writes, with a clear error for anything else.

A run writes its results into its output folder as one of:

* ``results.nc``: a netCDF file, written by a run that held its results in memory (``--keep draws`` or
  ``--keep quantiles``). :func:`open_results` reads it into memory: it fits, since the run held it.
* ``results.zarr``: a Zarr store (a directory) written draw chunk by draw chunk by a streamed run, holding the
  variables, coordinates and attributes of the ``--keep draws`` form (attribute ``revsim_store = "zarr"``),
  chunked along ``draw`` only. :func:`open_results` opens it lazily: every variable is a dask array read one
  chunk of draws at a time, so readers that reduce over draws chunk by chunk (:mod:`revsim.results.summary`,
  :func:`revsim.results.storage.quantile_dataset`) never hold every draw.

Readers (``revsim report``, ``kpis``, ``reproduce``) accept the file or store itself, or the output folder
holding one of them. A store missing chunks (copied half-way, truncated) is refused when opened; a chunk whose
bytes are damaged is reported, naming the store, when it is read (:func:`reading_store`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["RESULTS_FILE", "RESULTS_STORE", "open_results", "results_path", "is_store", "reading_store",
           "results_source", "run_folder"]

RESULTS_FILE = "results.nc"
RESULTS_STORE = "results.zarr"
#: Files at the root of a Zarr store (format 3, format 2 group, format 2 consolidated metadata).
_STORE_MARKERS = ("zarr.json", ".zgroup", ".zmetadata")
_EXPECTED = "a results.nc or results.zarr written by revsim run, or the output folder holding one"


def is_store(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a directory that looks like a Zarr store (its root metadata is there)."""
    path = Path(path)
    return path.is_dir() and any((path / marker).is_file() for marker in _STORE_MARKERS)


def results_path(path: str | os.PathLike[str]) -> Path:
    """The results file or store ``path`` names: itself, or the ``results.nc`` / ``results.zarr`` of a folder.

    Raises
    ------
    InputError
        When ``path`` does not exist, is a special file, or is a folder holding neither (or both) forms.
    """
    from revsim.special_files import special_kind

    path = Path(path)
    if not path.exists():
        raise InputError.single(f"no such file or folder (give {_EXPECTED})", file=str(path))
    kind = special_kind(path)
    if kind is not None:
        raise InputError.single(f"is {kind}, not a regular file; expected {_EXPECTED}", file=str(path))
    if not path.is_dir() or is_store(path):
        return path
    found = [path / name for name in (RESULTS_FILE, RESULTS_STORE) if (path / name).exists()]
    if len(found) == 2:
        raise InputError.single(f"holds both {RESULTS_FILE} and {RESULTS_STORE}: name the one to read",
                                file=str(path))
    if not found:
        raise InputError.single(f"is a folder without {RESULTS_FILE} or {RESULTS_STORE}, and not a Zarr store "
                                f"itself; expected {_EXPECTED}", file=str(path))
    return found[0]


def open_results(path: str | os.PathLike[str]) -> xr.Dataset:
    """The results of a run: a ``results.nc`` read into memory, or a ``results.zarr`` store opened lazily.

    Parameters
    ----------
    path
        A results file or store, or the output folder of a run holding one of them.

    Returns
    -------
    xarray.Dataset
        Its ``encoding["source"]`` is the resolved file or store. A store's variables are dask arrays chunked
        along ``draw`` (see the module's description).

    Raises
    ------
    InputError
        When the path is missing, is neither form, cannot be read, or is a store with missing chunks.
    """
    resolved = results_path(path)
    ds = _open_store(resolved) if resolved.is_dir() else _open_file(resolved)
    ds.encoding["source"] = str(resolved.resolve())
    return ds


def run_folder(path: str | os.PathLike[str]) -> Path:
    """The output folder of the run whose results ``path`` names (the folder itself, or the file's parent)."""
    return results_path(path).parent


def results_source(ds: xr.Dataset) -> str:
    """The file or store a Dataset from :func:`open_results` was read from (``"results"`` when unknown)."""
    return str(ds.encoding.get("source", "results"))


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def _open_file(path: Path) -> xr.Dataset:
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="h5netcdf") as opened:
            return opened.load()
    except MemoryError:  # a good file too large for this machine is not a bad input
        raise
    except PermissionError:
        raise InputError.single("permission denied: the file cannot be read (check its permissions)",
                                file=str(path)) from None
    except Exception as exc:  # h5py, h5netcdf and xarray raise many kinds of errors for a bad file
        raise InputError.single(f"cannot be read as a netCDF results file ({_reason(exc)})", file=str(path)) from None


def _open_store(path: Path) -> xr.Dataset:
    import xarray as xr

    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a store without consolidated metadata is fine
            ds = xr.open_zarr(path, chunks={})
    except MemoryError:
        raise
    except Exception as exc:  # zarr raises many kinds of errors for a damaged store
        raise InputError.single(f"cannot be read as a Zarr results store ({_reason(exc)})", file=str(path)) from None
    missing = _missing_chunks(path)
    if missing:
        raise InputError.single(f"is an incomplete Zarr store: {missing}; it was copied or written half-way, run "
                                "the scenario again", file=str(path))
    return ds


def _missing_chunks(path: Path) -> str:
    """Which arrays of a store lack chunks (empty when none): a complete store holds every chunk (revsim
    writes every chunk, see :func:`revsim.results.zarr_store.write_block`)."""
    import zarr

    try:
        group = zarr.open_group(str(path), mode="r")
        short = [(name, array.nchunks_initialized, array.nchunks) for name, array in group.arrays()]
    except Exception as exc:
        return f"its arrays cannot be listed ({_reason(exc)})"
    short = [(name, have, need) for name, have, need in short if have < need]
    return ", ".join(f"{name} has {have} of {need} chunks" for name, have, need in sorted(short)[:4])


@contextlib.contextmanager
def reading_store(ds: xr.Dataset) -> Iterator[None]:
    """Report a chunk of a lazily opened store that cannot be read as an :class:`InputError` naming the store.

    A store's chunks are read when a reader computes from them, long after :func:`open_results` returned; a
    damaged chunk then raises whatever its codec raises. Wrap the reading in this context.
    """
    if not _is_lazy(ds):
        yield
        return
    try:
        yield
    except (InputError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if not _from_store_reading(exc):
            raise
        raise InputError.single(f"a chunk of the Zarr store cannot be read ({_reason(exc)}); the store is damaged, "
                                "run the scenario again", file=results_source(ds)) from None


def _is_lazy(ds: xr.Dataset) -> bool:
    return any(getattr(v.variable, "chunks", None) is not None for v in ds.data_vars.values())


def _from_store_reading(exc: BaseException) -> bool:
    """Whether an exception was raised by zarr or a codec while reading (its traceback passes through them)."""
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.split(".")[0] in ("zarr", "numcodecs", "blosc", "zstandard", "crc32c"):
            return True
        tb = tb.tb_next
    return False
