"""Small scenarios for the what-if tests, as plain dicts (as a YAML file would hold them)."""

from __future__ import annotations

from typing import Any

#: One segment, a channel feeding a three-stage funnel with uncertain conversions, an initial book, constant
#: churn, onboarding, advocates and a referral loop. Contract values do not vary (acv_cv 0) and nothing
#: expands, so that every count, and ARR, is monotone in a conversion rate draw by draw.
FUNNEL_SCENARIO: dict[str, Any] = {
    "name": "what-if funnel",
    "start": "2027-01",
    "horizon_months": 18,
    "channels": [{"name": "inbound", "volume": [150, 250], "growth": 0.01, "dispersion": 0.05}],
    "funnel": {
        "stages": [
            {"name": "lead", "conversion": [0.2, 0.3], "months": 0.5},
            {"name": "mql", "conversion": {"dist": "beta", "mean": 0.35, "sd": 0.05}, "months": 1},
            {"name": "won"},
        ],
        "sales_capacity": {"reps": 4, "deals_per_rep_per_month": 6},
    },
    "pricing": {"acv": [9000, 15000]},
    "onboarding": {"success": [0.85, 0.97]},
    "retention": {"churn": [0.01, 0.03]},
    "advocacy": {"rate": 0.1, "adoption_months": 2},
    "loops": [{"name": "referrals", "source": "advocates", "target": "mql", "coefficient": [0.05, 0.15]}],
    "initial_book": [{"customers": 120, "arr": 1.4e6, "age_months": 6, "spread_months": 6}],
    "levers": [
        {"name": "mql_up", "path": "funnel.stages.mql.conversion", "change": "+0.05"},
        {"name": "churn_down", "path": "retention.churn", "change": "-30%"},
        {"name": "lead_up", "path": "funnel.stages.lead.conversion", "change": "+10%"},
    ],
}


def book_scenario(*, customers: int = 200, mrr_per_customer: float = 100.0, churn: float = 0.05,
                  horizon: int = 12, lever_range: tuple[float, float] = (0.0, -0.04)) -> dict[str, Any]:
    """An initial book only, monthly contracts, constant churn ``churn``, no parameter uncertainty: the
    customers left after ``horizon`` months are Binomial(customers, (1 - churn) ** horizon) and ARR is
    12 x that x ``mrr_per_customer``. Lever ``churn_cut`` lowers the churn by an amount."""
    return {
        "name": "book only",
        "start": "2027-01",
        "horizon_months": horizon,
        "funnel": {"stages": [{"name": "lead", "conversion": 0, "months": 1}, {"name": "won"}]},
        "pricing": {"acv": 1200},
        "retention": {"churn": churn, "contract_months": 1},
        "initial_book": [{"customers": customers, "mrr": customers * mrr_per_customer, "age_months": 1}],
        "levers": [{"name": "churn_cut", "path": "retention.churn", "change": "-0.01", "range": list(lever_range)}],
    }
