"""Retention tables and heatmaps: the model's expected retention agrees with the run's LTV; cohort tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from layout import layout_problems

import revsim
import revsim.plot
from revsim.plot import style
from revsim.plot.retention import cohort_table, expected_retention, expected_retention_draws
from revsim.plot.unavailable import ChartUnavailable
from revsim.scenario.load import scenario_from_dict

BASE = {
    "name": "One segment",
    "start": "2027-01",
    "horizon_months": 24,
    "channels": [{"name": "inbound", "volume": [200, 300]}],
    "funnel": {"stages": [{"name": "lead", "conversion": [0.1, 0.2], "months": 1}, {"name": "won"}]},
    "pricing": {"acv": [10_000, 14_000], "acv_cv": 0.3},
    "onboarding": {"success": [0.85, 0.95], "months": 2},
    "expansion": {"rate": [0.01, 0.03], "size": 0.2, "contraction_rate": 0.005, "contraction_size": 0.3,
                  "price_uplift": 0.04},
    "costs": {"channel_spend": {"inbound": 20_000}, "cs_cost_per_customer": 40, "gross_margin": [0.7, 0.8],
              "ltv_months": 48},
}


@pytest.mark.parametrize(
    "retention",
    [
        pytest.param({"model": "constant", "churn": [0.02, 0.05], "contract_months": 1}, id="monthly"),
        pytest.param({"model": "sbg", "alpha": [0.5, 1.0], "beta": [3, 6], "contract_months": 12}, id="sbg-annual"),
    ],
)
def test_expected_retention_sums_to_the_runs_ltv(retention: dict) -> None:
    """LTV = sum over ages of (revenue retention x ACV/12 x margin - CS cost x logo retention), draw by draw."""
    loaded = scenario_from_dict({**BASE, "retention": retention})
    ds = revsim.simulate(loaded, draws=60, seed=3)
    horizon = BASE["costs"]["ltv_months"]
    curves = expected_retention_draws(ds, loaded, max_age=horizon - 1)["all"]
    margin = ds["param_costs_gross_margin"].values[:, None]
    mrr = ds["param_pricing_acv"].values[:, None] / 12
    ltv = (curves["revenue"] * mrr * margin - BASE["costs"]["cs_cost_per_customer"] * curves["logo"]).sum(axis=1)
    np.testing.assert_allclose(ltv, ds["ltv"].values, rtol=1e-9)
    table = expected_retention(ds, "logo", loaded, ages=[0, 12, 24])
    assert table.loc["all", 0] == 1.0
    assert table.loc["all", 12] > table.loc["all", 24]  # no one comes back


def _without_file(ds: xr.Dataset, **attrs: str) -> xr.Dataset:
    moved = ds.copy()
    moved.attrs = {**ds.attrs, "scenario_file": "moved/away.yaml", "scenario_path": "", **attrs}
    return moved


def test_retention_uses_the_scenario_stored_in_the_results(sales_led) -> None:
    moved = _without_file(sales_led)
    pd.testing.assert_frame_equal(expected_retention(moved), expected_retention(sales_led))


def test_retention_needs_the_scenario(sales_led) -> None:
    """Without per-cohort results the heatmap shows the model's expected retention, which needs the scenario."""
    without_cohorts = sales_led.drop_vars(["cohort_customers", "cohort_arr"], errors="ignore")
    with pytest.raises(ChartUnavailable, match="not found"):
        revsim.plot.retention_heatmaps(_without_file(without_cohorts, scenario_json=""))


def test_a_changed_scenario_is_not_used(sales_led) -> None:
    with pytest.raises(ChartUnavailable, match="changed since the run.*does not match"):
        expected_retention(_without_file(sales_led, scenario_file=sales_led.attrs["scenario_file"],
                                         scenario_sha256="0" * 64))


