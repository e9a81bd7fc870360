"""Default priors centred on the scenario's plan: months in stage, growth and seasonality.

The priors are checked by drawing from the built model (no sampling); the recovery of a slow sales cycle, with
the default prior and with the plan's, is fitted in a fresh process (``calibration_workers.slow_stage_fits``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from calibration_workers import SLOW_STAGE_TRUTH

from revsim.calibrate.context import context_from_scenario
from revsim.calibrate.fit import plan_blocks
from revsim.calibrate.funnel import FunnelBlock, VolumeBlock, funnel_data, volume_data
from revsim.calibrate.history import History
from revsim.calibrate.plan_priors import Z90, PlanValue
from revsim.calibrate.priors import parse_prior_override
from revsim.calibrate.synthetic import funnel_counts
from revsim.scenario.load import scenario_from_dict

SEASON = [1.15, 1.1, 1.05, 1.0, 1.0, 0.9, 0.8, 0.85, 1.05, 1.05, 1.0, 0.9]
PLAN = {
    "name": "plan", "start": "2027-01", "horizon_months": 12, "currency": "USD",
    "segments": [{"name": "commercial", "share": 0.6}, {"name": "enterprise", "share": 0.4}],
    "channels": [{"name": "inbound", "volume": 300, "growth": [0.005, 0.025], "seasonality": SEASON},
                 {"name": "outbound", "volume": 20, "growth": 0.01, "stage": "opportunity"}],
    "funnel": {"stages": [
        {"name": "lead", "conversion": 0.3, "months": 0},
        {"name": "opportunity", "conversion": 0.2, "months": [3.3, 7.5],
         "by_segment": {"enterprise": {"months": 8}}},
        {"name": "won"}]},
    "pricing": {"acv": 40000},
    "retention": {"churn": 0.1, "contract_months": 12},
}


def test_the_plan_values_are_read_with_their_spread() -> None:
    context = context_from_scenario(scenario_from_dict(PLAN))
    lead, opportunity = context.plan_months[("lead", None)], context.plan_months[("opportunity", None)]
    assert lead == PlanValue(math.log(0.05), None)  # a constant 0 (the same month), at the floor
    assert opportunity.centre == pytest.approx(math.log(math.sqrt(3.3 * 7.5)))
    assert opportunity.spread == pytest.approx(math.log(7.5 / 3.3) / (2 * Z90))
    assert context.plan_months[("opportunity", "enterprise")] == PlanValue(math.log(8), None)
    assert context.plan_growth["inbound"].centre == pytest.approx(0.015)
    assert context.plan_growth["inbound"].spread == pytest.approx(0.01 / Z90)
    assert context.plan_growth["outbound"] == PlanValue(0.01, None)
    season = context.plan_seasonality["inbound"]
    assert season.sum() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(np.exp(season) / np.exp(season).mean(), np.array(SEASON) / np.mean(SEASON), rtol=0.01)
    assert "outbound" not in context.plan_seasonality


def _funnel(months: int = 30) -> Any:
    truth = SLOW_STAGE_TRUTH
    return funnel_counts(volume=300, growth=0.01, dispersion=0.02, conversion=truth["conversion"],
                         months_in_stage=truth["months_in_stage"], months=months, rng=np.random.default_rng(1),
                         stages=truth["stages"], segments=truth["segments"])


def test_the_calibration_says_which_priors_the_plan_centres() -> None:
    context = context_from_scenario(scenario_from_dict(PLAN))
    blocks, _, notes = plan_blocks(History(funnel=_funnel(months=18)), context)
    assert ("the priors of the months in stage of lead, opportunity; growth of inbound; seasonality of inbound are "
            "centred on the scenario's values") in " ".join(notes)
    assert any("18 months of history; the monthly seasonality is estimated around the scenario's" in n for n in notes)
    funnel = next(b for b in blocks if isinstance(b, FunnelBlock))
    location, sigma, offset = funnel.months_plan()
    np.testing.assert_allclose(np.exp(location), [0.05, math.sqrt(3.3 * 7.5)])
    assert offset[1].tolist() == pytest.approx([0.0, math.log(8 / math.sqrt(3.3 * 7.5))])
    # the history has no channel column: its volume is the plan's only channel entering at the first stage
    volume = next(b for b in blocks if isinstance(b, VolumeBlock))
    assert volume.data.seasonal and volume.growth_plan()[0][0] == pytest.approx(0.015)


def _draw(block: Any, names: list[str]) -> dict[str, np.ndarray]:
    pm = pytest.importorskip("pymc")
    with pm.Model(coords=block.coords()) as model:
        block.build()
    return dict(zip(names, pm.draw([model[n] for n in names], draws=4000, random_seed=3), strict=True))


def test_the_months_prior_is_centred_on_the_plan_per_segment() -> None:
    plan = {("opportunity", None): PlanValue(math.log(5.0), 0.25), ("opportunity", "enterprise"): PlanValue(
        math.log(8.0), None)}
    block = FunnelBlock(funnel_data(_funnel()), plan_months=plan)
    log_months = np.log(_draw(block, ["months_in_stage"])["months_in_stage"])  # [draw, stage, segment]
    # the lead stage keeps the default (median 1 month); opportunity is centred on 5 months, enterprise on 8
    median = np.exp(np.median(log_months, axis=0))
    np.testing.assert_allclose(median, [[1.0, 1.0], [5.0, 8.0]], rtol=0.06)
    # the segments keep their spread around the stage's value: sqrt(0.25^2 + 1) on the log scale
    assert np.std(log_months[:, 1, 1]) == pytest.approx(math.hypot(0.25, 1.0), rel=0.05)


def test_a_prior_in_the_calibration_block_replaces_the_plan() -> None:
    plan = {("opportunity", None): PlanValue(math.log(5.0), 0.25), ("opportunity", "enterprise"): PlanValue(
        math.log(8.0), None)}
    override = parse_prior_override("months_in_stage.opportunity", {"dist": "lognormal", "median": 2, "sigma": 0.5})
    block = FunnelBlock(funnel_data(_funnel()), priors={override.key: override}, plan_months=plan)
    typical = _draw(block, ["months_typical", "months_in_stage"])
    assert np.median(typical["months_typical"][:, 1]) == pytest.approx(2.0, rel=0.06)
    # no segment offset from the plan either: both segments around the override's median
    np.testing.assert_allclose(np.median(typical["months_in_stage"][:, 1], axis=0), [2.0, 2.0], rtol=0.1)
    assert block.months_plan()[2][1].tolist() == [0.0, 0.0]


def test_growth_and_seasonality_priors_are_centred_on_the_plan() -> None:
    funnel = _funnel()
    season = np.log(SEASON) - np.log(SEASON).mean()
    block = VolumeBlock(volume_data(funnel, planned_seasonality=True), plan_growth=[PlanValue(0.015, 0.006)],
                        plan_seasonality=season[None, :])
    assert block.data.seasonal  # 30 months, but estimated around the plan's seasonality with fewer too
    draws = _draw(block, ["growth", "seasonality_log"])
    assert np.mean(draws["growth"]) == pytest.approx(0.015, abs=0.0005)
    assert np.std(draws["growth"]) == pytest.approx(0.006, rel=0.05)
    np.testing.assert_allclose(np.mean(draws["seasonality_log"], axis=0), season, atol=0.012)
    np.testing.assert_allclose(draws["seasonality_log"].sum(axis=-1), 0.0, atol=1e-9)
    # without a plan: the default, normal(0, 0.05), and effects around 0
    default = _draw(VolumeBlock(volume_data(funnel)), ["growth", "seasonality_log"])
    assert np.std(default["growth"]) == pytest.approx(0.05, rel=0.05)
    np.testing.assert_allclose(np.mean(default["seasonality_log"], axis=0), 0.0, atol=0.012)
    assert not volume_data(funnel_counts(volume=300, growth=0.0, dispersion=0.0, conversion=[0.3],
                                         months_in_stage=[0.5], months=18, rng=np.random.default_rng(0))).seasonal


@pytest.mark.slow
def test_a_slow_stage_is_recovered_with_the_plan_and_leans_to_one_month_without(fits: dict[str, Any]) -> None:
    """48 months of a sales cycle of 5 months (commercial) and 8 (enterprise), the plan saying 6.25 and 10.

    The counts identify a slow stage poorly: the default prior (median 1 month) pulls the months well below the
    truth. Centred on the plan (a quarter above the truth), the posterior medians fall within two posterior
    standard deviations (log scale) of the truth, and above the default's."""
    result = fits["slow_stage"].result()
    truth = np.log([row[1] for row in SLOW_STAGE_TRUTH["months_in_stage"]])
    plan, default = np.log(result["plan"]["months"]), np.log(result["default"]["months"])  # [sample, segment]
    error = (np.median(plan, axis=0) - truth) / np.std(plan, axis=0)
    assert np.all(np.abs(error) < 2), error
    low, high = np.quantile(plan, [0.05, 0.95], axis=0)
    assert np.all((low <= truth) & (truth <= high)), (np.exp(low), np.exp(high))
    assert np.all(np.median(plan, axis=0) > np.median(default, axis=0))
    assert result["plan"]["compiled_from"] == "memory"  # the plan's values are data: the same compiled model
    assert result["plan"]["divergences"] == 0
