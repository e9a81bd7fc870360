"""Operating-system errors on the write path, worded for the user: exit code 2 for a location the user can
change (a read-only or full file system, permissions, a file in the way: another ``--out`` fixes it), 1 for an
error of the machine that another location would not cure (an input/output error of a failing disk or a
network file system that went away).

Also the netCDF writers: HDF5 fails badly on a full disk (dozens of tracebacks from its clean-up, then a
segmentation fault), so netCDF files are built in memory and written with plain file writes, after checking
that the device has room for them.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from revsim.errors import InputError, RevsimError

__all__ = ["NoRoom", "WriteError", "output_error", "check_creatable", "free_bytes", "readable_size", "write_bytes",
           "write_netcdf", "write_inference_data"]

#: Errors of the user's path: another path fixes them (exit code 2). A full device or quota is one too
#: (:func:`output_error`), worded with the space needed and free.
_PATH_ERRORS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG,
                errno.ELOOP, errno.EISDIR}


class NoRoom(OSError):
    """The device has less room than the bytes to write (found before writing them)."""

    def __init__(self, needed: int, free: int, path: Path) -> None:
        super().__init__(errno.ENOSPC, f"{needed} bytes to write, {free} free", str(path))
        self.needed = needed
        self.free = free


class WriteError(RevsimError):
    """The machine could not take the outputs for a reason another location would not cure (an input/output
    error). Exit code 1."""

    exit_code = 1


def check_creatable(out_dir: Path, option: str = "--out") -> None:
    """Refuse, before any work, an output directory that cannot be created: a dangling symbolic link, a path
    through a regular file, an empty name."""
    if str(out_dir) == "":
        raise InputError.single("an empty path names no directory; give a directory (. for the current one)",
                                path=(option,))
    if out_dir.is_symlink() and not out_dir.exists():
        raise InputError.single(f"{out_dir} is a symbolic link to {os.readlink(out_dir)}, which does not exist; "
                                f"create it or choose another {option}", path=(option,))
    blocker = _file_in_the_way(out_dir)
    if blocker is not None:
        raise InputError.single(f"cannot create {out_dir}: {blocker} is a file, not a directory; choose another "
                                f"{option}", path=(option,))


def _file_in_the_way(out_dir: Path) -> Path | None:
    """The first component of ``out_dir`` (before its last) that exists and is not a directory."""
    for parent in reversed(Path(os.path.abspath(out_dir)).parents):
        if parent.exists() and not parent.is_dir():
            return parent
        if not parent.exists():
            return None
    return None


def output_error(exc: OSError, out_dir: Path, *, name: str | None = None, option: str = "--out") -> RevsimError:
    """The error to report for ``exc``, raised while writing ``name`` (or creating ``out_dir``)."""
    what = f"cannot write {name} into {out_dir}" if name else f"cannot write to {out_dir}"
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        free = free_bytes(out_dir)
        room = f" ({readable_size(free)} free)" if free is not None else ""
        if isinstance(exc, NoRoom):
            room = f" ({readable_size(exc.needed)} to write, {readable_size(exc.free)} free)"
        reason = "the device is full" if code == errno.ENOSPC else "the disk quota is exhausted"
        return InputError.single(f"{what}: {reason}{room}; nothing was written. Free some space or choose "
                                 f"another {option}", path=(option,))
    if code in _PATH_ERRORS:
        reason = {
            errno.EROFS: "the file system is read-only",
            errno.EACCES: "permission denied",
            errno.EPERM: "the operation is not permitted",
            errno.ENOTDIR: "a part of the path is a file, not a directory",
            errno.EEXIST: "a file of that name is in the way",
            errno.ENAMETOOLONG: "a name in the path is longer than the file system allows",
            errno.ELOOP: "the path loops through symbolic links",
            errno.EISDIR: "a directory of that name is in the way",
        }[code]
        blocker = _file_in_the_way(out_dir) if code in (errno.ENOTDIR, errno.EEXIST) else None
        if blocker is not None:
            reason = f"{blocker} is a file, not a directory"
        return InputError.single(f"{what}: {reason}; choose another {option}", path=(option,))
    return WriteError(f"{what}: {exc.strerror or exc}; nothing was written")


def free_bytes(path: Path) -> int | None:
    """Free bytes of the device holding ``path`` or its nearest existing parent (None where unknown)."""
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def readable_size(n: int) -> str:
    """``n`` bytes in kB, MB or GB (powers of ten, as ``df -H``)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def write_bytes(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` once the device is seen to have room for it (ENOSPC otherwise)."""
    free = free_bytes(Path(path).parent)
    if free is not None and free < len(data):
        raise NoRoom(len(data), free, path)
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())  # a full device shows now, not after the rename


@contextlib.contextmanager
def _local_scheduler() -> Any:
    """xarray takes a dask.distributed lock named after the target when a dask client is running (the dask
    backend), which a memory buffer cannot name: the results are in memory, so write them without dask.

    When ``distributed`` was never imported, no client can be running: xarray and dask would import it only
    to find none (about 0.5 s, in every ``revsim calibrate``), so it is not imported while writing, and dask's
    note that it is unavailable is forgotten after.
    """
    if sys.modules.get("dask") is None:  # never imported (or hidden: see revsim.calibrate.unused_modules)
        yield
        return
    import dask
    import dask.base

    hidden = "distributed" not in sys.modules
    if hidden:
        sys.modules["distributed"] = None  # type: ignore[assignment]  # ``import distributed`` fails meanwhile
    try:
        with dask.config.set(scheduler=dask.get):
            yield
    finally:
        if hidden:
            if sys.modules.get("distributed", False) is None:
                del sys.modules["distributed"]
            if getattr(dask.base, "_DISTRIBUTED_AVAILABLE", None) is False:
                dask.base._DISTRIBUTED_AVAILABLE = None


def write_netcdf(ds: Any, path: Path, **kwargs: Any) -> None:
    """``ds.to_netcdf(path, engine="h5netcdf", **kwargs)``, built in memory first."""
    buffer = io.BytesIO()
    with _local_scheduler():
        ds.to_netcdf(buffer, engine="h5netcdf", **kwargs)
    write_bytes(path, buffer.getbuffer())


def write_inference_data(idata: Any, path: Path) -> None:
    """What ``InferenceData.to_netcdf`` writes (every group, numeric variables compressed), built in memory."""
    import numpy as np
    import xarray as xr

    buffer = io.BytesIO()
    mode = "w"
    with _local_scheduler():
        attrs = getattr(idata, "_attrs", None)
        if attrs:
            xr.Dataset(attrs=attrs).to_netcdf(buffer, mode=mode, engine="h5netcdf", group="/")
            mode = "a"
        for group in idata.groups():
            data = getattr(idata, group)
            encoding = {name: {"zlib": True} for name, values in data.variables.items()
                        if np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_}
            data.to_netcdf(buffer, mode=mode, engine="h5netcdf", group=group, encoding=encoding)
            mode = "a"
    write_bytes(path, buffer.getbuffer())
