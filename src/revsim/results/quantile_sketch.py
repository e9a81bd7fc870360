"""Quantiles across draws without holding every draw: a mergeable fixed-grid histogram per cell.

Quantiles of a cell (one month, segment and stage, say) need every draw of it; a streamed run of 100,000 draws
cannot hold them for every cell. :class:`GridSketch` holds, per cell, the counts of its values in
:data:`DEFAULT_BINS` equal bins between the cell's smallest and largest value. It is built in two passes over
the draws, one block of draws at a time: :func:`value_range` (the exact minimum and maximum, mergeable), then
:meth:`GridSketch.add` per block. Sketches on the same grid merge by adding their counts (a block's sketch
made by one worker adds to another's).

Error bound
-----------
A quantile is read as ``numpy.quantile`` defines it (linear interpolation between the order statistics at
rank ``q (n - 1)``), each order statistic being located in its bin by the counts and placed inside the bin
by its rank there. Every estimated order statistic lies in the bin holding the exact one, so the estimate is
within **one bin width, (max - min) / bins, of the exact quantile**, in every cell, whatever the distribution.
In rank terms, the estimate is a value between the smallest and largest value of that bin: its rank error
is at most the count of the bin (the bins are fine where the values are dense only when the range is not
dominated by outliers, which is why the bound is stated in value).

Exact cases: a cell whose values are all equal, and integer values whose range is smaller than the number of
bins (counts of customers, entries): bins one unit wide hold one value each, so the quantiles are exact.

Why this sketch: the bound is simple, deterministic and holds per cell (a t-digest or KLL sketch bounds the
rank error only in probability or up to log factors), every operation is a vectorised numpy call over all
cells at once (histograms by ``bincount``), and memory is ``cells x bins`` counts, independent of draws. The
price is a second pass over the draws (the grid needs each cell's range first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["DEFAULT_BINS", "GridSketch", "value_range"]

#: Bins per cell: the error bound is (max - min) / DEFAULT_BINS, 0.05% of each cell's range.
DEFAULT_BINS = 2048


def value_range(blocks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest finite value of each cell over blocks of draws ``[draws, cells]`` (NaN for
    a cell without a finite value)."""
    low = high = None
    for block in blocks:
        block = np.asarray(block, dtype=float)
        finite = np.isfinite(block)
        block_low = np.where(finite, block, np.inf).min(axis=0, initial=np.inf)
        block_high = np.where(finite, block, -np.inf).max(axis=0, initial=-np.inf)
        low = block_low if low is None else np.minimum(low, block_low)
        high = block_high if high is None else np.maximum(high, block_high)
    if low is None or high is None:
        raise ValueError("no blocks of draws")
    empty = ~np.isfinite(low)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


class GridSketch:
    """Per-cell counts of values in equal bins between each cell's ``low`` and ``high`` (see the module).

    Parameters
    ----------
    low, high
        Per cell, the smallest and largest value the sketch will be given (:func:`value_range`); NaN for a
        cell without values.
    bins
        Bins per cell.
    integer
        Whether the values are whole numbers: bins are then whole numbers wide (one value each when the range
        allows), and quantiles of a range narrower than ``bins`` are exact.
    """

    def __init__(self, low: np.ndarray, high: np.ndarray, *, bins: int = DEFAULT_BINS, integer: bool = False):
        self.low = np.asarray(low, dtype=float).ravel()
        self.high = np.asarray(high, dtype=float).ravel()
        self.bins = int(bins)
        self.integer = integer
        span = np.where(np.isfinite(self.low), self.high - self.low, 0.0)
        if integer:
            width = np.maximum(np.ceil((span + 1) / self.bins), 1.0)
        else:
            width = span / self.bins
        self.width = width
        self.counts = np.zeros((self.low.size, self.bins), dtype=np.int32)  # draws < 2^31

    @property
    def cells(self) -> int:
        return self.low.size

    @property
    def error_bound(self) -> np.ndarray:
        """Per cell: the largest distance between an estimated quantile and the exact one (0 where exact)."""
        exact = (self.width == 0) | (self.integer & (self.width <= 1))
        return np.where(exact, 0.0, self.width)

    def _bin_of(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            position = np.where(self.width > 0, (values - self.low) / np.where(self.width > 0, self.width, 1.0), 0.0)
        return np.clip(np.floor(position), 0, self.bins - 1).astype(np.int64)

    def add(self, block: np.ndarray) -> None:
        """Count a block of draws ``[draws, cells]`` (non-finite values are left out)."""
        block = np.asarray(block, dtype=float).reshape(-1, self.cells)
        finite = np.isfinite(block)
        flat = self._bin_of(np.where(finite, block, self.low)) + np.arange(self.cells)[None, :] * self.bins
        self.counts += np.bincount(flat[finite], minlength=self.cells * self.bins).reshape(self.cells, self.bins).astype(
            np.int32)

    def merge(self, other: GridSketch) -> None:
        """Add another sketch of the same grid (made from other draws)."""
        if not (np.array_equal(self.low, other.low, equal_nan=True) and self.bins == other.bins
                and np.array_equal(self.width, other.width)):
            raise ValueError("sketches on different grids cannot be merged")
        self.counts += other.counts

    def quantiles(self, probabilities: Sequence[float]) -> np.ndarray:
        """Estimated quantiles ``[len(probabilities), cells]`` (NaN for a cell without values)."""
        n = self.counts.sum(axis=1)
        cumulative = np.cumsum(self.counts, axis=1, dtype=np.int32)
        out = np.full((len(probabilities), self.cells), np.nan)
        present = n > 0
        for i, q in enumerate(probabilities):
            h = q * (n - 1)
            below = np.floor(h)
            fraction = h - below
            lower = self._order_statistic(below, cumulative)
            upper = self._order_statistic(np.minimum(below + 1, np.maximum(n - 1, 0)), cumulative)
            gap = upper - lower  # interpolated as numpy does, so that exact order statistics give its quantiles
            between = np.where(fraction >= 0.5, upper - gap * (1 - fraction), lower + gap * fraction)
            out[i] = np.where(present, between, np.nan)
        return out

    def _order_statistic(self, rank: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
        """The value of rank ``rank`` (0-based) per cell: in the bin holding it, at its place among the bin's
        values (spread evenly over the bin)."""
        rows = np.arange(self.cells)
        b = np.minimum((cumulative <= rank[:, None]).sum(axis=1), self.bins - 1)
        before = np.where(b > 0, cumulative[rows, np.maximum(b - 1, 0)], 0)
        count = np.maximum(self.counts[rows, b], 1)
        start = self.low + b * self.width
        if self.integer:
            inside = np.where(self.width <= 1, 0.0, (rank - before + 0.5) / count * self.width)
            inside = np.minimum(inside, self.width - 1)  # whole values: the bin's last is start + width - 1
        else:
            inside = (rank - before + 0.5) / count * self.width
        return np.minimum(start + inside, self.high)
