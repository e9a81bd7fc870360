"""``results.zarr``: a run's results written block by block, as the draws are computed (the streamed form).

A streamed run never holds every draw: each block of draws builds its slice of the results Dataset and writes
it into the store by region, then drops it. The store is a Zarr directory holding exactly the variables,
coordinates and attributes of the ``--keep draws`` form of ``results.nc`` (:mod:`revsim.results.storage`),
with the attributes ``revsim_keep="draws"`` and ``revsim_store="zarr"``; it opens with :func:`revsim.results.reading.open_results` (or ``xr.open_zarr(path)``).

* :func:`create_store` writes the store's metadata first: every variable (full size, no data yet), the
  coordinates, the variables without a ``draw`` dimension and the run's attributes (its first draw then holds
  zeros until its block is written).
* :func:`write_block` writes one block's draws. The store is chunked along ``draw`` at the size of a block,
  so blocks written in parallel (threads, dask workers) never share a chunk.
* :func:`finish_store` records what is known only at the end (the runaway warnings), checks that every
  block was written and consolidates the metadata.

Variables keep the in-memory Dataset's types (int64 counts, float64 values) except in large runs (above
:data:`~revsim.results.storage.AUTO_DRAWS_LIMIT` draws x months x segments), whose variables with a ``draw``
dimension and another are stored as float32, as in ``results.nc``. Chunks are compressed with Blosc's LZ4 at
level 1 after byte shuffling: 100 board-scale draws (32 MB in memory) take 10 MB and 0.10 s to write, against
8 MB and 0.28 s with Zarr's default Zstandard and 32 MB and 0.14 s uncompressed (the write is then bound by
the disk).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["STORE_NAME", "STORE_ATTRS", "create_store", "write_block", "finish_store", "store_encoding", "store_bytes",
           "check_store_room", "SMALLEST_COMPRESSED_SHARE"]

#: The streamed store's name in a run's output directory.
STORE_NAME = "results.zarr"
#: Values per chunk of the ``draw`` coordinate (written whole when the store is created).
DRAW_COORDINATE_CHUNK = 2**20
#: Attributes that mark the streamed form.
STORE_ATTRS = {"revsim_keep": "draws", "revsim_store": "zarr"}
#: A store's disk space over its uncompressed upper bound (:func:`store_bytes`), at least: measured 0.32 to 0.47
#: for 400 draws of each scenario of ``scenarios/`` (per-cohort detail kept), 0.38 for 4,000 draws of
#: ``saas_sales_led.yaml`` and 0.22 for 1,000 board-scale draws (float32), so half the smallest. A streamed run
#: is refused when the device has less room than this share of the bound (:func:`check_store_room`).
SMALLEST_COMPRESSED_SHARE = 0.1
#: Bytes a file takes at least on disk (the usual block of ext4, XFS, tmpfs): each chunk is a file.
_DISK_BLOCK = 4096
#: Bytes added to a chunk by its codecs at most (Blosc's header: 16 to 32), rounded up.
_CHUNK_OVERHEAD = 64
#: Bytes of metadata per variable (its ``zarr.json``; 1 to 2 kB), rounded up to disk blocks, with the store's own.
_METADATA_BYTES = 2 * _DISK_BLOCK


@contextmanager
def _zarr_writes() -> Iterator[None]:
    """Zarr format 3 stores consolidated metadata as an extension, and says so at every write.

    When a write fails (a full device), zarr's other writes of the same call may still be running on its I/O
    loop: they are waited for before the error goes on, so that the partial store is not removed under them
    (they would then fail again, printing "Future exception was never retrieved" when the process exits, or
    create files after the removal).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        try:
            yield
        except BaseException:
            _settle_pending_writes()
            raise


#: Seconds to wait for zarr's writes in flight after a failed write.
_SETTLE_TIMEOUT = 60.0


