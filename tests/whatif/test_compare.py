"""``revsim.compare``: paired differences on common random numbers."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import revsim
from revsim.errors import InputError
from revsim.scenario.load import scenario_from_dict
from revsim.whatif.compare import TABLE_COLUMNS

DRAWS = 200


def test_a_scenario_compared_with_itself_differs_by_exactly_zero_in_every_draw(funnel_scenario) -> None:
    result = revsim.compare(funnel_scenario, {"same": funnel_scenario}, draws=DRAWS, seed=5)
    for metric in result.metrics:
        base = result.values[result.base][metric.name]
        same = result.values["same"][metric.name]
        assert np.array_equal(base, same, equal_nan=True), metric.name
    for name in ("arr", "active_customers", "new_customers", "churned_arr"):
        assert result.datasets["same"][name].equals(result.datasets[result.base][name]), name
    table = result.table.set_index("metric")
    defined = table["draws"] > 0
    assert (table.loc[defined, ["diff_mean", "diff_p10", "diff_p50", "diff_p90"]] == 0).all().all()
    assert (table.loc[defined, "p_better"] == 0).all()


def test_a_higher_conversion_never_lowers_arr_in_any_draw(funnel_scenario) -> None:
    """Monotone coupling: every count is drawn by inversion of the same uniform in both runs, so more MQLs
    converting can only mean as many or more customers, and ARR, in every draw and month."""
    result = revsim.compare(funnel_scenario, levers=["mql_up"], draws=DRAWS, seed=11)
    base, variant = result.datasets[result.base], result.datasets["mql_up"]
    arr_gain = (variant["arr"] - base["arr"]).sum("segment")
    customers_gain = (variant["active_customers"] - base["active_customers"]).sum("segment")
    assert float(arr_gain.min()) >= 0.0
    assert int(customers_gain.min()) >= 0
    assert float(arr_gain.isel(month=-1).mean()) > 0  # and it does help
    mql = variant["param_funnel_stages_mql_conversion"] - base["param_funnel_stages_mql_conversion"]
    assert float(mql.min()) > 0.04 and float(mql.max()) < 0.06  # the same uniform of a beta 0.05 higher
    for name in ("param_funnel_stages_lead_conversion", "param_retention_churn", "param_pricing_acv"):
        assert np.array_equal(variant[name], base[name]), name  # inputs the lever does not touch: identical


def test_the_paired_interval_is_narrower_than_the_unpaired_one(funnel_scenario) -> None:
    result = revsim.compare(funnel_scenario, levers=["churn_down"], draws=DRAWS, seed=3)
    paired = result.difference("churn_down", "arr_at_horizon")
    variant = scenario_from_dict(copy.deepcopy(result.plan.variants[0].scenario.data))
    independent = revsim.simulate(variant, draws=DRAWS, seed=4)  # another seed: nothing shared
    unpaired = independent["arr"].sum("segment").isel(month=-1).values - result.values[result.base]["arr_at_horizon"]
    width = lambda x: float(np.subtract(*np.quantile(x, [0.9, 0.1])))  # noqa: E731
    assert width(paired) < 0.25 * width(unpaired)
    row = result.table.set_index(["variant", "metric"]).loc[("churn_down", "arr_at_horizon")]
    assert row["diff_se"] < 0.25 * row["unpaired_se"]
    # both estimate the same effect: the unpaired mean within 3 of its standard errors of the paired one
    se = np.std(unpaired, ddof=1) / np.sqrt(DRAWS)
    assert abs(unpaired.mean() - paired.mean()) < 3 * se + 3 * row["diff_se"]


def test_the_table_has_one_row_per_variant_and_metric(funnel_scenario) -> None:
    result = revsim.compare(funnel_scenario, levers=["mql_up", "churn_down", "mql_up+churn_down"], draws=50)
    table = result.table
    assert list(table.columns) == TABLE_COLUMNS
    assert result.variants == ["mql_up", "churn_down", "mql_up+churn_down"]
    assert len(table) == 3 * len(result.metrics)
    assert set(table["metric"]) == {"arr_at_horizon", "arr_at_12_months", "customers_at_horizon", "nrr_at_horizon",
                                    "logo_churn_last_12_months"}
    rows = table.set_index(["variant", "metric"])
    assert rows.loc[("churn_down", "logo_churn_last_12_months"), "better"] == "lower"
    assert rows.loc[("churn_down", "logo_churn_last_12_months"), "p_better"] > 0.9  # lower churn is better
    assert rows.loc[("mql_up", "arr_at_12_months"), "month"] == "2027-12"
    both = rows.loc[("mql_up+churn_down", "arr_at_horizon"), "diff_mean"]
    assert both > max(rows.loc[("mql_up", "arr_at_horizon"), "diff_mean"],
                      rows.loc[("churn_down", "arr_at_horizon"), "diff_mean"])
    d = result.difference("mql_up", "arr_at_horizon")
    assert rows.loc[("mql_up", "arr_at_horizon"), "diff_p50"] == pytest.approx(np.quantile(d, 0.5))
    assert rows.loc[("mql_up", "arr_at_horizon"), "p_better"] == pytest.approx(np.mean(d > 0))
    text = result.summary_text()
    assert "mql_up+churn_down" in text and "ARR at horizon" in text and "P(better)" in text


def test_write_puts_every_file_in_place_atomically_and_refuses_to_overwrite(funnel_scenario, tmp_path) -> None:
    result = revsim.compare(funnel_scenario, levers=["mql_up"], draws=20)
    out = tmp_path / "cmp"
    written = result.write(out)
    assert sorted(p.name for p in written) == sorted(["compare.csv", "compare.png", "base.nc", "mql_up.nc"])
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]
    table = pd.read_csv(out / "compare.csv")
    assert list(table.columns) == TABLE_COLUMNS
    with xr.open_dataset(out / "mql_up.nc", engine="h5netcdf") as ds:
        assert ds.attrs["variant"] == "mql_up" and "+0.05" in ds.attrs["variant_change"]
        assert ds.sizes["draw"] == 20
    with pytest.raises(InputError, match="--force"):
        result.write(out)
    result.write(out, force=True)


def test_file_variants_are_named_after_their_files_and_need_the_same_months(funnel_data, write_scenario) -> None:
    base = write_scenario(funnel_data, "base.yaml")
    better = copy.deepcopy(funnel_data)
    better["onboarding"]["success"] = [0.9, 0.99]
    variant = write_scenario(better, "better_onboarding.yaml")
    result = revsim.compare(base, [variant], draws=20)
    assert result.base == "base" and result.variants == ["better_onboarding"]
    shorter = copy.deepcopy(funnel_data)
    shorter["horizon_months"] = 12
    with pytest.raises(InputError, match="same months"):
        revsim.compare(base, [write_scenario(shorter, "shorter.yaml")], draws=20)


def test_overrides_apply_to_every_scenario_compared(funnel_scenario) -> None:
    result = revsim.compare(funnel_scenario, levers=["mql_up"], draws=20, overrides=["pricing.acv=12k"])
    for ds in result.datasets.values():
        assert "param_pricing_acv" not in ds  # now a constant
    assert revsim.compare(funnel_scenario, levers=["mql_up"], draws=20).datasets["base"]["param_pricing_acv"].size


def test_nothing_to_compare_and_unknown_levers_are_input_errors(funnel_scenario) -> None:
    with pytest.raises(InputError, match="nothing to compare"):
        revsim.compare(funnel_scenario, draws=10)
    with pytest.raises(InputError) as caught:
        revsim.compare(funnel_scenario, levers=["mql_upp"], draws=10)
    assert caught.value.problems[0].suggestion == "mql_up"


def test_a_lever_on_posterior_inputs_moves_each_draw_by_exactly_the_change(funnel_data, write_scenario,
                                                                          tmp_path) -> None:
    """Calibrated inputs (``dist: posterior``) shift sample by sample: every draw takes the same posterior
    sample in both runs (the same uniform), moved by the lever's change; the other inputs of the file keep
    their draws."""
    rng = np.random.default_rng(7)
    posterior = xr.Dataset({"mql": (("chain", "draw"), rng.beta(35, 65, (2, 150))),
                            "churn": (("chain", "draw"), rng.beta(2, 98, (2, 150)))})
    posterior.to_netcdf(tmp_path / "posterior.nc", group="posterior", engine="h5netcdf")
    funnel_data["funnel"]["stages"][1]["conversion"] = {"dist": "posterior", "file": "posterior.nc", "var": "mql"}
    funnel_data["retention"]["churn"] = {"dist": "posterior", "file": "posterior.nc", "var": "churn"}
    scenario = revsim.load_scenario(write_scenario(funnel_data))  # posterior.nc is found next to it
    result = revsim.compare(scenario, levers=["mql_up", "churn_down"], draws=DRAWS, seed=2)
    base = result.datasets[result.base]
    mql = result.datasets["mql_up"]
    churn = result.datasets["churn_down"]
    np.testing.assert_allclose(mql["param_funnel_stages_mql_conversion"] - base["param_funnel_stages_mql_conversion"],
                               0.05, rtol=0, atol=1e-12)
    np.testing.assert_allclose(churn["param_retention_churn"], 0.7 * base["param_retention_churn"], rtol=1e-12)
    assert np.array_equal(mql["param_retention_churn"], base["param_retention_churn"])
    assert np.array_equal(churn["param_funnel_stages_mql_conversion"], base["param_funnel_stages_mql_conversion"])
    samples = posterior["mql"].values.reshape(-1)
    assert set(base["param_funnel_stages_mql_conversion"].values) <= set(samples)  # posterior samples themselves
    arr_gain = (mql["arr"] - base["arr"]).sum("segment")
    assert float(arr_gain.min()) >= 0.0 and float(arr_gain.isel(month=-1).mean()) > 0  # monotone coupling holds
