"""The independent company simulator against closed forms of docs/model.md (without the engine)."""

from __future__ import annotations

import numpy as np
from scipy.special import betaln

from benchmarks.company import shapes, simulate_company


def _pooled_survival(run: object, s: int, ages: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Survivors / acquired at each age, over the cohorts observed that long, and the customers behind it."""
    T = len(run.months)
    table = run.cohort_customers[:, :, s]
    out, n = [], []
    for a in ages:
        born = np.arange(T - a)
        acquired = table[born, born].sum()
        out.append(table[born + a, born].sum() / acquired)
        n.append(acquired)
    return np.array(out), np.array(n)


def test_cohort_survival_follows_the_sbg_and_constant_churn_with_onboarding() -> None:
    truth = shapes.product_led()
    run = simulate_company(truth, months=72, seed=21)
    ages = [1, 2, 6, 12, 24]
    success = truth["onboarding"]["success"]
    team = truth["retention"]["team"]
    expected = {
        "self_serve": success * (1 - truth["retention"]["self_serve"]["churn"]) ** np.array(ages),
        "team": success * np.exp(betaln(team["alpha"], team["beta"] + np.array(ages)) - betaln(team["alpha"], team["beta"])),
    }
    for s, segment in enumerate(run.segments):
        observed, n = _pooled_survival(run, s, ages)
        # customers are independent (each its own churn probability), so the survival share is binomial
        se = np.sqrt(expected[segment] * (1 - expected[segment]) / n)
        assert np.all(np.abs(observed - expected[segment]) < 4 * se), (segment, observed, expected[segment])


def test_new_contract_values_have_the_acv_and_its_coefficient_of_variation() -> None:
    truth = shapes.enterprise()
    run = simulate_company(truth, months=96, seed=2)
    for s, segment in enumerate(run.segments):
        born = np.flatnonzero(run.new_customers[:, s] > 0)
        n = run.new_customers[born, s]
        mrr = run.cohort_mrr[born, born, s]  # at age 0: the starting MRR of each cohort
        acv, cv = truth["pricing"][segment]["acv"], truth["pricing"][segment]["acv_cv"]
        mean = mrr.sum() / n.sum()
        assert abs(mean - acv / 12) < 4 * cv * acv / 12 / np.sqrt(n.sum())
        # a cohort of n customers has total MRR with variance n (cv acv/12)^2
        z = (mrr - n * acv / 12) / (np.sqrt(n) * cv * acv / 12)
        excess_kurtosis = 6 * cv**2 / n  # of a Gamma(n / cv^2) sum: its z-scores are not normal
        assert abs(z.var() - 1) < 4 * np.sqrt((2 + excess_kurtosis.mean()) / len(z))


def test_stage_conversion_and_time_in_stage() -> None:
    truth = shapes.two_channel_two_segment()
    run = simulate_company(truth, months=60, seed=4)
    for k, stage in enumerate(truth["funnel"]["stages"][:-1]):
        for s, segment in enumerate(run.segments):
            p = stage.get("by_segment", {}).get(segment, {}).get("conversion", stage["conversion"])
            m = stage.get("by_segment", {}).get(segment, {}).get("months", stage["months"])
            converted, lost = run.stage_converted[:, k, s].sum(), run.stage_lost[:, k, s].sum()
            left = converted + lost
            assert abs(converted / left - p) < 4 * np.sqrt(p * (1 - p) / left), (stage["name"], segment)
            # month ends spent in the stage, J ~ Geometric: P(J = j) = h (1 - h)^j, truncated at the horizon
            # for a member entering in month t at r = T - t month ends: E[min(J, r)] = (1 - h)(1 - (1 - h)^r) / h
            h = 1 / (1 + m)
            entries = run.stage_entries[:, k, s].sum(axis=1)
            remaining = len(entries) - np.arange(len(entries))
            expected = (entries * (1 - h) * (1 - (1 - h) ** remaining) / h).sum()
            occupancy = run.open_in_stage[:, k, s].sum()  # members at each month end = month ends spent
            se = np.sqrt(entries.sum() * (1 - h) / h**2)
            assert abs(occupancy - expected) < 4 * se, (stage["name"], segment, occupancy, expected)
