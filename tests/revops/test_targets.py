"""Targets on any KPI: relative goals against hand-computed values, P(reach) as the share of draws, the joint
probability, conflicts, and every way a target can be written wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from revops_paths import KNOWN

import revsim
from revsim.errors import InputError
from revsim.revops.compute import run_kpis
from revsim.revops.targets import evaluate_targets
from revsim.scenario.load import load_scenario

DRAWS = 20


@pytest.fixture(scope="module")
def varied():
    """The known company over 20 draws, with leads set by hand: 10 a month in FY2028; 10 + d a month in
    FY2029 in draw d, so that FY2029's leads are (1 + d / 10) times FY2028's; from April 2029, 10 in even
    draws and 20 in odd ones."""
    loaded = revsim.load_scenario(KNOWN)
    ds = revsim.simulate(loaded, draws=DRAWS, seed=7)
    d = np.arange(DRAWS)[:, None]
    leads = np.zeros((DRAWS, 27))
    leads[:, :12] = 10
    leads[:, 12:24] = 10 + d
    leads[:, 24:] = 10 + (d % 2) * 10
    ds["leads"].values[:] = 0
    ds["leads"].values[:, :, 0] = leads
    return loaded, ds


def evaluate(loaded, ds, targets: list[dict]) -> list:
    ds = ds.copy()
    ds.attrs["targets"] = json.dumps(targets)
    return evaluate_targets(run_kpis(ds, scenario=loaded))


def test_relative_targets_against_hand_computed_goals(varied) -> None:
    loaded, ds = varied
    report = evaluate(loaded, ds, [
        {"name": "+30%", "metric": "leads", "change": "+30%", "base": "previous", "period": "FY2029"},
        {"name": "115% of FY2028", "metric": "leads", "change": "115%", "base": "FY2028", "period": "FY2029"},
        {"name": "+30% of a value", "metric": "leads", "change": "+30%", "base": 100, "period": "FY2029"},
        {"name": "-10%", "metric": "leads", "change": "-10%", "base": "FY2028", "period": "FY2029",
         "direction": "below"},
    ])
    plus30, times115, value, below = report.targets
    d = np.arange(DRAWS)
    np.testing.assert_allclose(plus30.reading, 12 * (10 + d))
    np.testing.assert_allclose(plus30.goal, 1.3 * 120)
    assert list(plus30.reached) == list(d >= 3) and plus30.probability == 17 / 20
    assert times115.probability == 18 / 20  # 1 + d / 10 >= 1.15 from d = 2
    np.testing.assert_allclose(value.goal, 130)
    assert value.probability == 19 / 20  # 12 (10 + d) >= 130 from d = 1
    assert below.probability == 0  # FY2029 never falls below 90% of FY2028
    assert "FY2028 of the run" in plus30.goal_text and plus30.owner == "marketing"


def test_points_change_a_ratio(known) -> None:
    loaded, ds = known
    report = evaluate(loaded, ds, [
        {"metric": "renewal_rate", "change": "+20pts", "base": "previous", "period": "FY2029"},
        {"metric": "renewal_rate", "change": "+30pts", "base": "previous", "period": "FY2029"},
    ])
    up20, up30 = report.targets
    np.testing.assert_allclose(up20.goal, 100 / 140 + 0.20)  # FY2028's renewal rate, 20 points up
    assert up20.probability == 1 and up30.probability == 0  # FY2029's rate is 1: 28.6 points up


def test_history_base(tmp_path: Path) -> None:
    """A base read from a history folder: the MQLs of FY2027 (before the run) from funnel.csv."""
    history = tmp_path / "history"
    history.mkdir()
    rows = ["month,stage,count"] + [f"{m},mql,30" for m in
                                    [f"2026-{k:02d}" for k in range(4, 13)] + ["2027-01", "2027-02", "2027-03"]]
    (history / "funnel.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    text = KNOWN.read_text(encoding="utf-8") + (
        "targets:\n"
        "  - {metric: mql, change: +10%, base: {history: history, period: FY2027}, period: FY2028}\n"
        "  - {metric: mql, change: +20%, base: {history: history, period: FY2027}, period: FY2028}\n")
    scenario = tmp_path / "with_history.yaml"
    scenario.write_text(text, encoding="utf-8")
    loaded = load_scenario(scenario)
    ds = revsim.simulate(loaded, draws=2, seed=1)
    up10, up20 = evaluate_targets(run_kpis(ds, scenario=loaded)).targets
    np.testing.assert_allclose(up10.goal, 1.1 * 360)  # 400 MQLs in FY2028 against 396 and 432
    assert up10.probability == 1 and up20.probability == 0
    assert "FY2027 of history" in up10.goal_text


def test_probability_is_the_share_of_draws(sales_led) -> None:
    loaded, ds = sales_led
    report = evaluate_targets(run_kpis(ds, scenario=loaded))
    arr = ds["arr"].sum("segment")
    by_name = {t.label: t for t in report.targets}
    assert by_name["ARR 20M by end of 2028"].probability == float((arr.sel(month="2028-12") >= 20e6).mean())
    mql = ds["stage_entries"].sum("segment").sel(stage="mql").values[:, 3:15].sum(axis=1)  # April 2027 - March 2028
    assert by_name["9,000 MQLs in FY2028"].probability == float(np.mean(mql >= 9000))
    new_arr = ds["new_arr"].sum("segment").values
    growth = new_arr[:, 15:27].sum(axis=1) >= 1.3 * new_arr[:, 3:15].sum(axis=1)
    assert by_name["New ARR +30% in FY2029"].probability == float(np.mean(growth))
    churned = ds["churned_customers"].sum("segment").values[:, 15:27].sum(axis=1)
    churn = churned / ds["active_customers"].sum("segment").values[:, 14]
    assert by_name["Logo churn under 16% in FY2029"].probability == float(np.mean(churn <= 0.16))
    joint = np.all([t.reached for t in report.targets], axis=0)
    assert report.joint == float(np.mean(joint))


def test_conflicting_targets_are_named(varied) -> None:
    loaded, ds = varied
    report = evaluate(loaded, ds, [
        {"name": "even", "metric": "leads", "value": 10, "period": "2029-04", "direction": "below"},
        {"name": "odd", "metric": "leads", "value": 20, "period": "2029-04"},
        {"name": "always", "metric": "leads", "value": 100, "period": "FY2028"},
    ])
    even, odd, always = report.targets
    assert even.probability == odd.probability == 0.5 and always.probability == 1
    assert report.joint == 0
    (pair,) = report.conflicts()
    assert (pair["first"], pair["second"], pair["p_both"], pair["phi"]) == ("even", "odd", 0.0, -1.0)
    table = report.table()
    assert list(table["probability"]) == [0.5, 0.5, 1.0] and list(table["owner"]) == ["marketing"] * 3


def test_legacy_targets_read_as_before(sales_led) -> None:
    """Targets written before periods: at a month, customers won since the start."""
    loaded, ds = sales_led
    report = evaluate(loaded, ds, [{"metric": "new_customers_total", "value": 600, "at": "2028-06"},
                                   {"metric": "logo_churn", "value": 0.02, "at": "2028-06"}])
    won = ds["new_customers"].sum("segment").values[:, :18].sum(axis=1)
    assert report.targets[0].probability == float(np.mean(won >= 600))
    assert report.targets[1].direction == "below"  # lower is better: a goal on churn is a ceiling


# -- targets written wrong: refused when the scenario loads, at the field, with a suggestion -------------------


def refused(tmp_path: Path, targets: str, extra: str = "") -> InputError:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(KNOWN.read_text(encoding="utf-8") + extra + "targets:\n" + targets, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(scenario)
    return info.value


@pytest.mark.parametrize("target, where, words", [
    ("{metric: mqls, value: 120, period: FY2028}", "targets[0].metric", ["unknown KPI 'mqls'", "did you mean 'mql'?"]),
    ("{metric: mql, value: 120, period: FY2028, owner: markting}", "targets[0].owner",
     ["unknown team 'markting'", "did you mean 'marketing'?"]),
    ("{metric: new_arr, change: +30%, period: FY2029}", "targets[0].base",
     ["a relative target (change: +30%) needs a base", "previous"]),
    ("{metric: new_arr, value: 1M, period: FY2031}", "targets[0].period",
     ["FY2031 (2030-04 to 2031-03) is outside the simulated months (2027-04 to 2029-06)"]),
    ("{metric: new_arr, value: 1M, period: FY2030}", "targets[0].period", ["outside the simulated months"]),
    ("{metric: new_arr, change: +30%, base: FY2027, period: FY2028}", "targets[0].base",
     ["the base FY2027 (2026-04 to 2027-03) is outside the simulated months", "base: 3.2M"]),
    ("{metric: new_arr, change: +30%, base: FY2028-Q4, period: FY2029}", "targets[0].base",
     ["a quarter but the target's period FY2029 is a year"]),
    ("{metric: new_arr, value: 115%, period: FY2029}", "targets[0].value",
     ["115% is a percentage, but new_arr is not a ratio", "change: 115%"]),
    ("{metric: new_arr, value: 1M, base: previous, period: FY2029}", "targets[0].base",
     ["a base goes with a change"]),
    ("{metric: new_arr, change: 0.3, base: previous, period: FY2029}", "targets[0].change",
     ["0.3 has no unit: write +30% or 130%"]),
    ("{metric: new_arr, change: +5pts, base: previous, period: FY2029}", "targets[0].change",
     ["points (+5pts) change a ratio"]),
    ("{metric: new_arr, value: 1M, period: 'Q1 2029'}", "targets[0].period", ["ambiguous", "FY2029"]),
    ("{metric: mql}", "targets[0]", ["give the goal as value"]),
    ("{metric: cost_per_lead, value: 50, period: FY2029, at: 2028-12}", "targets[0]", ["not both"]),
    ("{metric: referrals, value: 5, period: FY2029}", "targets[0].metric", ["needs growth loops"]),
])
def test_bad_targets_are_refused(tmp_path: Path, target: str, where: str, words: list[str]) -> None:
    error = refused(tmp_path, f"  - {target}\n")
    text = str(error)
    assert where in text, text
    for word in words:
        assert word in text, text


def test_bad_kpis_block(tmp_path: Path) -> None:
    text = (KNOWN.read_text(encoding="utf-8").replace("kpis:\n  fiscal_year_start: April\n", "")
            + "kpis:\n  fiscal_year_start: Avril\n  handoff_stage: sqll\n"
              "  north_star: {metric: net_new_ar, inputs: [mql, {metric: win_rate, lever: nope}]}\n")
    scenario = tmp_path / "bad_kpis.yaml"
    scenario.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(scenario)
    assert "kpis.fiscal_year_start" in str(info.value) and "expected a month" in str(info.value)
    scenario.write_text(text.replace("Avril", "4"), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(scenario)
    text = str(info.value)
    assert "kpis.handoff_stage: unknown stage 'sqll'" in text and "did you mean 'sql'?" in text
    assert "kpis.north_star.metric: unknown KPI 'net_new_ar'; did you mean 'net_new_arr'?" in text
    assert "kpis.north_star.inputs[1].lever: the scenario has no lever 'nope'" in text
