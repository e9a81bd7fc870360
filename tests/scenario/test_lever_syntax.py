"""Lever changes written explicitly (``scale:``, ``add:``, ``set:``, quoted signed texts), and the old unquoted
signed numbers read as before with a note."""

from __future__ import annotations

import pytest

from revsim.errors import InputError
from revsim.scenario.lever_change import ABSOLUTE, ADDITIVE, RELATIVE, Change, parse_change
from revsim.scenario.levers import scenario_levers
from revsim.scenario.load import parse_scenario_text

SCENARIO = """\
name: levers
start: 2027-01
horizon_months: 6
channels: [{name: inbound, volume: 100}]
funnel: {stages: [{name: lead, conversion: 0.2, months: 1}, {name: won}]}
pricing: {acv: 12000}
retention: {churn: 0.02}
levers:
{levers}
"""


def loaded(levers: str):
    return parse_scenario_text(SCENARIO.replace("{levers}", levers), file="levers.yaml")


@pytest.mark.parametrize(("written", "expected"), [
    ({"scale": "-20%"}, Change(RELATIVE, -0.2)),
    ({"scale": "10%"}, Change(RELATIVE, 0.1)),
    ({"add": 0.03}, Change(ADDITIVE, 0.03)),
    ({"add": "-5k"}, Change(ADDITIVE, -5000.0)),
    ({"set": 0.32}, Change(ABSOLUTE, 0.32)),
    ({"set": -0.01}, Change(ABSOLUTE, -0.01)),
    ({"set": [0.3, 0.36]}, Change(ABSOLUTE, None, [0.3, 0.36])),
    ("+10%", Change(RELATIVE, 0.1)),
    ("+0.03", Change(ADDITIVE, 0.03)),
    (0.32, Change(ABSOLUTE, 0.32)),
    ({"dist": "beta", "mean": 0.3, "sd": 0.02}, Change(ABSOLUTE, None, {"dist": "beta", "mean": 0.3, "sd": 0.02})),
])
def test_each_form_of_a_change(written, expected):
    assert parse_change(written) == expected


@pytest.mark.parametrize(("written", "message"), [
    ({"scale": 0.8}, "scale: expected a percentage change"),
    ({"add": "lots"}, "add: expected a number or an amount"),
    ({"set": None}, "set: expected a number"),
    ({"add": 1, "scale": "5%"}, "write one of scale:, add: or set: alone"),
])
def test_a_wrong_explicit_change_says_what_was_expected(written, message):
    with pytest.raises(ValueError, match=message):
        parse_change(written)


def test_the_explicit_forms_load_without_a_note():
    scenario = loaded("  - {name: a, path: retention.churn, change: {scale: -20%}}\n"
                      "  - {name: b, path: funnel.stages.lead.conversion, change: {add: 0.03}}\n"
                      "  - {name: c, path: pricing.acv, change: \"+5%\"}\n")
    levers = scenario_levers(scenario)
    assert [levers[n].change for n in "abc"] == [Change(RELATIVE, -0.2), Change(ADDITIVE, 0.03), Change(RELATIVE, 0.05)]
    assert scenario.notes == []


def test_an_unquoted_signed_number_is_read_as_before_with_a_note():
    scenario = loaded("  - {name: up, path: funnel.stages.lead.conversion, change: +0.03}\n"
                      "  - {name: down, path: retention.churn, change: -0.005}\n"
                      "  - {name: fixed, path: retention.churn, change: 0.01}\n")
    levers = scenario_levers(scenario)
    assert levers["up"].change == Change(ADDITIVE, 0.03)  # not the absolute value 0.03
    assert levers["down"].change == Change(ADDITIVE, -0.005)
    assert levers["fixed"].change == Change(ABSOLUTE, 0.01)
    assert scenario.notes == [
        "line 9: lever 'up' change: +0.03 is read as an additive change; write it 'change: {add: 0.03}' (or "
        "quoted, \"+0.03\"): the meaning of an unquoted number should not hang on its sign",
        "line 10: lever 'down' change: -0.005 is read as an additive change; write it 'change: {add: -0.005}' (or "
        "quoted, \"-0.005\"): the meaning of an unquoted number should not hang on its sign",
    ]


def test_a_bad_explicit_change_is_an_input_error_at_the_lever():
    with pytest.raises(InputError) as caught:
        loaded("  - {name: a, path: retention.churn, change: {scale: 0.8}}\n")
    problem = caught.value.problems[0]
    assert problem.path[:3] == ("levers", 0, "change") and problem.line == 9
    assert "scale: expected a percentage change" in problem.message


def test_a_lever_on_a_path_that_names_nothing_is_refused_when_the_file_loads():
    with pytest.raises(InputError) as caught:
        loaded("  - {name: a, path: retention.churm, change: {scale: -20%}}\n")
    problem = caught.value.problems[0]
    assert problem.path[:3] == ("levers", 0, "path") and problem.line == 9 and "churn" in str(problem.suggestion
                                                                                                 or problem.message)
