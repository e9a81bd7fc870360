"""Charts and tables of results kept as quantiles agree with the same run's draws where they claim to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from revsim.pipeline import simulate
from revsim.plot.bridge import bridge_values
from revsim.plot.fan import fan_quantiles
from revsim.plot.kpis import kpi_table
from revsim.plot.targets import ChartTarget, target_chance, target_probability
from revsim.results.storage import quantile_dataset
from revsim.results.summary import QUANTILES, summary_table

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "saas_sales_led.yaml"
DRAWS = 200


@pytest.fixture(scope="module")
def forms() -> tuple[xr.Dataset, xr.Dataset]:
    ds = simulate(EXAMPLE, draws=DRAWS, seed=8, threads=2)
    return ds, quantile_dataset(ds)


def test_the_fan_chart_reads_the_stored_quantiles(forms) -> None:
    ds, q = forms
    pd.testing.assert_frame_equal(fan_quantiles(q), fan_quantiles(ds))


def test_the_bridge_has_the_same_means_and_arr_ranges(forms) -> None:
    ds, q = forms
    for period in ((0, 11), (5, 35)):
        draws, quantiles = bridge_values(ds, period), bridge_values(q, period)
        np.testing.assert_allclose(quantiles["mean"], draws["mean"], rtol=1e-12)
        for step in ("start", "end"):
            np.testing.assert_allclose(quantiles.loc[step, ["p10", "p50", "p90"]].to_numpy(float),
                                       draws.loc[step, ["p10", "p50", "p90"]].to_numpy(float), rtol=1e-12)
        assert quantiles.loc[["new", "churn"], "p10"].isna().all()
        # the bars close: start + movements = end, as in every draw
        m = quantiles["mean"]
        assert m["start"] + m["new"] + m["expansion"] - m["contraction"] - m["churn"] == pytest.approx(m["end"],
                                                                                                        rel=1e-12)


def test_summary_table_of_quantiles_is_the_runs(forms) -> None:
    ds, q = forms
    draws, quantiles = summary_table(ds), summary_table(q)
    assert list(quantiles.columns) == list(draws.columns) and len(quantiles) == len(draws)
    stored = ~quantiles["metric"].isin(["net_new_arr"])
    columns = [f"p{round(p * 100)}" for p in QUANTILES]
    totals = stored & quantiles["metric"].isin(["arr", "mrr", "active_customers", "nrr_12m", "cac"])
    np.testing.assert_array_equal(quantiles.loc[totals, columns].to_numpy(float),
                                  draws.loc[totals, columns].to_numpy(float))
    np.testing.assert_allclose(quantiles["mean"].to_numpy(float), draws["mean"].to_numpy(float), rtol=1e-9)
    assert quantiles.loc[~stored, columns].isna().all().all()


@pytest.mark.parametrize("direction", ["above", "below"])
def test_a_targets_chance_is_bounded_by_the_quantiles_around_it(forms, direction: str) -> None:
    ds, q = forms
    end = np.asarray(ds["arr"].sum("segment").isel(month=-1).values)
    month = str(ds["month"].values[-1])[:7]
    for value in np.quantile(end, [0.01, 0.07, 0.3, 0.5, 0.62, 0.93, 0.99]):
        target = ChartTarget("arr", float(value), month, direction)
        low, high = target_chance(q, target)
        exact = target_probability(ds, target)
        assert low < high and low - 1 / DRAWS <= exact <= high + 1 / DRAWS, (value, low, exact, high)


def test_the_kpi_panel_reads_stored_quantiles(forms) -> None:
    ds, q = forms
    draws, quantiles = kpi_table(ds).set_index(["variable", "month"]), kpi_table(q).set_index(["variable", "month"])
    assert "logo_churn" not in quantiles.index.get_level_values(0)
    shared = quantiles.index.intersection(draws.index)
    assert len(shared) == len(quantiles) >= 16
    for variable in ("nrr_12m", "cac", "win_rate"):
        np.testing.assert_array_equal(quantiles.loc[variable, ["p10", "p50", "p90"]].to_numpy(float),
                                      draws.loc[variable, ["p10", "p50", "p90"]].to_numpy(float))
