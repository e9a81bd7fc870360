"""The example scenarios behave like the companies they describe."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import revsim

SALES_LED = Path(__file__).resolve().parents[1] / "scenarios" / "saas_sales_led.yaml"


def test_the_sales_led_book_renews_across_the_year() -> None:
    """The initial book is spread over its renewal months: no month where a year of churn lands at once (the
    book written as one cohort renewed every November, with negative net new ARR that month)."""
    ds = revsim.simulate(SALES_LED, draws=200, seed=4)
    churned = np.median(ds["churned_arr"].sum("segment").values, axis=0)
    net_new = np.median((ds["new_arr"] + ds["expansion_arr"] - ds["contraction_arr"] - ds["churned_arr"])
                        .sum("segment").values, axis=0)
    assert churned[:12].min() > 0, "book customers renew (and some churn) in every month of the first year"
    assert churned.max() < 3 * np.median(churned)
    assert (net_new > 0).all()
