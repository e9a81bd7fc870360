"""``revsim.goal_seek`` against an analytic answer.

With an initial book only, monthly contracts and a constant monthly churn ``c`` known exactly, the customers
left after ``T`` renewals are Binomial(N, (1 - c) ** T), and ARR is 12 x MRR per customer x that. The smallest
churn reduction ``x`` with P(ARR >= target) >= 0.8 follows from the binomial distribution; revsim's estimate
must be within its own reported Monte Carlo uncertainty of it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats
from whatif_scenarios import book_scenario

import revsim
from revsim.errors import InputError
from revsim.scenario.load import scenario_from_dict
from revsim.whatif.goal import AT_START, FOUND, UNREACHABLE

N, MRR, CHURN, T = 200, 100.0, 0.05, 12
NEEDED = 130  # customers
TARGET = 12 * MRR * NEEDED - 600  # between two possible ARRs, so that rounding cannot matter
DRAWS = 400


def exact_probability(reduction: float) -> float:
    """P(ARR >= TARGET) with the churn lowered by ``reduction``."""
    return float(stats.binom.sf(NEEDED - 1, N, (1 - CHURN + reduction) ** T))


@pytest.fixture(scope="module")
def book():
    return scenario_from_dict(book_scenario(customers=N, mrr_per_customer=MRR, churn=CHURN, horizon=T))


@pytest.mark.parametrize("seed", [3, 8])
def test_goal_seek_finds_the_analytic_setting_within_its_monte_carlo_error(book, seed: int) -> None:
    result = revsim.goal_seek(book, "churn_cut", target_arr=TARGET, confidence=0.8, draws=DRAWS, seed=seed)
    exact = -optimize.brentq(lambda x: exact_probability(x) - 0.8, 0.0, 0.04)  # settings are negative
    assert result.status == FOUND
    low, high = result.band
    step = abs(result.search_range[1] - result.search_range[0]) / 200
    assert min(low, high) - step <= exact <= max(low, high) + step
    assert result.probability >= 0.8
    assert result.standard_error == pytest.approx(math.sqrt(result.probability * (1 - result.probability) / DRAWS))
    lo, hi = result.bracket
    assert abs(hi - lo) <= step + 1e-12 and hi == result.setting
    # the estimate at each evaluated setting is within 4 standard errors of the exact probability
    for _, row in result.evaluations.iterrows():
        assert abs(row["probability"] - exact_probability(-row["setting"])) <= 4 * max(row["standard_error"], 0.01)
    # common random numbers: the probability never falls as the churn falls
    assert np.all(np.diff(result.evaluations["probability"].to_numpy()) >= 0)
    assert "Smallest setting" in result.summary_text()


def test_a_target_already_reached_or_out_of_reach(book) -> None:
    easy = revsim.goal_seek(book, "churn_cut", target_arr=12 * MRR * 50, draws=50)
    assert easy.status == AT_START and easy.setting == 0.0 and easy.reached
    assert "Already reached" in easy.summary_text()
    hard = revsim.goal_seek(book, "churn_cut", target_arr=12 * MRR * (N + 1), draws=50)
    assert hard.status == UNREACHABLE and hard.setting is None and not hard.reached
    assert len(hard.evaluations) == 2
    assert "Not reachable" in hard.summary_text()


def test_customer_targets_ranges_and_ad_hoc_levers(book) -> None:
    result = revsim.goal_seek(book, "retention.churn=-0.01", target_customers=NEEDED, confidence=0.5, draws=100,
                              search_range=("0", "-0.04"))
    assert result.status == FOUND and result.metric == "active_customers"
    assert -0.04 <= result.setting < 0


def test_a_default_range_is_cut_where_the_input_leaves_its_domain(book) -> None:
    result = revsim.goal_seek(book, "retention.churn=-0.03", target_arr=TARGET, draws=50)  # 0 to -0.09
    assert result.search_range[1] == pytest.approx(-CHURN, abs=1e-4)
    assert any("default range ends" in note for note in result.notes)


@pytest.mark.parametrize("kwargs, message", [
    ({"target_arr": None}, "give one target"),
    ({"target_arr": "lots"}, "positive amount"),
    ({"confidence": 1.5}, "between 0 and 1"),
    ({"search_range": (0, -0.2)}, "cannot be set to -0.2"),
    ({"search_range": (0, 0)}, "two different settings"),
    ({"at": "2031-01"}, "not simulated"),
])
def test_bad_goals_are_input_errors(book, kwargs: dict, message: str) -> None:
    arguments = {"target_arr": TARGET, "draws": 10, **kwargs}
    with pytest.raises(InputError, match=message):
        revsim.goal_seek(book, "churn_cut", **arguments)
