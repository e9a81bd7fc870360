"""Every team KPI on a company whose numbers are known (tests/revops/data/known.yaml), and the aggregation
over months, fiscal quarters and fiscal years on hand-set flows.

The known company starts in April 2027 with a fiscal year from April: FY2028 is its first 12 months, FY2029
the next 12, FY2030 has 3 simulated months of 12. At month 0, 400 open leads (300 in segment a, 100 in b)
become MQLs; a's 300 become SQLs and customers ($12k ACV: $1,000 MRR each), b's 100 are lost at MQL. The
book: 100 customers in a ($100k MRR, 6 months old, annual contracts, +10% at renewal, no churn), 50 in b
($5k, 1 month old, all fail onboarding at 2 months: month 1) and 40 in c ($4k, 6 months old, all churn at
their renewal: month 6). Costs: $30k other spend and $1k channel spend a month, $10 per customer, 80% gross
margin, $50k other operating costs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import revsim
from revsim.revops.compute import run_kpis

#: FY2028, FY2029, FY2030 (partial): each KPI computed by hand from the description above.
NAN = np.nan
EXPECTED = {
    "leads": [0, 0, 0],
    "mql": [400, 0, 0],
    "sql": [300, 0, 0],
    "marketing_spend": [12_000, 12_000, 3_000],
    "handoff_rate": [300 / 400, NAN, NAN],
    "handoff_months": [0, NAN, NAN],
    "deals_won": [300, 0, 0],
    "new_customers": [300, 0, 0],
    "new_arr": [3_600_000, 0, 0],
    "win_rate": [1, NAN, NAN],
    "sales_cycle_months": [0, NAN, NAN],
    "asp": [12_000, NAN, NAN],
    "pipeline_arr": [0, 0, 0],
    "pipeline_coverage": [0, 0, 0],
    "quota_attainment": [3_600_000 / (12 * 10 * 30_000), 0, 0],
    "sales_reps": [10, 10, 10],
    "customers_onboarded": [300, 0, 0],
    "onboarding_success": [300 / 350, NAN, NAN],  # a's 300 and b's 50 reach the end of onboarding in month 1
    "expansion_arr": [12 * 10_000, 12 * (30_000 + 11_000), 12 * 33_000],  # uplifts: month 6; 12, 18; 24
    "contraction_arr": [0, 0, 0],
    "churned_customers": [90, 0, 0],
    "churned_arr": [12 * 9_000, 0, 0],
    "logo_churn": [90 / 190, 0, 0],
    "renewals": [100, 300 + 100, 300],
    "renewal_rate": [100 / 140, 1, 1],
    "nrr_12m": [110_000 / 109_000, 451_000 / 410_000, 484_000 / 440_000],
    "grr_12m": [1 - 9_000 / 109_000, 1, 1],
    "active_customers": [400, 400, 400],
    "advocates": [400, 400, 400],
    "arr_start": [12 * 109_000, 12 * 410_000, 12 * 451_000],
    "net_new_arr": [3_600_000 + 120_000 - 108_000, 492_000, 396_000],
    "arr": [12 * 410_000, 12 * 451_000, 12 * 484_000],
    "mrr": [410_000, 451_000, 484_000],
    "revenue": [409_000 + 5 * 404_000 + 6 * 410_000, 6 * 440_000 + 6 * 451_000, 3 * 484_000],
    "sales_marketing_spend": [12 * 31_000, 12 * 31_000, 3 * 31_000],
    "cac": [12 * 31_000 / 300, NAN, NAN],
    "cac_payback_months": [(12 * 31_000 / 300) / (1_000 * 0.8), NAN, NAN],
}
ACTIVE = {"FY2028": 490 + 5 * 440 + 6 * 400, "FY2029": 12 * 400, "FY2030": 3 * 400}


@pytest.fixture(scope="module")
def yearly(known):
    loaded, ds = known
    return revsim.kpis(ds, "year", scenario=loaded)


def test_periods_of_the_known_company(yearly) -> None:
    assert list(yearly["period"].values) == ["FY2028", "FY2029", "FY2030"]
    assert list(yearly["complete"].values) == [True, True, False]
    assert list(yearly["months"].values) == [12, 12, 3]
    assert str(yearly["period_start"].values[0])[:7] == "2027-04" and str(yearly["period_end"].values[2])[:7] == "2030-03"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_kpi_has_its_known_value(yearly, name: str) -> None:
    values = yearly[name].values
    np.testing.assert_array_equal(values, np.broadcast_to(values[0], values.shape), err_msg=f"{name} differs between draws")
    np.testing.assert_allclose(values[0], EXPECTED[name], rtol=1e-12, atol=1e-9, equal_nan=True, err_msg=name)


def test_profit_kpis_have_their_known_values(yearly) -> None:
    revenue = np.array(EXPECTED["revenue"], dtype=float)
    active = np.array(list(ACTIVE.values()), dtype=float)
    np.testing.assert_allclose(yearly["gross_profit"].values[0], 0.8 * revenue - 10 * active)
    costs = np.array(EXPECTED["sales_marketing_spend"]) + 10 * active + 0.2 * revenue + 50_000 * np.array([12, 12, 3])
    np.testing.assert_allclose(yearly["burn_multiple"].values[0], (costs - revenue) / np.array(EXPECTED["net_new_arr"]))
    assert yearly["cost_per_lead"].isnull().all()  # no leads: undefined, not 0 or infinite


def test_ltv_cac_uses_the_runs_ltv(known, yearly) -> None:
    _, ds = known
    np.testing.assert_allclose(yearly["ltv"].values[:, 0], ds["ltv"].values)
    np.testing.assert_allclose(yearly["ltv_cac"].values[:, 0], ds["ltv"].values / EXPECTED["cac"][0])


def test_months_and_quarters_of_the_known_company(known) -> None:
    loaded, ds = known
    monthly = revsim.kpis(ds, "month", scenario=loaded)
    assert monthly.sizes["period"] == 27 and monthly["period"].values[0] == "2027-04"
    np.testing.assert_allclose(monthly["churned_customers"].values[0, :7], [0, 50, 0, 0, 0, 0, 40])
    np.testing.assert_allclose(monthly["logo_churn"].values[0, [1, 6]], [50 / 490, 40 / 440])
    quarterly = revsim.kpis(ds, "quarter", scenario=loaded)
    assert list(quarterly["period"].values[:5]) == ["FY2028-Q1", "FY2028-Q2", "FY2028-Q3", "FY2028-Q4", "FY2029-Q1"]
    np.testing.assert_allclose(quarterly["logo_churn"].values[0, :3], [50 / 190, 0, 40 / 440])  # pooled per quarter
    np.testing.assert_allclose(quarterly["renewals"].values[0, :5], [0, 0, 100, 0, 300])


def test_teams_and_attributes(known) -> None:
    loaded, ds = known
    sales = revsim.kpis(ds, "year", teams=["sales", "marketing_to_sales"], scenario=loaded)
    assert "win_rate" in sales and "handoff_rate" in sales and "sql" in sales and "cac" in sales
    assert "mql" in sales  # the hand-off stage: marketing's, watched by the hand-off
    assert "arr" not in sales and "logo_churn" not in sales
    rate = sales["win_rate"].attrs
    assert rate["team"] == "sales" and rate["kind"] == "rate" and rate["units"] == "ratio"
    assert "Σ_P sql converted" in rate["formula"]
    assert sales.attrs["handoff_stage"] == "mql" and sales.attrs["closing_stage"] == "sql"


# -- aggregation on hand-set flows: April fiscal years, a partial final year, pooled rates ------------------


@pytest.fixture(scope="module")
def hand_set(known):
    """The known company with leads, stage flows and open members set by hand (in draw d, month t counted
    from 1: (d + 1) t leads), so that every period's sum is an arithmetic series; $100 of channel spend a
    month."""
    loaded, ds = known
    ds = ds.copy(deep=True)
    draws, months = ds.sizes["draw"], ds.sizes["month"]
    scale = np.arange(1, draws + 1)[:, None]
    t = np.arange(1, months + 1)[None, :]
    ds["leads"].values[:] = 0
    ds["leads"].values[:, :, 0] = scale * t
    ds["channel_spend"].values[:] = 100.0  # a month's cost per lead falls as leads grow
    for name, k, values in (("stage_converted", 2, 3 * t), ("stage_lost", 2, scale * t), ("open_in_stage", 2, t)):
        ds[name].values[:] = 0
        ds[name].values[:, :, 0, k] = values
    return loaded, ds


def test_flows_sum_over_fiscal_years_and_quarters(hand_set) -> None:
    loaded, ds = hand_set
    yearly = revsim.kpis(ds, "year", scenario=loaded)
    scale = np.arange(1, 5)[:, None]
    fy = [sum(range(1, 13)), sum(range(13, 25)), sum(range(25, 28))]  # 78, 222 and the partial year's 78
    np.testing.assert_allclose(yearly["leads"].values, scale * np.array(fy))
    quarterly = revsim.kpis(ds, "quarter", scenario=loaded)
    assert quarterly.sizes["period"] == 9 and quarterly["complete"].values.all()
    np.testing.assert_allclose(quarterly["leads"].values[0], [6, 15, 24, 33, 42, 51, 60, 69, 78])
    assert yearly["leads"].values.sum() == quarterly["leads"].values.sum()


def test_rates_are_pooled_from_the_periods_sums(hand_set) -> None:
    loaded, ds = hand_set
    yearly = revsim.kpis(ds, "year", scenario=loaded)
    spend = np.array([100 * 12, 100 * 12, 100 * 3])
    leads = np.arange(1, 5)[:, None] * np.array([78, 222, 78])
    np.testing.assert_allclose(yearly["cost_per_lead"].values, spend / leads)
    # win rate: 3t won against (d + 1) t lost, pooled: 3 / (3 + d + 1) in every period
    np.testing.assert_allclose(yearly["win_rate"].values, np.repeat(3 / (3 + np.arange(1, 5)[:, None]), 3, axis=1))
    # sales cycle by Little's law: open members over members leaving, pooled: t / ((3 + d + 1) t)
    np.testing.assert_allclose(yearly["sales_cycle_months"].values,
                               np.repeat(1 / (3 + np.arange(1, 5)[:, None]), 3, axis=1))
    monthly = revsim.kpis(ds, "month", scenario=loaded)
    averaged = np.nanmean(monthly["cost_per_lead"].values[:, :12], axis=1)
    assert not np.allclose(averaged, yearly["cost_per_lead"].values[:, 0])  # pooling is not averaging months


def test_stage_kpis_follow_the_funnel(sales_led) -> None:
    """On a random run: each stage's KPI is the sum of its entries, and rates pooled from the flows."""
    loaded, ds = sales_led
    run = run_kpis(ds, scenario=loaded)
    table = run.table("quarter")
    assert table.attrs["fiscal_year_start"] == 4 and table["period"].values[0] == "FY2027-Q4"
    entries = ds["stage_entries"].sum("segment").values  # [draw, month, stage]
    for k, stage in enumerate(ds["stage"].values[:-1]):
        np.testing.assert_allclose(table[str(stage)].values[:, 1], entries[:, 3:6, k].sum(axis=1))
    converted = ds["stage_converted"].sum("segment").values[:, 3:6, 3].sum(axis=1)
    lost = ds["stage_lost"].sum("segment").values[:, 3:6, 3].sum(axis=1)
    np.testing.assert_allclose(table["win_rate"].values[:, 1], converted / (converted + lost))
    churned = ds["churned_customers"].sum("segment").values[:, 3:6].sum(axis=1)
    start = ds["active_customers"].sum("segment").values[:, 2]
    np.testing.assert_allclose(table["logo_churn"].values[:, 1], churned / start)
    assert json.loads(ds.attrs["targets"])  # the example declares targets
