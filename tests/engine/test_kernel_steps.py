"""The kernel's steps called alone, each against a calculation of its own (scipy's quantiles, plain counting).

Each step takes the structures of :mod:`revsim.engine.draw_data` and the draw's random key; the expected counts
come from the uniforms of the same events computed with numpy's Philox (:func:`revsim.engine.rng.event_uniforms`).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from revsim.engine import layout as L
from revsim.engine.compile import compile_scenario
from revsim.engine.draw_data import FunnelState
from revsim.engine.kernels import (
    channel_entries,
    cohort_tables,
    customer_month,
    funnel_logs,
    initial_cohorts,
    new_cohorts,
    stage_flows,
)
from revsim.engine.rng import draw_key, event_uniforms, kernel_key
from revsim.engine.run import RawResults

SEED = 5
KEY = kernel_key(SEED)
DRAW = 3


def uniforms(process, month, a, b):
    """The uniforms of an event of draw ``DRAW`` under ``SEED``, from numpy's Philox."""
    return event_uniforms(KEY, DRAW, process, month, a, b)


def compiled_draw(make_scenario, **blocks):
    """The compiled scenario, draw 0's parameters and its zeroed outputs."""
    compiled = compile_scenario(make_scenario(**blocks))
    params = compiled.draw_parameters(1, 0, 1)
    raw = RawResults.zeros(compiled, params, cohorts=True)
    return compiled, params.draw(0), raw.draw(0)


def funnel_state(stock):
    n_segments = stock.shape[0]
    return FunnelState(stock, np.zeros_like(stock), *(np.zeros(n_segments, np.int64) for _ in range(4)))


TWO_SEGMENTS = [{"name": "smb", "share": 0.3}, {"name": "mid", "share": 0.7}]


def test_channel_entries_are_a_poisson_count_split_by_binomials(make_scenario):
    compiled, inputs, out = compiled_draw(make_scenario, segments=TWO_SEGMENTS,
                                          channels=[{"name": "inbound", "volume": 250, "growth": 0.1}])
    entries = np.zeros((2, 2), np.int64)
    channel_entries(3, compiled.structure, inputs, draw_key(KEY, DRAW), entries, out.flags)
    arrivals = stats.poisson.ppf(uniforms(L.P_ARRIVALS, 3, 0, 0)[1], 250 * 1.1**3)
    smb = stats.binom.ppf(uniforms(L.P_ARRIVALS, 3, 0, 1)[0], arrivals, 0.3)
    assert entries.tolist() == [[smb, 0], [arrivals - smb, 0]]


def test_channel_entries_follow_the_draws_own_seasonal_factor(make_scenario):
    """The seasonal factors are a draw's inputs (a calibrated scenario draws them from the posterior): the step
    reads the factor of the month's calendar month from ``inputs.ch_season``."""
    compiled, inputs, out = compiled_draw(make_scenario, channels=[{"name": "inbound", "volume": 250}])
    season = np.ones_like(inputs.ch_season)
    season[0, (compiled.start_calendar_month + 3) % 12] = 2.5
    entries = np.zeros((1, 2), np.int64)
    channel_entries(3, compiled.structure, inputs._replace(ch_season=season), draw_key(KEY, DRAW), entries,
                    out.flags)
    assert entries.tolist() == [[stats.poisson.ppf(uniforms(L.P_ARRIVALS, 3, 0, 0)[1], 250 * 2.5), 0]]


def test_stage_flows_move_everyone_through_in_a_month_and_the_capacity_queues_the_rest(make_scenario):
    compiled, inputs, out = compiled_draw(
        make_scenario,
        funnel={"stages": [{"name": "lead", "conversion": 1, "months": 0}, {"name": "deal", "conversion": 1,
                           "months": 0}, {"name": "won"}],
                "sales_capacity": {"reps": 1, "deals_per_rep_per_month": 5}},
        channels=[{"name": "inbound", "volume": 1}])
    funnel = funnel_state(np.zeros((1, 3), np.int64))
    funnel.entries[0, 0] = 8
    stage_flows(0, compiled.structure, inputs, funnel_logs(inputs.hazard, inputs.conversion), draw_key(KEY, DRAW),
                funnel, out)
    assert out.stage_entries[0, 0, :2].tolist() == [8, 8]
    assert out.stage_converted[0, 0, :2].tolist() == [8, 8]  # won deals count when won; beyond 5 a month they wait
    assert funnel.carried[0] == 5 and funnel.waiting[0] == 3 and out.stage_open[0, 0, 1] == 3


def test_new_cohorts_take_the_wins_and_a_fixed_price_without_spread(make_scenario):
    compiled, inputs, out = compiled_draw(make_scenario, pricing={"acv": 1200, "acv_cv": 0},
                                          channels=[{"name": "inbound", "volume": 1}])
    funnel = funnel_state(np.zeros((1, 2), np.int64))
    funnel.carried[0] = 7
    cohorts = initial_cohorts(compiled.book, compiled.n_months, 1)
    assert new_cohorts(2, inputs, draw_key(KEY, DRAW), funnel, 0, cohorts, out)
    assert cohorts.customers[2] == 7 and cohorts.mrr[2] == 7 * 100 * 100  # 7 customers at 100 a month, cents
    assert out.counts[2, 0, L.NEW_CUSTOMERS] == 7 and out.money[2, 0, L.NEW_MRR] == 70_000


@pytest.mark.parametrize("churn", [0.03, 0.6])
def test_customer_month_renews_a_book_cohort_with_binomial_churn(make_scenario, churn):
    compiled, inputs, out = compiled_draw(make_scenario, retention={"churn": churn},
                                          initial_book=[{"customers": 500, "mrr": 50_000, "age_months": 6}])
    cohorts = initial_cohorts(compiled.book, compiled.n_months, 1)
    tables = cohort_tables(compiled.structure.seg_int, inputs.seg_par)
    adopted = np.zeros(1, np.int64)
    assert len(compiled.book_segment) == 1
    customer_month(0, compiled.structure, inputs, tables, draw_key(KEY, DRAW), 2, 1, cohorts, adopted, out)
    u_renewal = uniforms(L.P_BOOK_CUSTOMERS, 0, 0, 0)[1]  # the book cohort renews monthly; no onboarding due
    stayed = stats.binom.ppf(u_renewal, 500, 1 - churn)
    assert out.counts[0, 0, L.CHURNED_CUSTOMERS] == 500 - stayed
    assert out.counts[0, 0, L.RENEWED] == stayed == out.counts[0, 0, L.ACTIVE_CUSTOMERS]
    assert out.money[0, 0, L.CHURNED_MRR] == round(50_000 * 100 * (500 - stayed) / 500)
