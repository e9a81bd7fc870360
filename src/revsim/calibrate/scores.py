"""Forecast scores (interval coverage, CRPS, APE) and the naive baselines a forecast must beat.

Every forecast is a set of samples per month. The baselines get theirs from their own past errors: each
baseline is run from every earlier origin of the training months, and its errors ``h`` months ahead are
added to its point forecast (an empirical predictive distribution, as honest as the history allows).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["crps", "interval", "BASELINES", "baseline_samples", "LEVELS"]

#: Central interval levels scored for coverage.
LEVELS = (0.5, 0.8, 0.9)
#: Fewest months a baseline is fitted on.
MIN_FIT_MONTHS = 6


def crps(samples: np.ndarray, observed: float) -> float:
    """Continuous ranked probability score of ``samples`` for ``observed``: E|X - y| - E|X - X'| / 2.

    Lower is better; in the unit of the series. Computed exactly from the sorted samples.
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).reshape(-1))
    n = x.size
    if n == 0:
        return float("nan")
    first = np.mean(np.abs(x - observed))
    # E|X - X'| = 2 / n^2 * sum_i (2i - n - 1) x_(i)
    spread = 2.0 / n**2 * np.sum((2 * np.arange(1, n + 1) - n - 1) * x)
    return float(first - 0.5 * spread)


def interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Central ``level`` interval of the samples."""
    low, high = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _last_value(train: np.ndarray, horizon: int) -> np.ndarray:
    return np.full(horizon, train[-1])


def _linear_trend(train: np.ndarray, horizon: int) -> np.ndarray:
    window = train[-12:]
    t = np.arange(window.size)
    slope, intercept = np.polyfit(t, window, 1) if window.size > 1 else (0.0, window[-1])
    return intercept + slope * (window.size - 1 + np.arange(1, horizon + 1))


def _seasonal_naive(train: np.ndarray, horizon: int) -> np.ndarray:
    if train.size < 12:
        return _last_value(train, horizon)
    season = train[-12:]
    return np.array([season[h % 12] for h in range(horizon)])


#: name -> point forecast function(training series, horizon) -> values for months 1..horizon ahead.
BASELINES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "last_value": _last_value,
    "linear_trend": _linear_trend,
    "seasonal_naive": _seasonal_naive,
}


def baseline_samples(name: str, train: np.ndarray, horizon: int) -> np.ndarray:
    """Predictive samples ``[sample, month]`` of a baseline for the ``horizon`` months after ``train``.

    The point forecast plus the baseline's own errors at the same horizon from every earlier origin that
    leaves at least :data:`MIN_FIT_MONTHS` months to fit on (seasonal naive needs 12). With fewer than
    three such errors, the errors one month ahead are used, scaled by the square root of the horizon.
    """
    method = BASELINES[name]
    train = np.asarray(train, dtype=np.float64)
    point = method(train, horizon)
    minimum = 12 if name == "seasonal_naive" else MIN_FIT_MONTHS
    errors: list[list[float]] = [[] for _ in range(horizon)]
    for origin in range(minimum, train.size):
        ahead = min(horizon, train.size - origin)
        forecast = method(train[:origin], ahead)
        for h in range(ahead):
            errors[h].append(train[origin + h] - forecast[h])
    one_ahead = np.asarray(errors[0]) if errors[0] else np.array([0.0])
    columns = []
    for h in range(horizon):
        e = np.asarray(errors[h]) if len(errors[h]) >= 3 else one_ahead * np.sqrt(h + 1)
        columns.append(point[h] + e)
    size = max(c.size for c in columns)
    # resample each horizon's errors to a common number of samples (quantiles, so no randomness)
    probs = (np.arange(size) + 0.5) / size
    return np.stack([np.quantile(c, probs) for c in columns], axis=1)
