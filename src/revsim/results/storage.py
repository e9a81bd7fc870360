"""What ``results.nc`` keeps of a run: every draw, or per-month quantiles.

Large runs (10,000 draws of 120 months and 10 segments) hold gigabytes of draws that few readers need, so
``revsim run --keep`` chooses:

* ``draws``: every draw of every variable, in chunks of :data:`DRAW_CHUNK` draws; counts as int32 when they
  fit. In a large run (draws x months x segments above :data:`AUTO_DRAWS_LIMIT`) the file is zlib-compressed
  and the variables with a ``draw`` dimension and at least one other (money, ratios) are stored as float32,
  which halves them at a relative precision of 6e-8. Smaller runs are written uncompressed (compressing costs
  more time than a small file is worth) and keep float64, so their file holds exactly the values of the run
  (and the ARR bridge to floating-point rounding). Per-draw values (the ``param_*`` inputs,
  ``sales_cycle_months``, ``ltv``) always stay float64.
* ``quantiles``: for every variable with a ``draw`` dimension, its :data:`STORED_QUANTILES` across draws
  (a ``quantile`` dimension in place of ``draw``), ``NAME_mean`` (the mean across draws) and, for variables
  per segment, ``NAME_total`` (the quantiles of the sum over segments). The ``param_*`` variables keep every
  draw, so sensitivity can still be computed from the file.
* ``auto``: ``draws`` when draws x months x segments is at most :data:`AUTO_DRAWS_LIMIT`, ``quantiles`` above.

The file's ``revsim_keep`` attribute says which form it holds (``"draws"`` or ``"quantiles"``); code that reads
``results.nc`` must check it. :func:`stored_form` gives the Dataset a file of either form reads back as, so a
new run can be compared value for value with a recorded one.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from revsim.results.reading import open_results

__all__ = [
    "KEEP_CHOICES",
    "AUTO_DRAWS_LIMIT",
    "STORED_QUANTILES",
    "is_large",
    "resolve_keep",
    "quantile_dataset",
    "draws_encoding",
    "stored_form",
    "write_results",
    "open_results",
    "write_store",
]

KEEP_CHOICES = ("auto", "draws", "quantiles")
#: ``auto`` keeps every draw up to this many draw x month x segment values per variable, and ``draws`` stores
#: compressed float32 above it. With a five-stage funnel a run of that size holds about 36 values per draw, month and
#: segment: some 290 MB in float64 before compression. 2,000 draws x 36 months x 3 segments (216,000) keeps
#: draws; 10,000 draws x 120 months x 10 segments (12 million) keeps quantiles.
AUTO_DRAWS_LIMIT = 1_000_000
#: The quantiles across draws kept by ``--keep quantiles``.
STORED_QUANTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
#: Draws per chunk of the variables stored with ``--keep draws``.
DRAW_CHUNK = 256
#: zlib level of large runs: 1 compresses counts and cents-rounded money (with the shuffle filter) about as well
#: as 4 to 9, faster (1,000 draws of the sales-led example: 7 MB instead of 23 MB, for about 0.3 s more).
COMPRESSION_LEVEL = 1

_INT32 = np.iinfo(np.int32)


def is_large(draws: int, months: int, segments: int) -> bool:
    """Whether a run has more than :data:`AUTO_DRAWS_LIMIT` draws x months x segments."""
    return draws * months * segments > AUTO_DRAWS_LIMIT


def _dataset_is_large(ds: xr.Dataset) -> bool:
    return is_large(ds.sizes.get("draw", 1), ds.sizes.get("month", 1), ds.sizes.get("segment", 1))


def resolve_keep(keep: str, *, draws: int, months: int, segments: int) -> str:
    """``"draws"`` or ``"quantiles"``: what ``keep`` means for a run of this size."""
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {', '.join(KEEP_CHOICES)}, got {keep!r}")
    if keep != "auto":
        return keep
    return "quantiles" if is_large(draws, months, segments) else "draws"


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values if np.isfinite(values).all() else np.where(np.isfinite(values), values, np.nan)


def _across_draws(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles [quantile, ...] and means [...] across draws of ``da`` (draw first).

    In memory: exact, one month at a time. From a lazily opened store (dask arrays): exact for a variable of
    at most a value per draw and month (read whole: draws x months), else from a :mod:`quantile sketch
    <revsim.results.quantile_sketch>` built one chunk of draws at a time (:func:`_sketched_across_draws`).
    Non-finite values are left out, as in ``summary.csv``; a cell with no finite draw is NaN.
    """
    if da.chunks is not None and not set(da.dims[1:]) <= {"month"}:
        return _sketched_across_draws(da)
    return _exact_across_draws(np.asarray(da.values))


