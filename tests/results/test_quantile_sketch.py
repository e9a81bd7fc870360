"""The quantile sketch: within one bin width of numpy's exact quantiles, mergeable, exact where it says so."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from revsim.results.quantile_sketch import GridSketch, value_range

PROBABILITIES = (0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0)
finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
values = st.one_of(finite, st.just(float("nan")))


def _exact(x: np.ndarray) -> np.ndarray:
    out = np.full((len(PROBABILITIES), x.shape[1]), np.nan)
    for c in range(x.shape[1]):
        column = x[np.isfinite(x[:, c]), c]
        if column.size:
            out[:, c] = np.quantile(column, PROBABILITIES)
    return out


def _sketch(x: np.ndarray, bins: int, block: int, integer: bool = False) -> GridSketch:
    blocks = [x[i:i + block] for i in range(0, len(x), block)]
    sketch = GridSketch(*value_range(blocks), bins=bins, integer=integer)
    for part in blocks:
        sketch.add(part)
    return sketch


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 300), st.integers(1, 4)), elements=values),
       st.sampled_from([1, 2, 7, 64, 2048]), st.integers(1, 100))
def test_quantiles_are_within_one_bin_width(x: np.ndarray, bins: int, block: int) -> None:
    sketch = _sketch(x, bins, block)
    estimate, exact = sketch.quantiles(PROBABILITIES), _exact(x)
    assert np.array_equal(np.isnan(estimate), np.isnan(exact))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a cell without a finite value: NaN
        span = np.nanmax(x, axis=0) - np.nanmin(x, axis=0)
    bound = np.nan_to_num(span) / bins  # the stated bound, computed apart from the sketch
    # floating-point rounding of the grid (relative, and absolute for subnormal values, whose span / bins
    # rounds to 0)
    slack = 1e-9 * (np.abs(np.nan_to_num(exact)) + bound) + np.finfo(float).tiny
    assert np.all(np.nan_to_num(np.abs(estimate - exact)) <= bound + slack)


@settings(max_examples=200, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 300), st.integers(1, 3)), elements=st.integers(-5000, 5000)),
       st.integers(1, 100))
def test_whole_numbers_narrower_than_the_grid_are_exact(x: np.ndarray, block: int) -> None:
    sketch = _sketch(x.astype(float), 10_001, block, integer=True)
    assert np.all(sketch.error_bound == 0)
    np.testing.assert_array_equal(sketch.quantiles(PROBABILITIES), _exact(x.astype(float)))


def test_sketches_of_parts_merge_into_the_sketch_of_the_whole() -> None:
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, 2, (5000, 6))
    low, high = value_range([x])
    whole, first, second = (GridSketch(low, high, bins=512) for _ in range(3))
    whole.add(x)
    first.add(x[:1234])
    second.add(x[1234:])
    first.merge(second)
    np.testing.assert_array_equal(first.counts, whole.counts)
    np.testing.assert_array_equal(first.quantiles(PROBABILITIES), whole.quantiles(PROBABILITIES))