def _settle_pending_writes() -> None:
    """Wait for every task on zarr's I/O loop to end, and take their exceptions (they are the failed write's)."""
    import asyncio

    try:
        from zarr.core.sync import _get_loop
    except ImportError:  # pragma: no cover - another zarr layout: nothing to wait for that revsim can see
        return

    async def settle() -> None:
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        if not pending:
            return
        done, _ = await asyncio.wait(pending, timeout=_SETTLE_TIMEOUT)
        for task in done:
            if not task.cancelled():
                task.exception()

    loop = _get_loop()
    if loop.is_closed():  # pragma: no cover - at interpreter exit
        return
    try:
        asyncio.run_coroutine_threadsafe(settle(), loop).result(timeout=_SETTLE_TIMEOUT + 5)
    except Exception:  # pragma: no cover - the original error matters more than a slow loop
        return


def _compressors() -> tuple[Any, ...]:
    from zarr.codecs import BloscCodec

    return (BloscCodec(cname="lz4", clevel=1, shuffle="shuffle"),)


def store_encoding(sample: xr.Dataset, *, chunk: int, large: bool) -> dict[str, dict[str, Any]]:
    """Zarr encoding of the variables with a ``draw`` dimension: chunks of ``chunk`` draws, float32 when large."""
    encoding: dict[str, dict[str, Any]] = {}
    compressors = _compressors()
    for name, da in sample.data_vars.items():
        if "draw" not in da.dims:
            continue
        spec: dict[str, Any] = {"chunks": tuple(chunk if d == "draw" else max(n, 1)
                                                for d, n in zip(da.dims, da.shape, strict=True)),
                                "compressors": compressors}
        if large and da.ndim > 1 and da.dtype.kind == "f":
            spec["dtype"] = "float32"
        encoding[str(name)] = spec
    return encoding