def _exact_across_draws(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rest = values.shape[1:]
    quantiles = np.full((len(STORED_QUANTILES), *rest), np.nan)
    means = np.full(rest, np.nan)
    for j in range(rest[0] if rest else 1):  # one month at a time bounds the memory of the sort
        column = _finite(values[:, j] if rest else values)
        target = (slice(None), j) if rest else (slice(None),)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells (NRR in the first 11 months)
            if np.isnan(column).any():
                quantiles[target] = np.nanquantile(column, STORED_QUANTILES, axis=0)
                means[target[1:]] = np.nanmean(column, axis=0)
            else:
                quantiles[target] = np.quantile(column, STORED_QUANTILES, axis=0)
                means[target[1:]] = column.mean(axis=0)
    return quantiles, means


#: Most cells (values per draw) one quantile sketch holds: 8,192 cells x 2,048 bins of int32 counts is 64 MB.
SKETCH_CELLS = 8192


#: Most bytes of draws read at once by :func:`_sketched_across_draws`: whole chunks of draws, as many as fit
#: (fewer reads of a small variable), at least one.
READ_BYTES = 8 * 2**20


def _draw_blocks(da: xr.DataArray) -> list[slice]:
    """Blocks of whole chunks of draws of a lazily read variable (draw first), each at most
    :data:`READ_BYTES` as float64 (or one chunk), as slices."""
    edges = [int(e) for e in (np.cumsum((0, *da.chunks[0])) if da.chunks else (0, da.sizes["draw"]))]
    most = max(READ_BYTES // (8 * max(int(np.prod(da.shape[1:], dtype=np.int64)), 1)), 1)  # draws per read
    blocks, start = [], 0
    for first, last in zip(edges[:-1], edges[1:], strict=True):  # chunk [first, last)
        if last - start > most and first > start:  # this chunk would overflow the block: close it before
            blocks.append(slice(start, first))
            start = first
    blocks.append(slice(start, edges[-1]))
    return [block for block in blocks if block.stop > block.start]


def _sketched_across_draws(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles and means across draws of a lazily read variable, reading one chunk of draws at a time.

    Means are exact (sums and counts of the finite values). Quantiles come from a
    :class:`~revsim.results.quantile_sketch.GridSketch` per block of at most :data:`SKETCH_CELLS` cells,
    within one bin width of the exact ones (see that module). Memory: a chunk of draws and the sketch.
    """
    from revsim.results.quantile_sketch import GridSketch, value_range

    rest = da.shape[1:]
    first = rest[0]
    per_row = int(np.prod(rest[1:], dtype=np.int64)) if len(rest) > 1 else 1
    rows = max(1, SKETCH_CELLS // max(per_row, 1))
    quantiles = np.full((len(STORED_QUANTILES), *rest), np.nan)
    means = np.full(rest, np.nan)
    if 0 in rest:  # a variable with an empty dimension (a run without loops): nothing to read
        return quantiles, means
    blocks = _draw_blocks(da)
    integer = da.dtype.kind in "iu"
    for start in range(0, first, rows):
        part = da.isel({da.dims[1]: slice(start, start + rows)})
        cells = int(np.prod(part.shape[1:], dtype=np.int64))

        def read(block: slice, part: xr.DataArray = part, cells: int = cells) -> np.ndarray:
            return np.asarray(part.isel(draw=block).values, dtype=float).reshape(-1, cells)

        total, count = np.zeros(cells), np.zeros(cells, dtype=np.int64)
        ranges = []
        for block in blocks:  # first pass: each cell's range, and the sums for the means
            values = read(block)
            finite = np.isfinite(values)
            total += np.where(finite, values, 0.0).sum(axis=0)
            count += finite.sum(axis=0)
            ranges.append(value_range([values]))
        low, high = value_range([np.stack([r[0] for r in ranges]), np.stack([r[1] for r in ranges])])
        sketch = GridSketch(low, high, integer=integer)
        for block in blocks:  # second pass: the counts on the grid
            sketch.add(read(block))
        shape = part.shape[1:]
        quantiles[:, start:start + rows] = sketch.quantiles(STORED_QUANTILES).reshape(len(STORED_QUANTILES), *shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start:start + rows] = np.where(count > 0, total / np.maximum(count, 1), np.nan).reshape(shape)
    return quantiles, means


def quantile_dataset(ds: xr.Dataset) -> xr.Dataset:
    """The ``--keep quantiles`` form of a run's Dataset (see the module's description).

    ``ds`` may be in memory (exact quantiles) or a ``results.zarr`` store opened lazily
    (:func:`~revsim.results.reading.open_results`): then each variable is read one chunk of draws at a time,
    and the quantiles of variables with more than a value per draw and month (per segment, stage, cohort)
    come from a quantile sketch, within one bin width (0.05% of the cell's range across draws) of the exact
    ones; means and the per-month quantiles of totals over segments are exact. The result's attributes then
    say so: ``revsim_quantiles = "sketch"`` and ``revsim_draw_chunk`` (the draws per chunk read).
    """
    data: dict[str, xr.Variable] = {}
    for name, da in ds.data_vars.items():
        name = str(name)
        if "draw" not in da.dims or name.startswith("param_"):
            data[name] = da.variable.compute()  # small: a value per draw at most
            continue
        da = da.transpose("draw", ...)
        rest = da.dims[1:]
        quantiles, means = _across_draws(da)
        data[name] = xr.Variable(("quantile", *rest), quantiles,
                                 {**da.attrs, "statistic": "quantiles across draws"})
        data[f"{name}_mean"] = xr.Variable(rest, means, {**da.attrs, "statistic": "mean across draws"})
        if "segment" in rest:
            total, _ = _across_draws(da.sum("segment"))
            data[f"{name}_total"] = xr.Variable(("quantile", *(d for d in rest if d != "segment")), total,
                                                {**da.attrs, "statistic": "quantiles across draws of the sum "
                                                                          "over segments"})
    out = xr.Dataset(data, coords={name: ds.coords[name] for name in ds.coords})
    out = out.assign_coords(quantile=("quantile", np.array(STORED_QUANTILES),
                                      {"long_name": "quantile across draws"}))
    out.attrs = {**{k: v for k, v in ds.attrs.items() if k != "revsim_store"}, "revsim_keep": "quantiles"}
    lazy = [da for da in ds.data_vars.values() if "draw" in da.dims and da.chunks is not None]
    if lazy:  # sketched: say so, and with which chunks of draws, so that a new run can be summarised the same way
        out.attrs["revsim_quantiles"] = "sketch"
        out.attrs["revsim_draw_chunk"] = int(lazy[0].chunks[lazy[0].dims.index("draw")][0])
    return out


def draws_encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """netCDF encoding of the ``--keep draws`` form: chunks of draws, int32 counts; zlib and float32 when large."""
    large = _dataset_is_large(ds)
    encoding: dict[str, dict[str, Any]] = {}
    for name, da in ds.data_vars.items():
        if "draw" not in da.dims or da.size == 0:  # an empty variable (no loops) has nothing to chunk
            continue
        spec: dict[str, Any] = {"chunksizes": tuple(min(DRAW_CHUNK, n) if d == "draw" else n
                                                    for d, n in zip(da.dims, da.shape, strict=True))}
        if large:
            spec.update(zlib=True, complevel=COMPRESSION_LEVEL, shuffle=True)
        if large and da.ndim > 1 and da.dtype.kind == "f":
            spec["dtype"] = "float32"
        elif da.dtype.kind in "iu" and _INT32.min <= int(da.min()) and int(da.max()) <= _INT32.max:
            spec["dtype"] = "int32"
        encoding[str(name)] = spec
    return encoding


def stored_form(ds: xr.Dataset, keep: str) -> xr.Dataset:
    """``ds`` as a results file written with ``keep`` (``"draws"`` or ``"quantiles"``) reads back.

    Use it to compare a new run with a recorded one: ``stored_form(new, recorded.attrs["revsim_keep"])``.
    """
    if keep == "quantiles":
        return quantile_dataset(ds)
    if keep != "draws":
        raise ValueError(f"keep must be 'draws' or 'quantiles', got {keep!r}")
    out = ds.copy()
    for name, spec in draws_encoding(ds).items():
        if "dtype" in spec:
            out[name] = ds[name].astype(spec["dtype"])
    out.attrs = {**ds.attrs, "revsim_keep": "draws"}
    return out


def write_results(ds: xr.Dataset, path: str | Path, keep: str) -> None:
    """Write ``results.nc`` in the form ``keep`` (``"draws"`` or ``"quantiles"``, see :func:`resolve_keep`)."""
    from revsim.results.write_errors import write_netcdf

    if keep == "quantiles":
        write_netcdf(quantile_dataset(ds), Path(path))
    elif keep == "draws":
        out = ds.copy()
        out.attrs = {**ds.attrs, "revsim_keep": "draws"}
        write_netcdf(out, Path(path), encoding=draws_encoding(ds))
    else:
        raise ValueError(f"keep must be 'draws' or 'quantiles', got {keep!r}")


def write_store(ds: xr.Dataset, path: str | Path, draw_chunk: int = DRAW_CHUNK) -> None:
    """Write an in-memory run as a ``results.zarr`` store of the ``--keep draws`` form (attributes
    ``revsim_keep = "draws"``, ``revsim_store = "zarr"``), in one piece.

    Streamed runs write the same store chunk by chunk; this is the form for tests and for converting a
    ``results.nc`` (``write_store(open_results("results.nc"), "results.zarr")``). Not atomic: write into a
    temporary path and rename.
    """
    from revsim.results.zarr_store import STORE_ATTRS, store_encoding

    out = ds.copy()
    out.attrs = {**ds.attrs, **STORE_ATTRS}
    for name in out.variables:
        out[name].encoding = {}
    with warnings.catch_warnings():  # zarr's notes on string coordinates and consolidated metadata in format 3
        warnings.filterwarnings("ignore", module="zarr")
        out.to_zarr(Path(path), mode="w-", encoding=store_encoding(ds, chunk=draw_chunk, large=False),
                    write_empty_chunks=True)
