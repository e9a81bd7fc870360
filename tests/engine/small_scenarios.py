"""Small scenarios that together reach every branch of the kernel, for draw-for-draw and counting tests.

A few months and two or three segments each, so that a slow pure-Python run of one draw takes well under a
second: loops of every source, sales capacity that binds, an initial book spread over ages (some at the
onboarding age), sBG retention with annual terms, channel noise and seasonality, uplifts, upgrades and
downgrades, advocates.
"""

from __future__ import annotations

from typing import Any

TWO_SEGMENTS = [{"name": "smb", "share": 0.7}, {"name": "mid", "share": 0.3}]

SMALL_SCENARIOS: dict[str, dict[str, Any]] = {
    "loops": {
        "name": "loops of every source",
        "start": "2027-03",
        "horizon_months": 9,
        "segments": TWO_SEGMENTS,
        "channels": [
            {"name": "inbound", "volume": [40, 80], "growth": 0.03, "dispersion": 0.2,
             "seasonality": [1, 1.1, 0.9, 1, 1.2, 0.8, 1, 1, 1.3, 1, 0.7, 1]},
            {"name": "partners", "volume": 15, "stage": "sql", "segment_mix": {"mid": 1.0}},
        ],
        "funnel": {"stages": [
            {"name": "lead", "conversion": [0.3, 0.5], "months": 0.5},
            {"name": "sql", "conversion": [0.3, 0.6], "months": 1,
             "by_segment": {"mid": {"conversion": 0.2, "months": 2}}},
            {"name": "won"},
        ]},
        "pricing": {"acv": [6000, 12000], "acv_cv": 0.6},
        "onboarding": {"success": 0.9, "months": 2},
        "retention": {"churn": [0.02, 0.05]},
        "expansion": {"rate": 0.05, "size": 0.3, "contraction_rate": 0.03, "contraction_size": 0.5},
        "advocacy": {"rate": 0.2, "adoption_months": 1},
        "loops": [
            {"name": "referrals", "source": "advocates", "target": "lead", "coefficient": [0.5, 1.5], "lag": 1},
            {"name": "word", "source": "active_customers", "target": "sql", "coefficient": 0.02, "lag": 2,
             "segment": "smb"},
            {"name": "cases", "source": "new_customers", "target": "lead", "coefficient": 0.3, "lag": 1,
             "source_segment": "mid"},
            {"name": "money", "source": "mrr", "target": "lead", "coefficient": 0.0005, "lag": 3},
        ],
        "initial_book": [{"segment": "smb", "customers": 40, "mrr": 20_000, "age_months": 1, "spread_months": 4},
                         {"segment": "mid", "customers": 7, "mrr": 9_001, "age_months": 5}],
    },
    "capacity": {
        "name": "sales capacity that binds",
        "start": "2027-11",
        "horizon_months": 8,
        "segments": [*TWO_SEGMENTS, {"name": "ent", "share": 0.1}],
        "channels": [{"name": "inbound", "volume": [150, 250], "growth": 0.05}],
        "funnel": {
            "open_at_start": {"opportunity": {"smb": 30, "mid": 12, "ent": 5}, "lead": 40},
            "stages": [
                {"name": "lead", "conversion": 0.5, "months": 0},
                {"name": "opportunity", "conversion": [0.4, 0.7], "months": 0.5},
                {"name": "won"},
            ],
            "sales_capacity": {"reps": 2.5, "hires_per_month": 0.5, "deals_per_rep_per_month": [3, 6]},
        },
        "pricing": {"acv": 24_000, "acv_cv": 0.3},
        "onboarding": {"success": [0.7, 0.95], "months": 1},
        "retention": {"churn": 0.1, "contract_months": 3},
        "expansion": {"rate": 0.1, "size": 0.2, "contraction_rate": 0.05, "contraction_size": 0.1,
                      "price_uplift": 0.07},
        "advocacy": {"rate": 0.1, "adoption_months": 2},
    },
    "book_sbg": {
        "name": "an sBG book with annual terms",
        "start": "2027-01",
        "horizon_months": 14,
        "segments": TWO_SEGMENTS,
        "channels": [{"name": "inbound", "volume": 20, "growth": -0.02}],
        "funnel": {"stages": [{"name": "trial", "conversion": 0.25, "months": 1}, {"name": "won"}]},
        "pricing": {"acv": [2000, 3000]},
        "onboarding": {"smb": {"success": 0.8, "months": 3}, "mid": {"success": 1.0, "months": 0}},
        "retention": {
            "smb": {"model": "sbg", "alpha": [0.8, 1.5], "beta": [2, 5], "contract_months": 12},
            "mid": {"model": "sbg", "alpha": 1.0, "beta": 8.0, "contract_months": 1},
        },
        "expansion": {"rate": 0.02, "size": 0.1, "price_uplift": [0.01, 0.1]},
        "advocacy": {"rate": 0.3, "adoption_months": 0},
        "loops": [{"name": "referrals", "source": "advocates", "target": "trial", "coefficient": 0.4}],
        "initial_book": [
            {"segment": "smb", "customers": 120, "arr": 300_000, "age_months": 1, "spread_months": 14},
            {"segment": "mid", "customers": 3, "arr": 100_001, "age_months": 3},
            {"segment": "smb", "customers": 50, "mrr": 5_000, "age_months": 11, "spread_months": 2},
        ],
    },
    "extremes": {
        "name": "probabilities of 0 and 1",
        "start": "2027-06",
        "horizon_months": 6,
        "segments": TWO_SEGMENTS,
        "channels": [{"name": "inbound", "volume": 30, "segment_mix": {"smb": 1.0, "mid": 0.0}}],
        "funnel": {"stages": [{"name": "lead", "conversion": 1.0, "months": 0},
                              {"name": "demo", "conversion": 0.0, "months": 0,
                               "by_segment": {"smb": {"conversion": 1.0}}},
                              {"name": "won"}]},
        "pricing": {"acv": 1200},
        "onboarding": {"success": 1.0},
        "retention": {"churn": 1.0, "contract_months": 2},
        "expansion": {"rate": 1.0, "size": 0.5},
        "advocacy": {"rate": 1.0, "adoption_months": 0},
        "initial_book": [{"segment": "mid", "customers": 10, "mrr": 1000, "age_months": 1}],
    },
}
