"""The backtest's intervals against truth: one month ahead on small histories of the independent simulator.

Each of :data:`calibration_workers.ARR_COVERAGE_HISTORIES` small companies (one segment, three stages,
monthly plans, rates varied per company) is simulated by :mod:`benchmarks.company`, which does not use the
engine, for 25 months; the backtest calibrates on the first 24 and forecasts the 25th. The 90% interval of
ARR one month ahead must hold the actual ARR in 80% to 97% of the companies (a binomial of 20 trials at 90%
has a standard deviation of 6.7 points: the band is about 1.5 of them either way).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from calibration_workers import ARR_COVERAGE_HISTORIES


@pytest.fixture(scope="module")
def coverage(fits: dict[str, Any]) -> dict[str, Any]:
    return fits["arr_coverage"].result()


@pytest.mark.slow
def test_one_month_ahead_arr_intervals_hold_the_actual_arr(coverage: dict[str, Any]) -> None:
    rows = coverage["rows"]
    assert len(rows) == ARR_COVERAGE_HISTORIES
    inside = np.array([r["low_90"] <= r["actual"] <= r["high_90"] for r in rows])
    assert 0.80 <= inside.mean() <= 0.97, [(round(r["pit"], 3), r["actual"]) for r in rows]
