"""The stage's entries before the history, which the funnel model assumes fed a steady state: against truth."""

from __future__ import annotations

import numpy as np
import pytest

from revsim.calibrate.funnel import expected_leavers, stage_stock, trend_before_history


def test_the_trend_of_exact_entries_is_their_level_and_growth() -> None:
    t = np.arange(36)
    series = np.stack([17.0 * 1.01 ** t, np.full(36, 5.0), 40.0 * 0.98 ** t])
    level, growth = trend_before_history(series)
    assert level == pytest.approx([17.0, 5.0, 40.0], rel=1e-9)
    assert growth == pytest.approx([0.01, 0.0, -0.02], abs=1e-9)


def test_a_series_starting_at_zero_had_nobody_before_the_history() -> None:
    level, growth = trend_before_history(np.array([[0.0, 0.0, 3.0, 1.0, 2.0], [4.0, 0.0, 3.0, 1.0, 2.0]]))
    assert level[0] == 0.0 and growth[0] == 0.0 and level[1] > 0
    assert trend_before_history(np.zeros((2, 0)))[0].shape == (2,)


def test_the_stock_from_before_the_history_is_the_sum_of_its_surviving_entries() -> None:
    """Entries ``level (1+g)^-i`` in the ``i``-th month before the history, each facing a monthly hazard ``h``
    until the end of month ``t``: summed over 2,000 months, against the closed form."""
    level, growth, h = np.array([17.0, 17.0, 9.0]), np.array([0.01, 0.0, -0.02]), np.array([1 / 9, 1 / 3, 0.5])
    trials = np.zeros((3, 4))  # nobody enters during the history: the stock is the members from before it
    stock, squared = stage_stock(trials, h, (level, growth))
    i = np.arange(1, 2001)[None, :]
    for t in range(4):
        # before month t's leaving, a member who entered i months before the history has survived t + i - 1
        # month ends... of the history's months, and i - 1 + t hazards in all: (1-h)^(t+i)
        entries = level[:, None] * (1 + growth[:, None]) ** -i
        survive = (1 - h[:, None]) ** (t + i)
        assert stock[:, t] == pytest.approx(np.sum(entries * survive, axis=1), rel=1e-9)
        assert squared[:, t] == pytest.approx(np.sum(entries * survive ** 2, axis=1), rel=1e-9)


def _slow_stage(rng: np.random.Generator, months: float, conversion: float, level: float, growth: float,
                burn_in: int, T: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Entries and conversions of a stage that started ``burn_in`` months before a history of ``T`` months:
    Poisson entries growing ``growth`` a month, geometric time in stage; also the realised conversion among
    the history's leavers."""
    h = 1.0 / (1.0 + months)
    total = burn_in + T
    entries = rng.poisson(level * (1 + growth) ** (np.arange(total) - burn_in))
    converted = np.zeros(total)
    left = np.zeros(total)
    for b, n in enumerate(entries):
        stay = rng.geometric(h, size=n) - 1
        win = rng.random(n) < conversion
        leave = b + stay
        keep = leave < total
        np.add.at(converted, leave[keep & win], 1)
        np.add.at(left, leave[keep], 1)
    realised = converted[burn_in:].sum() / left[burn_in:].sum()
    return entries[burn_in:].astype(float), converted[burn_in:], realised


@pytest.mark.slow
def test_the_win_rate_of_a_slow_stage_is_recovered_without_the_first_months_noise() -> None:
    """Eight months in stage, 17 entries a month growing 1% (the enterprise company's opportunity stage), ten
    years before a three-year history: with the true months in stage, the win rate estimated from the counts
    (wins over expected leavers) is centred on the realised rate among the history's leavers (mean error
    0.0001, standard error 0.0003, for a rate of 0.18), and spread less than when the stage's start is read
    from its first month alone (RMSE 0.0052 against 0.0091); a constant level before the history (the trend's
    level without its growth) counts too many leavers (mean error -0.0027). With two years before the history
    instead of ten, the trend continued before the company started leaves a bias of -0.0019 (constant level
    -0.0046, first month -0.0044)."""
    rng = np.random.default_rng(12)
    months, conversion, reps = 8.0, 0.18, 300
    h = np.array([1.0 / (1.0 + months)])
    errors: dict[str, list[float]] = {"trend": [], "constant": [], "first month": []}
    for _ in range(reps):
        n, y, realised = _slow_stage(rng, months, conversion, 17.0, 0.01, 120, 36)
        level, growth = trend_before_history(n[None])
        for name, before in (("trend", (level, growth)), ("constant", (level, np.zeros(1))),
                             ("first month", (n[None, 0], np.zeros(1)))):
            errors[name].append(y.sum() / expected_leavers(n[None], h, before)[0].sum() - realised)
    e = {name: np.array(values) for name, values in errors.items()}
    se = {name: values.std() / np.sqrt(reps) for name, values in e.items()}
    assert abs(e["trend"].mean()) < 3 * se["trend"]  # centred on the realised rate
    assert e["constant"].mean() < -3 * se["constant"]  # a constant level counts too many leavers: rate low
    # the first month's noise, multiplied by the months in stage, spreads the estimate more
    assert np.sqrt(np.mean(e["trend"] ** 2)) < 0.8 * np.sqrt(np.mean(e["first month"] ** 2))
