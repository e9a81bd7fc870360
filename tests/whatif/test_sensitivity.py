"""``revsim.sensitivity``: rank correlations, standardized regression and the tornado."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import revsim
from revsim.errors import InputError
from revsim.scenario.load import scenario_from_dict
from revsim.whatif.sensitivity import TABLE_COLUMNS, _rank_statistics

DRAWS = 150


@pytest.fixture
def dominated(funnel_data):
    """The funnel scenario with a contract value uncertain over two orders of magnitude: it must dominate ARR,
    while every other input varies over a few tens of percent at most."""
    data = copy.deepcopy(funnel_data)
    data["pricing"]["acv"] = [1000, 100000]
    return scenario_from_dict(data)


def test_a_parameter_constructed_to_dominate_ranks_first(dominated) -> None:
    result = revsim.sensitivity(dominated, draws=DRAWS, seed=2)
    table = result.table
    assert list(table.columns) == TABLE_COLUMNS
    first = table.iloc[0]
    assert first["input"] == "pricing.acv" and first["rank"] == 1
    assert first["spearman"] > 0.9 and first["src"] > 0.9
    assert table["spearman"].abs().idxmax() == 0
    assert first["swing"] > 5 * table["swing"].abs().iloc[1:].max()
    assert first["p10_value"] < first["p90_value"]
    assert first["arr_at_p10"] < result.base_median < first["arr_at_p90"]
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert set(table["input"]) == {"channels.inbound.volume", "funnel.stages.lead.conversion",
                                   "funnel.stages.mql.conversion", "pricing.acv", "onboarding.success",
                                   "retention.churn", "loops.referrals.coefficient"}


def test_the_tornado_swing_is_paired_and_signed(funnel_scenario) -> None:
    result = revsim.sensitivity(funnel_scenario, draws=DRAWS, seed=2, top=3)
    table = result.table.set_index("input")
    assert table["swing"].notna().sum() == 3  # tornado runs for the top 3 inputs only
    tornado = result.table.dropna(subset=["swing"])
    assert list(tornado["rank"]) == [1, 2, 3]
    assert tornado["swing"].abs().is_monotonic_decreasing
    if "retention.churn" in table.index and np.isfinite(table.loc["retention.churn", "swing"]):
        assert table.loc["retention.churn", "swing"] < 0  # more churn, less ARR
    rest = result.table[result.table["swing"].isna()]
    assert rest["spearman"].abs().is_monotonic_decreasing
    text = result.summary_text()
    assert "inputs together explain" in text and tornado.iloc[0]["input"] in text


def test_rank_statistics_recover_a_known_linear_model() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    y = 3.0 * x[:, 0] + 1.0 * x[:, 1] + 0.0 * x[:, 2] + rng.normal(scale=0.5, size=4000)
    spearman, src, r_squared = _rank_statistics(x, y)
    assert np.argmax(np.abs(src)) == 0
    assert src[0] == pytest.approx(3 / np.sqrt(10.25), abs=0.05)  # standardized coefficient of x0
    assert abs(src[2]) < 0.03 and abs(spearman[2]) < 0.05
    assert 0.9 < r_squared <= 1.0
    constant = np.column_stack([x[:, 0], np.ones(4000)])
    spearman, src, _ = _rank_statistics(constant, y)
    assert np.isnan(spearman[1]) and np.isnan(src[1])


def test_write_and_the_month_option(funnel_scenario, tmp_path) -> None:
    result = revsim.sensitivity(funnel_scenario, draws=40, at="2027-12", tornado=False)
    assert result.month == "2027-12"
    assert result.table["swing"].isna().all()
    written = result.write(tmp_path / "sens")
    assert sorted(p.name for p in written) == ["sensitivity.csv", "tornado.png"]
    assert list(pd.read_csv(tmp_path / "sens" / "sensitivity.csv").columns) == TABLE_COLUMNS
    with pytest.raises(InputError, match="not simulated"):
        revsim.sensitivity(funnel_scenario, draws=10, at="2030-01")


def test_a_scenario_without_uncertain_inputs_is_an_input_error() -> None:
    from whatif_scenarios import book_scenario

    with pytest.raises(InputError, match="no uncertain inputs"):
        revsim.sensitivity(scenario_from_dict(book_scenario()), draws=10)
