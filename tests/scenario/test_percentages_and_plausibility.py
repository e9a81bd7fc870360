"""Percentages wherever a fraction is expected, and values refused as almost surely a unit mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from revsim.errors import InputError
from revsim.scenario.load import load_scenario, scenario_from_dict
from revsim.scenario.percent import fractions_from_percentages, parse_percent

BASE = """
name: Units
start: 2027-01
horizon_months: 12
segments: [smb, mid]
channels: [{name: inbound, volume: 100, growth: 0.02}]
funnel: {stages: [{name: lead, conversion: 0.2, months: 1}, {name: won}]}
pricing: {acv: 12k, acv_cv: 0.4}
retention: {churn: 0.1, contract_months: 12}
expansion: {rate: 0.01, size: 0.2, price_uplift: 0.03}
"""


def scenario(**changes):
    data = yaml.safe_load(BASE)
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[leaf] = value
    return scenario_from_dict(data)


def problems(**changes) -> list[str]:
    with pytest.raises(InputError) as caught:
        scenario(**changes)
    return [f"{'.'.join(str(p) for p in problem.path)}: {problem.message}" for problem in caught.value.problems]


@pytest.mark.parametrize("text, value", [("1.5%", 0.015), ("15%", 0.15), (" 2 % ", 0.02), ("-0.5%", -0.005),
                                         ("100%", 1.0), ("1_000%", 10.0), ("1.1%", 0.011)])
def test_parse_percent(text: str, value: float) -> None:
    assert parse_percent(text) == value


@pytest.mark.parametrize("text", ["12M", "15", "%", "1.5 percent", "1.5%%", "", "abc%"])
def test_not_a_percentage(text: str) -> None:
    assert parse_percent(text) is None


@given(st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False))
def test_a_percentage_is_its_number_over_100(number) -> None:
    assert parse_percent(f"{number}%") == float(number / 100)


def test_percentages_are_the_same_as_fractions_in_every_form() -> None:
    as_fractions = scenario(**{"funnel__stages__0__conversion": [0.15, 0.25], "retention__churn":
                               {"dist": "beta", "mean": 0.1, "sd": 0.02}, "channels__0__growth": 0.015,
                               "expansion__price_uplift": 0.03, "pricing__acv_cv": 0.4}).model
    as_percentages = scenario(**{"funnel__stages__0__conversion": ["15%", "25%"], "retention__churn":
                                 {"dist": "beta", "mean": "10%", "sd": "2%"}, "channels__0__growth": "1.5%",
                                 "expansion__price_uplift": "3%", "pricing__acv_cv": "40%"}).model
    from revsim.scenario.schema import iter_inputs

    assert [(p, d.describe()) for p, d in iter_inputs(as_fractions)] == \
        [(p, d.describe()) for p, d in iter_inputs(as_percentages)]
    assert as_percentages.pricing["__all__"].acv_cv.mean() == 0.4  # an input like any other (uncertain allowed)


def test_fractions_from_percentages_leaves_files_and_names_alone() -> None:
    value = {"dist": "empirical", "file": "50%.csv", "column": "10%", "shift": "1%"}
    assert fractions_from_percentages(value) == {"dist": "empirical", "file": "50%.csv", "column": "10%",
                                                 "shift": 0.01}


@pytest.mark.parametrize("path, value", [("channels__0__volume", "10%"), ("pricing__acv", "12%")])
def test_a_percentage_where_a_number_in_a_unit_is_expected(path: str, value: str) -> None:
    (message,) = problems(**{path: value})
    assert "a percentage is accepted only where a fraction is expected" in message


@pytest.mark.parametrize("path, value, expected", [
    ("channels__0__growth", 2, "2 means +200% a month, almost surely a unit mistake: for 2% write 0.02 or 2%"),
    ("expansion__size", 20, "20 means each upgrade adds +2,000% to a customer's MRR"),
    ("expansion__price_uplift", 3, "3 means +300% on the price at each renewal"),
    ("channels__0__growth", [1, 3], "a median of 2 means +200% a month"),  # [low, high]: a normal
])
def test_implausible_values_are_refused_with_the_likely_intent(path: str, value, expected: str) -> None:
    (message,) = problems(**{path: value})
    assert expected in message and "confirmed: [" in message


@pytest.mark.parametrize("value", [15, [10, 20], 99.5])
def test_a_probability_written_as_a_whole_percentage(value) -> None:
    (message,) = problems(retention__churn=value)
    assert message.startswith("retention.churn: expected a probability between 0 and 1")
    assert "write 0.15 or 15%" in message or "[0.1, 0.2] or [10%, 20%]" in message or "0.995" in message


def test_confirmed_values_are_accepted() -> None:
    model = scenario(channels__0__growth=2, expansion__size=1.5, confirmed=["channels.inbound.growth",
                                                                           "expansion.size"]).model
    assert model.channels[0].growth.mean() == 2


def test_a_confirmed_path_must_name_a_checked_input() -> None:
    (message,) = problems(confirmed=["channels.inbound.grwth"])
    assert "did you mean 'channels.inbound.growth'?" in message


def test_plausible_values_pass() -> None:
    scenario(channels__0__growth=1.0, expansion__size=1.0, expansion__price_uplift=0.5)  # at the limits


def test_set_is_checked_like_the_file(tmp_path: Path) -> None:
    from revsim.scenario.overrides import override_scenario

    file = tmp_path / "s.yaml"
    file.write_text(BASE, encoding="utf-8")
    loaded = load_scenario(file)
    changed, _ = override_scenario(loaded, ["channels.inbound.growth=1.5%", "retention.churn=12%"], source="--set")
    assert changed.model.channels[0].growth.mean() == pytest.approx(0.015)
    with pytest.raises(InputError, match=r"2 means \+200% a month"):
        override_scenario(loaded, ["channels.inbound.growth=2"], source="--set")
