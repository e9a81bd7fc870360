"""The kernel's counter-based generator: numpy's Philox bit for bit, uniform, and no key shared by two events."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from revsim.engine import layout as L
from revsim.engine.draw_data import RandomKey
from revsim.engine.kernels import event_uniforms as kernel_event_uniforms
from revsim.engine.philox import philox
from revsim.engine.rng import draw_key, event_uniforms, kernel_key

_U64 = 2**64


@njit(cache=False)
def _philox_words(counters, key):
    out = np.empty_like(counters)
    for i in range(counters.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = philox(counters[i, 0], counters[i, 1], counters[i, 2],
                                                            counters[i, 3], key[0], key[1])
    return out


@njit(cache=False)
def _event_grid(k0, k1, draws, months, first_index, second_index):
    """Every lane of every event (draw, process, month - 1, a, b) on a grid, in the kernel's order of loops."""
    n = draws * 7 * months * first_index * second_index
    out = np.empty((n, 4))
    i = 0
    for draw in range(draws):
        key = RandomKey(k0, k1, np.uint64(draw))
        for process in range(7):
            for month in range(-1, months - 1):
                for a in range(first_index):
                    for b in range(second_index):
                        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = kernel_event_uniforms(key, process, month, a, b)
                        i += 1
    return out


def test_philox_is_numpys_bit_for_bit():
    """numpy's Philox(counter=c - 1, key=k).random_raw(4) is the block of counter c, for counters with carries
    from one word into the next, the zero counter and random keys."""
    rng = np.random.default_rng(2026)
    counters = [0, 1, 2**64 - 1, 2**64, 2**128 - 1, 2**192 + 5, _U64**4 - 1]
    counters += [int(x) for x in rng.integers(0, 2**63, 20)]
    counters += [sum(int(w) << (64 * j) for j, w in enumerate(rng.integers(0, 2**64 - 1, 4, dtype=np.uint64)))
                 for _ in range(20)]
    for key in [0, 1, _U64 - 1, _U64, *(int(rng.integers(0, 2**63)) * _U64 + int(rng.integers(0, 2**63))
                                         for _ in range(5))]:
        words = np.array([[(c >> (64 * j)) & (_U64 - 1) for j in range(4)] for c in counters], np.uint64)
        ours = _philox_words(words, np.array([key & (_U64 - 1), key >> 64], np.uint64))
        for c, row in zip(counters, ours, strict=True):
            expected = np.random.Philox(counter=(c - 1) % _U64**4, key=key).random_raw(4)
            np.testing.assert_array_equal(row, expected, err_msg=f"counter {c:#x}, key {key:#x}")


@pytest.mark.parametrize("seed", [0, 1, 2**32, 2**63 - 1])
def test_the_kernels_event_uniforms_are_those_computed_with_numpy(seed):
    key = kernel_key(seed)
    events = [(0, 0, 0, 0, 0), (7, L.P_ADVOCACY, -1, 3, 0), (2**40, L.P_CUSTOMERS, 119, 118, 9),
              (123, L.P_BOOK_CUSTOMERS, 5, 359, 0), (1, L.P_LOOPS, 60, 5, 3)]
    for draw, process, month, a, b in events:
        ours = kernel_event_uniforms(draw_key(key, draw), process, month, a, b)
        np.testing.assert_array_equal(np.array(ours), event_uniforms(key, draw, process, month, a, b))
        assert all(0.0 < u < 1.0 for u in ours)


def test_seeds_give_different_keys():
    keys = {kernel_key(seed) for seed in range(1000)}
    assert len(keys) == 1000


@pytest.mark.slow
def test_uniforms_of_neighbouring_events_are_uniform_and_independent():
    """All lanes of 8 draws x 7 processes x 25 months x 30 x 12 event indices (2 million uniforms, next to each
    other in every coordinate): the Kolmogorov-Smirnov distance and a chi-square on 1,000 bins within their
    0.1% critical values, no 64-bit word repeated, and no correlation between neighbours in any coordinate
    beyond 4.5 standard errors (1 / sqrt(n) each)."""
    k0, k1 = kernel_key(20261205)
    grid = _event_grid(np.uint64(k0), np.uint64(k1), 8, 25, 30, 12)
    u = grid.ravel()
    n = u.size
    assert np.unique(u).size == n  # distinct uniforms: distinct 53-bit words, so no two events share a block
    assert stats.kstest(u, "uniform").statistic < 1.95 / np.sqrt(n)  # the 0.1% critical value
    bins = 1000
    observed = np.bincount((u * bins).astype(np.int64), minlength=bins)
    chi2 = ((observed - n / bins) ** 2 / (n / bins)).sum()
    assert chi2 < stats.chi2.ppf(0.999, bins - 1)
    cube = grid.reshape(8, 7, 25, 30, 12, 4)
    for axis in range(6):  # neighbouring draws, processes, months, first and second indexes, lanes
        a = np.moveaxis(cube, axis, 0)
        x, y = a[:-1].ravel() - 0.5, a[1:].ravel() - 0.5
        correlation = (x * y).mean() / (1 / 12)
        assert abs(correlation) < 4.5 / np.sqrt(x.size), f"axis {axis}: correlation {correlation:.2e}"