def _cohort_dataset() -> xr.Dataset:
    """Two draws, three monthly cohorts, ages 0-2 (NaN past the horizon): numbers chosen by hand."""
    customers = np.array([
        [[100, 90, 80], [50, 40, np.nan], [20, np.nan, np.nan]],
        [[100, 70, 60], [50, 50, np.nan], [10, np.nan, np.nan]],
    ])
    arr = customers * 1000.0
    arr[:, 0, 2] = [110_000, 90_000]  # expansion: revenue above the customers' share
    coords = {"draw": [0, 1], "cohort": pd.date_range("2027-01-01", periods=3, freq="MS"), "age": [0, 1, 2]}
    return xr.Dataset({"cohort_customers": (("draw", "cohort", "age"), customers),
                       "cohort_arr": (("draw", "cohort", "age"), arr)}, coords=coords)


def test_cohort_table_is_the_median_retention_by_age() -> None:
    ds = _cohort_dataset()
    logo = cohort_table(ds, "logo")
    assert list(logo.index) == ["Jan 2027", "Feb 2027", "Mar 2027"]
    assert logo.loc["Jan 2027", 1] == pytest.approx(0.8)  # median of 0.9 and 0.7
    assert logo.loc["Feb 2027", 1] == pytest.approx(0.9)
    assert np.isnan(logo.loc["Mar 2027", 1])
    revenue = cohort_table(ds, "revenue")
    assert revenue.loc["Jan 2027", 2] == pytest.approx(1.0)  # median of 1.1 and 0.9


def test_cohort_heatmap_prints_each_known_cell() -> None:
    table = cohort_table(_cohort_dataset(), "logo")
    with style.offscreen():
        ax = revsim.plot.cohort_heatmap(table, title="Customers retained")
    cells = [t for t in ax.texts if (t.get_gid() or "").startswith("heatmap-")]
    assert len(cells) == int(np.isfinite(table.values).sum()) == 6
    assert {t.get_text() for t in cells} >= {"100%", "80%", "90%"}
    assert layout_problems(ax.figure) == []


def test_cohort_table_without_cohort_variables(sales_led) -> None:
    with pytest.raises(ChartUnavailable, match="per-cohort"):
        cohort_table(sales_led.drop_vars(["cohort_customers", "cohort_arr"], errors="ignore"))


def test_realised_cohorts_are_drawn_when_the_run_keeps_them(sales_led) -> None:
    """A small run keeps per-cohort detail; the heatmap then shows realised cohorts, titled with the share of
    customers left at 2 years, pooled over the cohorts that reach that age (median over draws)."""
    assert "cohort_customers" in sales_led
    fig = revsim.plot.retention_heatmaps(sales_led)
    texts = " ".join(t.get_text() for t in fig.texts)
    counts = sales_led["cohort_customers"].sum("segment", min_count=1).transpose("draw", "cohort", "age").values
    won, left = counts[:, :, 0], counts[:, :, 24]
    reached = ~np.isnan(left)
    pooled = np.median(np.nansum(np.where(reached, left, 0), axis=1) / np.nansum(np.where(reached, won, 0), axis=1))
    assert f"{round(100 * pooled)}% of customers remain after 2 years (all cohorts pooled)" in texts


def test_history_cohort_table_from_observed_cohorts() -> None:
    """Observed cohorts of a history (as a calibration reads cohorts.csv), quarterly periods."""
    from types import SimpleNamespace

    cohorts = SimpleNamespace(
        labels=["2026-01", "2026-04"], customers=np.array([[40.0, 30.0, 24.0], [50.0, 45.0, np.nan]]),
        mrr=None, period_months=3, segment=np.array([0, 0]), segment_names=["all"])
    table = revsim.plot.retention.history_cohort_table(cohorts)
    assert list(table.columns) == [0, 3, 6]
    assert table.loc["2026-01", 6] == pytest.approx(0.6)
    assert np.isnan(table.loc["2026-04", 6])
    with pytest.raises(ChartUnavailable, match="no MRR"):
        revsim.plot.retention.history_cohort_table(cohorts, "revenue")