def store_bytes(sample: xr.Dataset, *, draws: int, chunk: int, large: bool) -> int:
    """Upper bound of the disk space a store for ``draws`` draws shaped like ``sample`` takes: every chunk of
    ``chunk`` draws uncompressed (Blosc never grows a chunk by more than its header), its file rounded up to
    whole disk blocks, the folders of its key (``c/<block>/0/0``: a disk block each, as on ext4; none on
    tmpfs), and the metadata.

    Compression makes a store smaller, by how much depends on the values (:data:`SMALLEST_COMPRESSED_SHARE`).
    """
    encoding = store_encoding(sample, chunk=chunk, large=large)
    n_sample = max(sample.sizes.get("draw", 1), 1)
    blocks = [min(chunk, draws - a) for a in range(0, draws, chunk)]
    total = _METADATA_BYTES * (len(sample.variables) + 1)
    for name, spec in encoding.items():
        variable = sample[name]
        itemsize = np.dtype(spec.get("dtype", variable.dtype)).itemsize
        per_draw = itemsize * variable.size // n_sample
        total += sum(-(-(per_draw * n + _CHUNK_OVERHEAD) // _DISK_BLOCK) * _DISK_BLOCK for n in blocks)
        total += (len(blocks) * max(variable.ndim - 1, 0) + 1) * _DISK_BLOCK  # c/ and c/<block>/0/...
    return int(total)


def check_store_room(path: Path, sample: xr.Dataset, *, draws: int, chunk: int, large: bool) -> None:
    """Refuse, before anything is computed, a store at ``path`` that the device clearly cannot take: less room
    than :data:`SMALLEST_COMPRESSED_SHARE` of its upper bound (:func:`store_bytes`).

    A run that passes may still fill the device (its values compress less than hoped, another process takes
    the space): the write then fails with the same exit code, and the partial store is removed.

    Raises
    ------
    InputError
        Naming the output directory, its free space and the store's estimated size (exit code 2).
    """
    from revsim.errors import InputError
    from revsim.results.output_claim import output_name
    from revsim.results.write_errors import free_bytes, readable_size

    free = free_bytes(path.parent)
    if free is None:
        return
    bound = store_bytes(sample, draws=draws, chunk=chunk, large=large)
    least = int(bound * SMALLEST_COMPRESSED_SHARE)
    if free >= least:
        return
    fit = int(draws * free / least)
    fewer = f"run fewer draws ({fit:,} might fit)" if fit >= 1 else "run fewer draws"
    raise InputError.single(
        f"{path.parent} has {readable_size(free)} free, and {output_name(path)} of {draws:,} draws needs at least "
        f"{readable_size(least)} ({readable_size(bound)} uncompressed, compressed to {SMALLEST_COMPRESSED_SHARE:.0%} "
        f"at best); nothing was written. Free some space, choose another --out, or {fewer}", path=("--out",))


def create_store(path: Path, sample: xr.Dataset, *, draws: int, chunk: int, large: bool,
                 attrs: Mapping[str, Any]) -> None:
    """Write the metadata of a store for ``draws`` draws shaped like ``sample`` (a Dataset of any draws).

    xarray writes the first draw of ``sample`` with the store's encoding; every variable with a ``draw``
    dimension (which comes first) is then resized to ``draws`` along it without writing any data, and the
    ``draw`` coordinate written whole. (A template of lazy dask arrays would do the same through a task
    graph of every chunk of every variable: 1.5 million tasks for 10^7 draws.)
    """
    import zarr

    first = sample.isel(draw=slice(0, 1))
    for name, variable in first.variables.items():
        if "draw" in variable.dims and variable.dims[0] != "draw":  # pragma: no cover - build_dataset's order
            raise ValueError(f"{name}: draw must be the first dimension, not {variable.dims}")
    first = first.assign_coords(draw=xr.Variable(("draw",), np.arange(1), sample["draw"].attrs))
    first.attrs = {**attrs, **STORE_ATTRS}
    encoding = store_encoding(sample, chunk=chunk, large=large)
    encoding["draw"] = {"chunks": (min(draws, DRAW_COORDINATE_CHUNK),)}
    with _zarr_writes():
        # every chunk written, even one equal to the fill value (a scenario without initial customers): a store
        # missing a chunk is incomplete (revsim.results.reading)
        first.to_zarr(path, mode="w-", consolidated=False, encoding=encoding, write_empty_chunks=True)
        group = zarr.open_group(str(path), mode="r+")
        for name, variable in first.variables.items():
            if "draw" in variable.dims:
                group[str(name)].resize((draws, *variable.shape[1:]))
        group["draw"][:] = np.arange(draws)


def write_block(path: Path | str, block: xr.Dataset) -> None:
    """Write the draws of ``block`` (a run's Dataset for draws ``a`` to ``b - 1``) into their region of the store."""
    draws = block["draw"].values
    names = [name for name, variable in block.data_vars.items() if "draw" in variable.dims and variable.size]
    part = block[names]
    part = part.drop_vars([name for name in part.coords])  # written with the store
    part.attrs = {}
    with _zarr_writes():
        # every chunk written, even one that equals the fill value (a block with no ARR at all): a missing
        # chunk then means a block that was not written (finish_store)
        part.to_zarr(path, mode="r+", region={"draw": slice(int(draws[0]), int(draws[-1]) + 1)},
                     consolidated=False, write_empty_chunks=True)


def finish_store(path: Path, attrs: Mapping[str, Any]) -> None:
    """Add ``attrs`` to the store's attributes, check that every chunk of draws was written, consolidate.

    Raises
    ------
    OSError
        When chunks are missing: the blocks were written where this machine cannot see them (dask workers on
        other machines need the output directory on a filesystem they share with it).
    """
    import zarr

    with _zarr_writes():
        group = zarr.open_group(str(path), mode="r+")
        group.attrs.update(dict(attrs))
        arr = group["arr"]
        if arr.nchunks_initialized < arr.nchunks:
            raise OSError(f"{arr.nchunks - arr.nchunks_initialized} of the {arr.nchunks} blocks of draws are "
                          f"missing from {path}: the dask workers wrote them where this machine cannot see "
                          "them; give --out a folder on a filesystem the workers share with this machine")
        zarr.consolidate_metadata(str(path))
