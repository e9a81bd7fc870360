"""Every derived metric of a run against a calculation of its own, on hand-built scenarios with constant inputs.

LTV against the closed forms of constant churn (a geometric sum) and of the shifted-beta-geometric model
(survival after t renewals B(a, b + t) / B(a, b)); CAC, CAC payback, LTV:CAC, cost and revenue per lead, win
rate and pipeline coverage recomputed from the run's own counts with plain trailing sums, and checked against
what the constant inputs imply.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy import special

import revsim
from revsim.scenario.load import scenario_from_dict

ACV = 12_000.0  # 1,000 a month
MARGIN = 0.8
SERVICE = 50.0
SPEND = {"channel": 30_000.0, "other": 20_000.0, "rep": 10_000.0}
REPS, QUOTA = 4, 25_000.0
LTV_MONTHS = 36

SCENARIO = {
    "name": "constant company",
    "start": "2027-01",
    "horizon_months": 18,
    "channels": [{"name": "inbound", "volume": 400}],
    "funnel": {
        "stages": [{"name": "lead", "conversion": 0.25, "months": 0.5},
                   {"name": "opportunity", "conversion": 0.4, "months": 1}, {"name": "won"}],
        "sales_capacity": {"reps": REPS, "deals_per_rep_per_month": 1000, "quota_per_rep": QUOTA},
    },
    "pricing": {"acv": ACV, "acv_cv": 0},
    "onboarding": {"success": 1},
    "retention": {"churn": 0.03},
    "advocacy": {"rate": 0},
    "costs": {"channel_spend": {"inbound": SPEND["channel"]}, "other_spend": SPEND["other"],
              "cost_per_rep": SPEND["rep"], "cs_cost_per_customer": SERVICE, "gross_margin": MARGIN,
              "ltv_months": LTV_MONTHS},
}


def run(draws=200, **changes):
    data = copy.deepcopy(SCENARIO)
    data.update(changes)
    return revsim.simulate(scenario_from_dict(data), draws=draws, seed=3, threads=1)


def trailing(values):
    """Sum over the last 12 months (fewer at the start), along the month axis (1), by plain loops."""
    out = np.zeros_like(values, dtype=float)
    for t in range(values.shape[1]):
        out[:, t] = values[:, max(0, t - 11):t + 1].sum(axis=1)
    return out


@pytest.fixture(scope="module")
def ds():
    return run()


def test_ltv_with_constant_churn_is_the_geometric_sum():
    ds = run(draws=4)
    churn, monthly = 0.03, ACV / 12 * MARGIN - SERVICE
    expected = monthly * (1 - (1 - churn) ** LTV_MONTHS) / churn
    np.testing.assert_allclose(ds["ltv"].values, expected, rtol=1e-12)


def test_ltv_with_sbg_retention_is_the_sum_of_beta_function_survivals():
    a, b = 0.8, 6.0
    ds = run(draws=4, retention={"model": "sbg", "alpha": a, "beta": b})
    survival = [special.beta(a, b + t) / special.beta(a, b) for t in range(LTV_MONTHS)]
    expected = (ACV / 12 * MARGIN - SERVICE) * sum(survival)
    np.testing.assert_allclose(ds["ltv"].values, expected, rtol=1e-10)


def test_cac_payback_and_ltv_cac(ds):
    new = ds["new_customers"].sum("segment").values
    spend = SPEND["channel"] + SPEND["other"] + REPS * SPEND["rep"]
    months = np.minimum(np.arange(new.shape[1]) + 1, 12)
    with np.errstate(divide="ignore", invalid="ignore"):
        cac = spend * months / trailing(new)
    np.testing.assert_allclose(ds["cac"].values, cac, rtol=1e-12)
    # a new customer's MRR is ACV / 12 exactly (no spread): payback = CAC / (1,000 x margin)
    np.testing.assert_allclose(ds["cac_payback_months"].values, cac / (ACV / 12 * MARGIN), rtol=1e-12)
    np.testing.assert_allclose(ds["ltv_cac"].values, ds["ltv"].values[:, None] / cac, rtol=1e-12)
    assert np.isfinite(cac[:, -1]).all()


def test_cost_and_revenue_per_lead(ds):
    leads = ds["leads"].sum("segment").values
    new = ds["new_customers"].sum("segment").values
    months = np.minimum(np.arange(leads.shape[1]) + 1, 12)
    np.testing.assert_allclose(ds["cost_per_lead"].values, SPEND["channel"] * months / trailing(leads), rtol=1e-12)
    np.testing.assert_allclose(ds["revenue_per_lead"].values, ACV * trailing(new) / trailing(leads), rtol=1e-12)
    # 400 leads a month: cost per lead over the last 12 months is 75, within a few standard errors
    last = ds["cost_per_lead"].values[:, -1]
    sd = 75 * np.sqrt(1 / (12 * 400))  # delta method: Poisson total of 4,800 leads
    assert abs(last.mean() - 75) < 4 * sd / np.sqrt(len(last)) + 1e-3


def test_win_rate_is_won_over_decided_in_the_closing_stage(ds):
    converted = ds["stage_converted"].sum("segment").values[..., 1]
    lost = ds["stage_lost"].sum("segment").values[..., 1]
    expected = trailing(converted) / trailing(converted + lost)
    np.testing.assert_allclose(ds["win_rate"].values, expected, rtol=1e-12)
    # each decided deal is won with probability 0.4: the pooled rate over every draw is 0.4 within its error
    decided = trailing(converted + lost)[:, -1].sum()
    pooled = trailing(converted)[:, -1].sum() / decided
    assert abs(pooled - 0.4) < 4 * np.sqrt(0.4 * 0.6 / decided)


def test_pipeline_coverage_is_open_deals_times_acv_over_a_quarters_quota(ds):
    open_deals = ds["open_in_stage"].sum("segment").values[..., 1]
    expected = open_deals * ACV / (3 * REPS * QUOTA)
    np.testing.assert_allclose(ds["pipeline_coverage"].values, expected, rtol=1e-12)
    assert (open_deals > 0).all()
