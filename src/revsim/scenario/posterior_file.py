"""Posterior files (netCDF4, as ArviZ writes them), each read once and kept while it is unchanged.

A calibrated scenario reads tens of inputs from one ``posterior.nc``. Opening the file for each of them costs
about a tenth of a second each (xarray reads every variable's metadata), so :func:`posterior_file` opens a
file once, loads its posterior group (or the file itself, without one) into memory when it is small, and keeps
it in a small cache keyed by the resolved path and the file's identity (inode, size, modification and change
times). Later inputs, later loads of the scenario and the variants of a comparison then read it from memory;
a file edited or replaced in between is read again.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PosteriorFile", "PosteriorTooLarge", "posterior_file", "clear_cache", "file_identity", "check_declared_size",
           "CACHE_FILES", "LOAD_ALL_BYTES", "MAX_SAMPLES"]

#: Posterior files kept in memory (the least recently used is dropped first).
CACHE_FILES = 4
#: A file whose variables take at most this many bytes in memory is loaded whole when first opened; a larger
#: one is read a variable at a time, as inputs ask for them.
LOAD_ALL_BYTES = 64 * 1024 * 1024

#: More samples (chains x draws) than a calibration writes (at most 64 chains x 1,000,000 draws).
MAX_SAMPLES = 64_000_000

_LOCK = threading.Lock()


class PosteriorTooLarge(ValueError):
    """A variable declares more samples than a posterior holds, or more bytes than the machine has free."""


def check_declared_size(var: str, array: Any) -> None:
    """Refuse, before reading it, a variable whose declared size is absurd (a small file can declare 10^9
    draws that HDF5 would fill in)."""
    from revsim.engine.memory import available_bytes, format_bytes

    sizes = dict(array.sizes)
    samples = int(sizes.get("chain", 1)) * int(sizes.get("draw", 1))
    shape = ", ".join(f"{dim}: {int(n):,}" for dim, n in sizes.items())
    available = available_bytes()
    if samples > MAX_SAMPLES:
        raise PosteriorTooLarge(f"variable '{var}' declares {samples:,} samples ({shape}), more than a posterior "
                                f"holds (at most {MAX_SAMPLES:,}): the file was not written by a calibration, or "
                                "was damaged")
    if available is not None and array.nbytes > available:
        raise PosteriorTooLarge(f"variable '{var}' ({shape}) takes {format_bytes(array.nbytes)} in memory, more than "
                                f"the {format_bytes(available)} available")
_CACHE: OrderedDict[str, PosteriorFile] = OrderedDict()


def file_identity(path: Path) -> tuple[int, int, int, int]:
    """What tells one version of a file from another: (inode, size, modification time, change time) in ns."""
    stat = os.stat(path)
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


@dataclass
class PosteriorFile:
    """One posterior file's variables: ``group`` is ``"posterior"`` when the file has that group, else None.

    :meth:`array` returns a variable as an in-memory :class:`xarray.DataArray`; ``attrs`` are the group's
    (or the file's) attributes, where ``revsim calibrate`` records its diagnostics.
    """

    path: Path
    identity: tuple[int, int, int, int]
    group: str | None
    variables: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    _arrays: dict[str, Any] = field(default_factory=dict, repr=False)
    _samples_sha256: str | None = field(default=None, repr=False)

    def samples_sha256(self) -> str:
        """SHA-256 of the posterior's samples: every variable's name, type, shape and values, in name order.

        It names the random stream that every input read from this file shares (:mod:`revsim.engine.compile`),
        so that two files holding the same draws give the same draws of a run, whatever else differs in their
        bytes (attributes such as the time a calibration ran, HDF5's own records). Each variable is hashed as
        ``NAME``, ``DTYPE`` (numpy's ``dtype.str``, little-endian) and the shape (``,``-joined), each followed by
        a NUL byte, then its values' bytes in C order, little-endian. Computed once per version of the file.
        """
        if self._samples_sha256 is None:
            import hashlib

            import numpy as np
            import xarray as xr

            digest = hashlib.sha256()
            with xr.open_dataset(self.path, group=self.group, engine="h5netcdf") as dataset:
                for name in sorted(self.variables):
                    held = self._arrays.get(name)
                    values = np.asarray(held.values if held is not None else dataset[name].values)
                    if values.dtype.kind in "biuf":
                        values = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
                        data = values.tobytes()
                    else:  # not read as samples (refused by a posterior input), hashed by its text
                        data = repr(values.tolist()).encode()
                    shape = ",".join(str(n) for n in values.shape)
                    digest.update(f"{name}\0{values.dtype.str}\0{shape}\0".encode())
                    digest.update(data)
            self._samples_sha256 = digest.hexdigest()
        return self._samples_sha256

    def array(self, var: str) -> Any:
        """Variable ``var`` (one of :attr:`variables`), read from the file the first time it is asked for."""
        if var not in self._arrays:
            import xarray as xr

            with xr.open_dataset(self.path, group=self.group, engine="h5netcdf") as dataset:
                check_declared_size(var, dataset[var])
                self._arrays[var] = dataset[var].load()
        return self._arrays[var]


def _read(path: Path, identity: tuple[int, int, int, int]) -> PosteriorFile:
    """Open ``path``: find its group, list its variables and load them all when they are small.

    Raises
    ------
    OSError
        When the file is not a netCDF4 (HDF5) file.
    """
    import h5netcdf
    import xarray as xr

    with h5netcdf.File(path, "r") as handle:
        group = "posterior" if "posterior" in handle.groups else None
    with xr.open_dataset(path, group=group, engine="h5netcdf") as dataset:
        variables = tuple(str(v) for v in dataset.data_vars)
        attrs = dict(dataset.attrs)
        arrays = {}
        if dataset.nbytes <= LOAD_ALL_BYTES:
            dataset.load()
            arrays = {name: dataset[name] for name in variables}
    return PosteriorFile(path=path, identity=identity, group=group, variables=variables, attrs=attrs,
                         _arrays=arrays)


def posterior_file(path: str | os.PathLike[str]) -> PosteriorFile:
    """The posterior file at ``path``, from the cache while the file is unchanged.

    Raises
    ------
    OSError
        When the file cannot be read as netCDF4.
    """
    resolved = Path(path).resolve()
    identity = file_identity(resolved)
    key = str(resolved)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.identity == identity:
            _CACHE.move_to_end(key)
            return cached
    opened = _read(resolved, identity)
    with _LOCK:
        _CACHE[key] = opened
        _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_FILES:
            _CACHE.popitem(last=False)
    return opened


def clear_cache() -> None:
    """Forget every posterior file read so far."""
    with _LOCK:
        _CACHE.clear()
