"""The independent company simulator (benchmarks/company): its own invariants, files and refusals.

Agreement with revsim's engine in distribution is tested in ``test_company_vs_engine.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from benchmarks.company import engine_scenario, shapes, simulate_company
from benchmarks.company.truth import read_truth

PACKAGE = Path(__file__).resolve().parents[2] / "benchmarks" / "company"
SHAPE_NAMES = list(shapes.SHAPES)


@pytest.fixture(scope="module")
def runs() -> dict[str, object]:
    return {name: simulate_company(shape.truth(), months=shape.months, seed=3)
            for name, shape in shapes.SHAPES.items()}


def test_the_simulator_imports_nothing_from_revsim() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name.split(".")[0] == "revsim" for name in names), f"{path.name} imports {names}"


@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_mrr_bridge_closes_every_month(runs: dict, name: str) -> None:
    run = runs[name]
    before = np.vstack([np.zeros((1, len(run.segments))), run.mrr[:-1]])
    bridge = before + run.new_mrr + run.expansion_mrr - run.contraction_mrr - run.churned_mrr
    assert np.all(np.abs(bridge - run.mrr) <= 1e-6 * np.maximum(run.mrr, 1.0))
    assert np.all(run.mrr >= 0) and np.all(run.churned_mrr >= 0) and np.all(run.contraction_mrr >= 0)
    arr = run.series("arr")
    np.testing.assert_allclose(arr, 12 * run.mrr.sum(axis=1))
    net = run.series("new_arr") + run.series("expansion_arr") - run.series("contraction_arr") - run.series("churned_arr")
    np.testing.assert_allclose(np.cumsum(net), arr, rtol=1e-9)


@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_cohort_table_adds_up_and_never_grows(runs: dict, name: str) -> None:
    run = runs[name]
    T = len(run.months)
    table = run.cohort_customers  # [observed, acquired, segment]
    np.testing.assert_array_equal(table.sum(axis=1), run.active_customers)
    np.testing.assert_allclose(run.cohort_mrr.sum(axis=1), run.mrr, rtol=1e-9)
    diagonal = table[np.arange(T), np.arange(T)]
    np.testing.assert_array_equal(diagonal, run.new_customers)  # period 0: those acquired
    for b in range(T):
        assert np.all(np.diff(table[b:, b], axis=0) <= 0)
        assert np.all(table[:b, b] == 0)
    losses = table[:-1].sum(axis=1) - (table[1:].sum(axis=1) - run.new_customers[1:])  # lost each month
    np.testing.assert_array_equal(losses, run.churned_customers[1:])


@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_customers_leave_only_at_onboarding_or_renewals(runs: dict, name: str) -> None:
    run, company = runs[name], runs[name].company
    T = len(run.months)
    for s in range(len(run.segments)):
        onboarding = max(int(company.onboarding_months[s]), 1)
        term = int(company.contract_months[s])
        for b in range(T - 1):
            counts = run.cohort_customers[b:, b, s]
            ages = np.flatnonzero(np.diff(counts) < 0) + 1
            assert all(a == onboarding or a % term == 0 for a in ages), (run.segments[s], b, ages)


@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_stage_flows_are_consistent(runs: dict, name: str) -> None:
    run = runs[name]
    entries = run.stage_entries.sum(axis=3)  # [T, K, S]
    direct = run.direct_entries.sum(axis=3)
    # entries into a stage beyond the first are its direct entries plus the same month's conversions before it
    np.testing.assert_array_equal(entries[:, 1:] - direct[:, 1:], run.stage_converted[:, :-1])
    assert np.all(run.open_in_stage >= 0)
    assert np.all(run.open_in_stage[:, -1] == 0)
    flows = np.cumsum(entries[:, :-1] - run.stage_converted[:, :-1] - run.stage_lost[:, :-1], axis=0)
    np.testing.assert_array_equal(flows, run.open_in_stage[:, :-1])
    np.testing.assert_array_equal(entries[:, -1], run.new_customers)
    np.testing.assert_array_equal(run.series("leads"), direct.sum(axis=(1, 2)))
    by_source = sum(run.series("leads", channel=c) for c in run.sources)
    np.testing.assert_array_equal(by_source, run.series("leads"))
    for ell in range(len(run.company.loops)):
        np.testing.assert_array_equal(run.loop_entries[:, ell], run.direct_entries[:, :, :, len(run.company.channels) + ell].sum(axis=(1, 2)))


def test_loops_start_after_their_lag_and_follow_their_source() -> None:
    truth = shapes.worked_example()
    truth["loops"][0]["lag"] = 3
    run = simulate_company(truth, months=36, seed=5)
    assert np.all(run.loop_entries[:3] == 0)
    # referred ~ Poisson(1.5 x advocates three months earlier): the ratio over the run is about 1.5
    ratio = run.loop_entries[3:, 0].sum() / run.loop_source[:-3, 0].sum()
    assert abs(ratio - 1.5) < 4 * np.sqrt(1.5 / run.loop_source[:-3, 0].sum())


def test_reproducible_by_seed_and_a_longer_run_starts_with_the_same_history() -> None:
    truth = shapes.two_channel_two_segment()
    a = simulate_company(truth, months=40, seed=11)
    b = simulate_company(truth, months=40, seed=11)
    c = simulate_company(truth, months=40, seed=12)
    longer = simulate_company(truth, months=52, seed=11)
    for name in ("mrr", "stage_entries", "new_customers", "advocates", "cohort_mrr"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.mrr, c.mrr)
    np.testing.assert_array_equal(longer.mrr[:40], a.mrr)
    np.testing.assert_array_equal(longer.stage_entries[:40], a.stage_entries)
    np.testing.assert_array_equal(longer.cohort_customers[:40, :40], a.cohort_customers)
    # members still in a stage at month 40 are open in the short run and convert later in the long one
    np.testing.assert_array_equal(longer.open_in_stage[:40], a.open_in_stage)


def test_a_truth_is_a_valid_revsim_scenario() -> None:
    from revsim.scenario.load import scenario_from_dict

    for name, shape in shapes.SHAPES.items():
        loaded = scenario_from_dict(engine_scenario(shape.truth(), shape.months))
        assert loaded.model.horizon_months == shape.months, name


@pytest.mark.parametrize("book", ["segment", "cohort"])
def test_the_plan_is_a_valid_revsim_scenario_starting_from_the_state_at_the_cut(runs: dict, book: str) -> None:
    from revsim.scenario.load import scenario_from_dict

    for name, shape in shapes.SHAPES.items():
        run = runs[name]
        plan = run.plan_scenario(cut=shape.last_month, book=book, shift_seed=1)
        loaded = scenario_from_dict(plan)
        t = run.month(shape.last_month)
        assert plan["start"] > shape.last_month
        by_segment = {seg: (0, 0.0) for seg in run.segments}
        for entry in plan["initial_book"]:
            n, money = by_segment[entry["segment"]]
            by_segment[entry["segment"]] = (n + entry["customers"], money + entry.get("mrr", entry.get("arr", 0) / 12))
        for s, seg in enumerate(run.segments):
            assert by_segment[seg][0] == run.active_customers[t, s], (name, seg)
            assert by_segment[seg][1] == pytest.approx(run.mrr[t, s], abs=0.01 * len(plan["initial_book"]))
        opened = {k: sum(v.values()) for k, v in plan["funnel"]["open_at_start"].items()}
        assert opened == {stage: int(run.open_in_stage[t, k].sum()) for k, stage in enumerate(run.stages[:-1])}
        assert loaded.model.horizon_months == 24


def test_plan_intervals_hold_the_truth() -> None:
    truth = shapes.worked_example()
    run = simulate_company(truth, months=40, seed=1)
    plan = run.plan_scenario(cut="2024-12", shift_seed=7)
    for k, stage in enumerate(truth["funnel"]["stages"][:-1]):
        low, high = plan["funnel"]["stages"][k]["conversion"]
        assert low < stage["conversion"] < high
        low, high = plan["funnel"]["stages"][k]["months"]
        assert low < stage["months"] < high
    for seg in ("smb", "mid_market"):
        for key in ("alpha", "beta"):
            low, high = plan["retention"][seg][key]
            assert low < truth["retention"][seg][key] < high
    level = 2600 * 1.012 ** 36
    low, high = plan["channels"][0]["volume"]
    assert low < level < high


@pytest.mark.parametrize(("change", "field"), [
    (lambda t: t.update(initial_book=[{"segment": "smb", "customers": 10, "arr": 1e5}]), "initial_book"),
    (lambda t: t["funnel"].update(open_at_start={"lead": 10}), "funnel.open_at_start"),
    (lambda t: t["funnel"].update(sales_capacity={"reps": 3, "deals_per_rep_per_month": 4}), "funnel.sales_capacity"),
    (lambda t: t["funnel"]["stages"][1].update(conversion=[0.3, 0.4]), "funnel.stages[1].conversion"),
    (lambda t: t["pricing"]["smb"].update(acv={"dist": "gamma", "mean": 1, "sd": 1}), "pricing.smb.acv"),
    (lambda t: t["retention"]["smb"].update(alpah=1), "retention.smb.alpah"),
    (lambda t: t["loops"][0].update(source="customers"), "loops[0].source"),
    (lambda t: t.update(costs={"gross_margin": 0.8}), "costs"),
    (lambda t: t["expansion"]["smb"].update(rate=0.995), "expansion.smb"),
])
def test_unsupported_or_uncertain_truths_are_refused_naming_the_field(change: object, field: str) -> None:
    truth = shapes.worked_example()
    change(truth)
    with pytest.raises(ValueError, match=f"truth: {field.replace('[', '.').replace(']', '.')}"):
        read_truth(truth)


def test_series_by_segment_add_up_to_the_total(runs: dict) -> None:
    run = runs["worked_example"]
    for name in ("arr", "new_customers", "churned_arr", "leads", "active_customers", "expansion_arr"):
        total = sum(run.series(name, segment=s) for s in run.segments)
        np.testing.assert_allclose(total, run.series(name))
    assert run.series("stage_entries", stage="won").sum() == run.series("new_customers").sum()
    with pytest.raises(ValueError, match="unknown series"):
        run.series("arr_total")
    with pytest.raises(ValueError, match="needs a stage"):
        run.series("stage_entries")


def test_cohort_average_mrr_keeps_the_bridge_and_the_counts() -> None:
    truth = shapes.enterprise()
    pooled = simulate_company(truth, months=48, seed=4, mrr_within_cohort="cohort_average")
    own = simulate_company(truth, months=48, seed=4)
    # the same random numbers decide every count; only money differs
    np.testing.assert_array_equal(pooled.cohort_customers, own.cohort_customers)
    np.testing.assert_array_equal(pooled.stage_entries, own.stage_entries)
    np.testing.assert_array_equal(pooled.new_mrr, own.new_mrr)
    assert not np.allclose(pooled.mrr[-1], own.mrr[-1])
    before = np.vstack([np.zeros((1, 2)), pooled.mrr[:-1]])
    bridge = before + pooled.new_mrr + pooled.expansion_mrr - pooled.contraction_mrr - pooled.churned_mrr
    assert np.all(np.abs(bridge - pooled.mrr) <= 1e-6 * np.maximum(pooled.mrr, 1.0))
    with pytest.raises(ValueError, match="mrr_within_cohort"):
        simulate_company(truth, months=12, seed=4, mrr_within_cohort="average")


def test_realised_renewals_upgrades_and_uplift_are_recorded() -> None:
    truth = shapes.quarterly_uplift()
    run = simulate_company(truth, months=60, seed=8)
    T = len(run.months)
    # customers facing a renewal: those of age 3, 6, 9... at the start of the month, less onboarding failures
    ages = np.arange(T)[:, None] - np.arange(T)[None, :]  # [t, b]
    at_start = np.vstack([np.zeros((1, T), np.int64), run.cohort_customers[:-1, :, 0]])
    due = np.where((ages > 0) & (ages % 3 == 0), at_start, 0).sum(axis=1)
    np.testing.assert_array_equal(run.renewals[:, 0], due)  # onboarding (age 1) never falls on a renewal here
    # upgrades: a binomial share of the customers of age >= 1 after churn, at the true rate
    exposed = (run.active_customers[:, 0] - run.new_customers[:, 0])[1:]
    rate = run.upgrades[1:, 0].sum() / exposed.sum()
    assert abs(rate - 0.01) < 4 * np.sqrt(0.01 * 0.99 / exposed.sum())
    assert np.all(run.uplift_mrr <= run.expansion_mrr + 1e-9)
    assert np.all(run.uplift_mrr[run.renewals == 0] == 0)
    np.testing.assert_allclose(run.series("uplift_arr"), 12 * run.uplift_mrr[:, 0])
