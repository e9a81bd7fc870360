"""Ready-made companies of different shapes, each a fresh truth dict (every input a constant).

Each function returns a new dict in revsim's scenario-file format (without ``horizon_months``), to pass to
:func:`benchmarks.company.simulate_company`. :data:`SHAPES` lists them with the months to simulate and the
history window their docstrings suggest (``months`` covers the window and two more years, to compare a
forecast made at the window's end with what happened next).

=============================  ===========================================================================
``worked_example``             Northwind Analytics, the company of ``scenarios/history/truth.yaml``
``product_led``                self-serve and team plans, monthly, a 4-stage product-led funnel, a viral
                               loop, low ACV
``enterprise``                 annual contracts, sBG retention, strong expansion and price uplift
                               (NRR above 110%), long sales cycles
``two_channel_two_segment``    a five-stage funnel fed by a large and a small channel; mid-market with
                               constant annual churn, enterprise with sBG retention
``quarterly_uplift``           quarterly contracts with a price uplift at each renewal and modest upgrades
=============================  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["worked_example", "product_led", "enterprise", "two_channel_two_segment", "quarterly_uplift",
           "SHAPES", "Shape"]


def worked_example() -> dict[str, Any]:
    """Northwind Analytics: the true company behind ``scenarios/history`` (``truth.yaml``, as a dict).

    An analytics platform selling to small businesses (monthly plans, sBG churn of about 6% a month at
    first, falling) and to mid-market companies (annual contracts, sBG, about 15% churn at the first
    renewal, 3% price uplift). One seasonal inbound channel of 2,600 leads a month growing 1.2% a month, a
    five-stage funnel (lead > mql > sql > opportunity > won; mid-market opportunities are slower), 94% of
    new customers past onboarding at 2 months, a referral loop from advocates (12% of customers older than 6
    months, 1.5 referred leads each a month). Started in 2022-01; the shipped history covers 2024-01 to
    2026-12 (simulate 60 months, or 84 to see the two years after). ARR is about $25M at the end of 2026.
    """
    return {
        "name": "Northwind Analytics (the true company behind the example history)",
        "start": "2022-01",
        "currency": "USD",
        "segments": [{"name": "smb", "share": 0.7}, {"name": "mid_market", "share": 0.3}],
        "channels": [{"name": "inbound", "volume": 2600, "growth": 0.012,
                      "seasonality": [0.9, 1.0, 1.1, 1.05, 1.0, 0.9, 0.75, 0.8, 1.1, 1.15, 1.1, 1.05],
                      "dispersion": 0.02}],
        "funnel": {"stages": [
            {"name": "lead", "conversion": 0.25, "months": 0.5},
            {"name": "mql", "conversion": 0.35, "months": 0.5},
            {"name": "sql", "conversion": 0.5, "months": 1},
            {"name": "opportunity", "conversion": 0.25, "months": 2,
             "by_segment": {"mid_market": {"conversion": 0.2, "months": 3.5}}},
            {"name": "won"},
        ]},
        "pricing": {"smb": {"acv": 11000, "acv_cv": 0.4}, "mid_market": {"acv": 38000, "acv_cv": 0.5}},
        "onboarding": {"success": 0.94, "months": 2},
        "retention": {"smb": {"model": "sbg", "alpha": 0.9, "beta": 14, "contract_months": 1},
                      "mid_market": {"model": "sbg", "alpha": 1.2, "beta": 7, "contract_months": 12}},
        "expansion": {"smb": {"rate": 0.02, "size": 0.2, "contraction_rate": 0.01, "contraction_size": 0.25},
                      "mid_market": {"rate": 0.02, "size": 0.2, "contraction_rate": 0.01,
                                     "contraction_size": 0.25, "price_uplift": 0.03}},
        "advocacy": {"rate": 0.12, "adoption_months": 6},
        "loops": [{"name": "referrals", "kind": "referral", "source": "advocates", "target": "lead",
                   "coefficient": 1.5, "lag": 1}],
    }


def product_led() -> dict[str, Any]:
    """Sketchpad: a product-led design tool with monthly plans and a viral loop.

    Signups come from organic search and content (2,500 a month at the start, +1.5% a month, a summer dip)
    and from invitations sent by active customers (a viral loop: 0.08 signups per active customer a month,
    one month later). Four stages: signup > activated (40% within weeks) > pql (product-qualified, 30%
    after about a month) > paid (35%). Two segments: self-serve plans (80% of signups, $720 a year,
    constant churn of 4.5% a month) and team plans (20%, $4,800 a year, sBG churn falling from about 6%
    a month). 90% of new payers pass the first month (card failures, refunds). Upgrades are seat additions
    (3-4% of customers a month, +25-30% MRR), downgrades seat removals. Start 2021-07; a history of
    2023-07 to 2026-06 (36 months) and two more years: simulate 84 months. ARR of a few million dollars.
    """
    return {
        "name": "Sketchpad (product-led, monthly plans)",
        "start": "2021-07",
        "currency": "USD",
        "segments": [{"name": "self_serve", "share": 0.8}, {"name": "team", "share": 0.2}],
        "channels": [{"name": "organic", "volume": 2500, "growth": 0.015,
                      "seasonality": [1.15, 1.1, 1.05, 1.0, 1.0, 0.9, 0.8, 0.85, 1.05, 1.05, 1.0, 0.9],
                      "dispersion": 0.03}],
        "funnel": {"stages": [
            {"name": "signup", "conversion": 0.4, "months": 0.2},
            {"name": "activated", "conversion": 0.3, "months": 1.0,
             "by_segment": {"team": {"conversion": 0.4}}},
            {"name": "pql", "conversion": 0.35, "months": 0.5},
            {"name": "paid"},
        ]},
        "pricing": {"self_serve": {"acv": 720, "acv_cv": 0.3}, "team": {"acv": 4800, "acv_cv": 0.6}},
        "onboarding": {"success": 0.9, "months": 1},
        "retention": {"self_serve": {"model": "constant", "churn": 0.045, "contract_months": 1},
                      "team": {"model": "sbg", "alpha": 1.0, "beta": 16, "contract_months": 1}},
        "expansion": {"self_serve": {"rate": 0.03, "size": 0.3, "contraction_rate": 0.015,
                                     "contraction_size": 0.3},
                      "team": {"rate": 0.04, "size": 0.25, "contraction_rate": 0.015, "contraction_size": 0.2}},
        "advocacy": {"rate": 0.1, "adoption_months": 2},
        "loops": [{"name": "invites", "kind": "viral", "source": "active_customers", "target": "signup",
                   "coefficient": 0.08, "lag": 1}],
    }


def enterprise() -> dict[str, Any]:
    """Fortress Security: enterprise software on annual contracts, with strong expansion.

    Two segments on annual contracts with sBG retention: commercial accounts (60% of leads, $40k a year,
    about 9% churn at the first renewal) and enterprise accounts (40%, $120k, about 5%). Customers grow:
    5-6% of them upgrade each month (+20-25% MRR: more seats, more products), 5% price uplift at each
    renewal (4% for commercial), few downgrades; net revenue retention is above 110% (about 1.04 for
    commercial and 1.16 for enterprise at the first renewal, rising as the riskiest customers leave). Long
    sales cycles: 5 months in opportunity (8 for enterprise), win rates of 22% and 18%. Inbound leads
    (350 a month, +1% a month) and an outbound team whose meetings enter at sql (25 a month). Onboarding
    takes a quarter (97% succeed). Start 2021-01; a history of 2023-01 to 2026-12 and two more years:
    simulate 96 months. ARR of tens of millions.
    """
    return {
        "name": "Fortress Security (enterprise, annual contracts)",
        "start": "2021-01",
        "currency": "USD",
        "segments": [{"name": "commercial", "share": 0.6}, {"name": "enterprise", "share": 0.4}],
        "channels": [
            {"name": "inbound", "volume": 350, "growth": 0.01,
             "seasonality": [1.0, 1.05, 1.1, 1.05, 1.0, 0.95, 0.85, 0.85, 1.05, 1.1, 1.05, 0.95],
             "dispersion": 0.02},
            {"name": "outbound", "volume": 25, "growth": 0.005, "stage": "sql",
             "segment_mix": {"commercial": 0.3, "enterprise": 0.7}},
        ],
        "funnel": {"stages": [
            {"name": "lead", "conversion": 0.2, "months": 0.5},
            {"name": "mql", "conversion": 0.4, "months": 1},
            {"name": "sql", "conversion": 0.5, "months": 1.5},
            {"name": "opportunity", "conversion": 0.22, "months": 5,
             "by_segment": {"enterprise": {"conversion": 0.18, "months": 8}}},
            {"name": "won"},
        ]},
        "pricing": {"commercial": {"acv": 40000, "acv_cv": 0.6}, "enterprise": {"acv": 120000, "acv_cv": 0.8}},
        "onboarding": {"success": 0.97, "months": 3},
        "retention": {"commercial": {"model": "sbg", "alpha": 1.2, "beta": 12, "contract_months": 12},
                      "enterprise": {"model": "sbg", "alpha": 0.8, "beta": 14, "contract_months": 12}},
        "expansion": {"commercial": {"rate": 0.05, "size": 0.2, "contraction_rate": 0.01,
                                     "contraction_size": 0.25, "price_uplift": 0.04},
                      "enterprise": {"rate": 0.06, "size": 0.25, "contraction_rate": 0.01,
                                     "contraction_size": 0.2, "price_uplift": 0.05}},
        "advocacy": {"rate": 0.15, "adoption_months": 9},
    }


def two_channel_two_segment() -> dict[str, Any]:
    """Meridian Logistics Cloud: the shape that calibration finds hard (two channels, one small).

    A five-stage funnel (lead > mql > sql > opportunity > won; a 0.8-month lead stage followed by a 1-month
    mql stage) fed by two channels at the lead stage: inbound (3,500 leads a month, +0.8% a month, seasonal)
    and partners (80 a month, mostly enterprise). Two segments on annual contracts: mid-market with a
    constant 15% churn at each renewal, enterprise with sBG retention (about 11% at the first renewal,
    falling). 95% pass onboarding at 2 months; modest expansion, 3% uplift at enterprise renewals. Start
    2021-01; meant for 48 months of history, 2023-01 to 2026-12, then two more years: simulate 96 months.
    """
    return {
        "name": "Meridian Logistics Cloud (two channels, two segments)",
        "start": "2021-01",
        "currency": "USD",
        "segments": [{"name": "mid_market", "share": 0.75}, {"name": "enterprise", "share": 0.25}],
        "channels": [
            {"name": "inbound", "volume": 3500, "growth": 0.008,
             "seasonality": [1.05, 1.0, 1.1, 1.05, 1.0, 0.95, 0.8, 0.85, 1.05, 1.1, 1.05, 1.0],
             "dispersion": 0.03},
            {"name": "partner", "volume": 80, "growth": 0.0,
             "segment_mix": {"mid_market": 0.3, "enterprise": 0.7}, "dispersion": 0.05},
        ],
        "funnel": {"stages": [
            {"name": "lead", "conversion": 0.2, "months": 0.8},
            {"name": "mql", "conversion": 0.4, "months": 1.0},
            {"name": "sql", "conversion": 0.4, "months": 1.5},
            {"name": "opportunity", "conversion": 0.2, "months": 3,
             "by_segment": {"enterprise": {"conversion": 0.15, "months": 5}}},
            {"name": "won"},
        ]},
        "pricing": {"mid_market": {"acv": 15000, "acv_cv": 0.5}, "enterprise": {"acv": 60000, "acv_cv": 0.7}},
        "onboarding": {"success": 0.95, "months": 2},
        "retention": {"mid_market": {"model": "constant", "churn": 0.15, "contract_months": 12},
                      "enterprise": {"model": "sbg", "alpha": 1.0, "beta": 8, "contract_months": 12}},
        "expansion": {"mid_market": {"rate": 0.02, "size": 0.15, "contraction_rate": 0.01,
                                     "contraction_size": 0.2},
                      "enterprise": {"rate": 0.025, "size": 0.2, "contraction_rate": 0.01,
                                     "contraction_size": 0.2, "price_uplift": 0.03}},
        "advocacy": {"rate": 0.1, "adoption_months": 6},
    }


def quarterly_uplift() -> dict[str, Any]:
    """Clinicflow: practice-management software billed quarterly, with a price uplift at every renewal.

    One segment of clinics on quarterly contracts (``contract_months: 3``): an sBG churn of about 9% at the
    first renewal, falling; a 4% price uplift at each renewal (every quarter), modest upgrades (1% of
    customers a month, +20% MRR) and downgrades (0.5% a month, -30%), so that the expansion MRR mixes
    uplift and upgrades in a known proportion. Inbound leads (600 a month, +1% a month) go through
    lead > demo > won; $6,000 a year per clinic; 92% pass onboarding in the first month. Start 2021-01;
    a history of 2023-01 to 2026-12, then two more years: simulate 96 months. ARR of tens of millions.
    """
    return {
        "name": "Clinicflow (quarterly contracts, price uplift)",
        "start": "2021-01",
        "currency": "USD",
        "segments": [{"name": "clinics", "share": 1.0}],
        "channels": [{"name": "inbound", "volume": 600, "growth": 0.01,
                      "seasonality": [1.1, 1.05, 1.05, 1.0, 1.0, 0.9, 0.85, 0.85, 1.05, 1.05, 1.05, 0.95],
                      "dispersion": 0.02}],
        "funnel": {"stages": [
            {"name": "lead", "conversion": 0.3, "months": 0.5},
            {"name": "demo", "conversion": 0.45, "months": 1.0},
            {"name": "won"},
        ]},
        "pricing": {"acv": 6000, "acv_cv": 0.35},
        "onboarding": {"success": 0.92, "months": 1},
        "retention": {"model": "sbg", "alpha": 1.2, "beta": 12, "contract_months": 3},
        "expansion": {"rate": 0.01, "size": 0.2, "contraction_rate": 0.005, "contraction_size": 0.3,
                      "price_uplift": 0.04},
        "advocacy": {"rate": 0.08, "adoption_months": 6},
    }


class Shape(NamedTuple):
    """A ready-made company, with the months to simulate and the suggested history window."""

    truth: Callable[[], dict[str, Any]]
    months: int
    first_month: str
    last_month: str


#: Every shape by name: its truth, the months to simulate, and the history window its docstring suggests.
SHAPES: dict[str, Shape] = {
    "worked_example": Shape(worked_example, 84, "2024-01", "2026-12"),
    "product_led": Shape(product_led, 84, "2023-07", "2026-06"),
    "enterprise": Shape(enterprise, 96, "2023-01", "2026-12"),
    "two_channel_two_segment": Shape(two_channel_two_segment, 96, "2023-01", "2026-12"),
    "quarterly_uplift": Shape(quarterly_uplift, 96, "2023-01", "2026-12"),
}
