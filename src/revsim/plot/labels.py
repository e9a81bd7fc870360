"""Placing text labels so that they do not overlap: spread positions along one axis."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["spread"]


def spread(positions: Sequence[float], gap: float, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Move positions apart so that neighbours are at least ``gap`` apart, moving each as little as possible.

    The order of the positions is kept; the result stays within ``[low, high]`` when the room allows.

    >>> spread([1.0, 1.1, 5.0], gap=1.0).round(2).tolist()
    [0.55, 1.55, 5.0]
    """
    values = np.asarray(positions, dtype=float)
    if values.size == 0:
        return values
    order = np.argsort(values, kind="stable")
    placed = values[order].copy()
    # merge clusters that are too close and centre each cluster on its mean (isotonic-style pass)
    clusters: list[list[int]] = []
    for i in range(len(placed)):
        clusters.append([i])
        while len(clusters) > 1:
            previous, current = clusters[-2], clusters[-1]
            centre_prev = placed[previous].mean()
            centre_cur = placed[current].mean()
            top_prev = centre_prev + gap * (len(previous) - 1) / 2
            bottom_cur = centre_cur - gap * (len(current) - 1) / 2
            if bottom_cur - top_prev >= gap:
                break
            clusters[-2:] = [previous + current]
    out = np.empty_like(placed)
    for cluster in clusters:
        centre = placed[cluster].mean()
        offsets = (np.arange(len(cluster)) - (len(cluster) - 1) / 2) * gap
        out[cluster] = centre + offsets
    if low is not None and out[0] < low:
        out += low - out[0]
    if high is not None and out[-1] > high:
        out -= out[-1] - high
        if low is not None:
            out = np.maximum(out, low + gap * np.arange(len(out)))
    result = np.empty_like(out)
    result[order] = out
    return result
