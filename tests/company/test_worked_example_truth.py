"""The worked example's true company at a backtest's cut (the oracle of ``forecast_accuracy.py --oracle``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.worked_example_truth import HISTORY, WorkedExampleTruth


@pytest.fixture(scope="module")
def truth() -> WorkedExampleTruth:
    return WorkedExampleTruth()


def test_the_true_company_starts_from_the_observed_book_and_the_grown_lead_volume(truth: WorkedExampleTruth) -> None:
    data = truth.true_scenario("2025-06", horizon_months=12)
    assert data["start"] == "2025-07" and data["horizon_months"] == 12
    mrr = pd.read_csv(HISTORY / "mrr.csv")
    observed = mrr[mrr.month == "2025-06"].set_index("segment").mrr
    for segment in ("smb", "mid_market"):
        book = sum(item["mrr"] for item in data["initial_book"] if item["segment"] == segment)
        assert book == pytest.approx(observed[segment], abs=0.01 * 40)  # cents, rounded per cohort
    # 2022-01 to 2025-07 is 42 months of 1.2% growth from 2,600 leads
    assert data["channels"][0]["volume"] == pytest.approx(2600 * 1.012**42)
    # every input is the truth's plain number: nothing refers to a posterior
    assert "posterior" not in repr({k: v for k, v in data.items() if k != "initial_book"})


def test_the_open_pipeline_is_the_stock_of_the_observed_entries_at_the_true_months(truth: WorkedExampleTruth) -> None:
    """Against a direct sum: each month's entries, still there after j + 1 monthly hazards of 1 / (1 + months)."""
    funnel = pd.read_csv(HISTORY / "funnel.csv")
    data = truth.true_scenario("2025-12")
    cases = (("opportunity", "smb", 2.0), ("opportunity", "mid_market", 3.5), ("sql", "smb", 1.0))
    for stage, segment, months in cases:
        entries = funnel[(funnel.stage == stage) & (funnel.segment == segment) & (funnel.month <= "2025-12")]
        counts = entries.sort_values("month")["count"].to_numpy()[::-1]
        h = 1.0 / (1.0 + months)
        within = sum(n * (1.0 - h) ** (j + 1) for j, n in enumerate(counts))
        opened = data["funnel"]["open_at_start"][stage][segment]
        # the members from before the history add (1 - h)^25 / h of a month's entries at most: a few
        assert within - 0.5 <= opened <= within + 0.05 * counts[:12].mean() / h + 0.5  # rounded to a member
        # Little's law: about months x the recent monthly entries
        assert opened == pytest.approx(months * np.mean(counts[:6]), rel=0.2)
