"""The AARRR view against the stage flows, the North Star's driver tree on paired runs, and the retention
headline against the pooled survival of a 200-customer company."""

from __future__ import annotations

import numpy as np
import pytest
from revops_paths import DATA, SALES_LED

import revsim
from revsim.revops.aarrr import aarrr
from revsim.revops.compute import run_kpis
from revsim.revops.north_star import default_driver_paths, driver_tree, north_star


def test_aarrr_sums_match_the_stage_flows(sales_led) -> None:
    loaded, ds = sales_led
    run = run_kpis(ds, scenario=loaded)
    view = aarrr(run, "year")
    spans = [(0, 2), (3, 14), (15, 26), (27, 35)]  # fiscal years from April, from January 2027
    entries = ds["stage_entries"].sum("segment").values
    converted = ds["stage_converted"].sum("segment").values
    direct = entries[..., 0] + sum(entries[..., k] - converted[..., k - 1] for k in range(1, entries.shape[-1] - 1))
    for j, (first, last) in enumerate(spans):
        months = slice(first, last + 1)
        np.testing.assert_allclose(view["acquisition"].values[:, j], direct[:, months].sum(axis=1))
        np.testing.assert_allclose(view["referral"].values[:, j], ds["loop_entries"].sum("loop").values[:, months].sum(axis=1))
        np.testing.assert_allclose(view["revenue"].values[:, j], ds["mrr"].sum("segment").values[:, months].sum(axis=1))
        churned = ds["churned_customers"].sum("segment").values[:, months].sum(axis=1)
        start = (ds["initial_customers"].sum().values if first == 0 else
                 ds["active_customers"].sum("segment").values[:, first - 1])
        np.testing.assert_allclose(view["retention"].values[:, j], start - churned)
        np.testing.assert_allclose(view["retention_rate"].values[:, j], 1 - churned / start)
    # activation: customers won 2 months earlier (onboarding.months: 2), less the onboarding failures
    new = ds["new_customers"].sum("segment").values
    failed = ds["onboarding_churned"].sum("segment").values
    np.testing.assert_allclose(view["activation"].values[:, 2], new[:, 13:25].sum(axis=1) - failed[:, 15:27].sum(axis=1))
    np.testing.assert_allclose(view["activation_rate"].values, view["activation"].values / view["acquisition"].values)
    assert view["acquisition"].sum().item() == ds["leads"].sum().item()


def test_north_star_of_the_example(sales_led) -> None:
    loaded, ds = sales_led
    run = run_kpis(ds, scenario=loaded)
    view = north_star(run)
    assert view is not None and view.name == "Net new ARR" and view.last_complete == "FY2029"
    net_new = (ds["new_arr"] + ds["expansion_arr"] - ds["contraction_arr"] - ds["churned_arr"]).sum("segment")
    np.testing.assert_allclose(view.table["north_star"].values[:, 2], net_new.values[:, 15:27].sum(axis=1))
    assert view.inputs == ["mql", "handoff_rate", "win_rate", "asp", "logo_churn", "expansion_arr"]
    assert default_driver_paths(run, "mql") == ["funnel.stages.lead.conversion"]
    assert default_driver_paths(run, "win_rate") == ["funnel.stages.opportunity.conversion",
                                                     "funnel.stages.opportunity.by_segment.mid_market.conversion"]
    assert default_driver_paths(run, "asp") == ["pricing.smb.acv", "pricing.mid_market.acv"]


@pytest.fixture(scope="module")
def new_arr_star(tmp_path_factory: pytest.TempPathFactory):
    """The sales-led example whose North Star is new ARR, with the ACV and the win rate as inputs."""
    text = SALES_LED.read_text(encoding="utf-8")
    start = text.index("  north_star:")
    text = text[:start] + "  north_star: {metric: new_arr, inputs: [asp, win_rate]}\n"
    path = tmp_path_factory.mktemp("star") / "star.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = revsim.load_scenario(path)
    return loaded, revsim.simulate(loaded, draws=80, seed=11)


def test_driver_tree_on_paired_runs(new_arr_star) -> None:
    """+10% on every ACV moves the average selling price and new ARR by exactly +10% in every draw (the same
    deals, each 10% larger): an elasticity of 1. A higher win rate wins more deals in every draw."""
    loaded, ds = new_arr_star
    tree = driver_tree(run_kpis(ds, scenario=loaded))
    asp, win = tree.table.to_dict("records")
    assert asp["lever"] == "ACV +10%" and tree.period == "FY2029"
    assert asp["input_change"] == pytest.approx(0.10, abs=1e-7)  # contract values in whole cents
    assert asp["north_star_change"] == pytest.approx(0.10, abs=1e-7)
    assert asp["elasticity"] == pytest.approx(1.0, abs=1e-7) and asp["p_up"] == 1.0
    assert win["input_change"] == pytest.approx(0.10, abs=0.02)
    assert win["north_star_change"] > 0.05 and win["p_up"] > 0.9
    assert win["north_star_diff_se"] > 0


@pytest.mark.slow
def test_retention_headline_pools_customers_over_cohorts() -> None:
    """On a 200-customer company the headline is the pooled survival (83.9% at 12 months) within Monte Carlo
    error; the average of per-cohort medians it replaced is biased up (85%)."""
    from revsim.plot.retention import cohort_retention_title, cohort_table, pooled_survival

    ds = revsim.simulate(DATA / "two_hundred_customers.yaml", draws=600, seed=4, cohorts=True)
    truth = (1 - 0.0145) ** 12
    pooled = pooled_survival(ds, 12)
    cohorts = ds["cohort_customers"].sum("segment").values
    by_hand = np.nansum(cohorts[:, :12, 12], axis=1) / np.nansum(cohorts[:, :12, 0], axis=1)
    np.testing.assert_allclose(pooled, by_hand)
    median = float(np.median(pooled))
    error = 1.2533 * pooled.std(ddof=1) / np.sqrt(pooled.size)  # standard error of a median
    assert abs(median - truth) < 4 * error + 1e-3, (median, truth, error)
    logo = cohort_table(ds, "logo")
    assert cohort_retention_title(ds, logo) == "84% of customers remain after 12 months (all cohorts pooled)"
    averaged = float(logo[12].mean())
    assert averaged > truth + 4 * error  # the old headline (an average of per-cohort medians) is biased up
