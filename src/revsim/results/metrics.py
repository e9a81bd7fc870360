"""The RevOps metrics derived from a run: NRR, GRR, logo churn, win rate, pipeline, CAC, payback, LTV.

Every function works on whole arrays (all draws at once). Definitions follow ``docs/model.md``:

* NRR over 12 months = MRR now of the customers who were active 12 months ago / their MRR then.
* GRR = the same without expansion: 1 - (their churned + contraction MRR over the 12 months) / their MRR
  then, between 0 and 1.
* Logo churn = customers lost in the month / customers at its start.
* CAC = sales and marketing spend / new customers, over the trailing 12 months (fewer at the start).
* CAC payback = CAC / (new customers' MRR x gross margin), in months.
* LTV = expected margin of a new customer over ``costs.ltv_months``, from the retention, onboarding,
  expansion and contraction parameters of its segment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from revsim.engine.compile import CompiledScenario, DrawParameters, segment_input_path, stage_input_path

__all__ = ["add_metrics", "trailing_sum", "expected_lifetime_value", "expected_customer_curves"]

WINDOW = 12


def trailing_sum(values: np.ndarray, window: int = WINDOW, axis: int = 1) -> np.ndarray:
    """Sum over the last ``window`` months (fewer at the start) along ``axis``."""
    cumulative = np.cumsum(values, axis=axis)
    shifted = np.zeros_like(cumulative)
    index = [slice(None)] * values.ndim
    source = [slice(None)] * values.ndim
    index[axis] = slice(window, None)
    source[axis] = slice(None, -window)
    if values.shape[axis] > window:
        shifted[tuple(index)] = cumulative[tuple(source)]
    return cumulative - shifted


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def add_metrics(ds: xr.Dataset, compiled: CompiledScenario, params: DrawParameters, aged: dict[str, np.ndarray]) -> None:
    """Add the derived metrics to a results Dataset, in place."""
    dm = ("draw", "month")
    currency = compiled.model.currency
    mrr = ds["mrr"].values.sum(axis=2)
    initial_mrr = float(ds["initial_arr"].values.sum()) / 12.0
    months = mrr.shape[1]

    # -- NRR and GRR over 12 months -------------------------------------------------------------------------
    mrr_before = np.concatenate([np.full((mrr.shape[0], 1), initial_mrr), mrr], axis=1)  # index t+1 = month t
    base = np.full_like(mrr, np.nan)
    if months >= WINDOW:
        base[:, WINDOW - 1:] = mrr_before[:, : months - WINDOW + 1]
    loss = (ds["churned_arr"].values + ds["contraction_arr"].values).sum(axis=2) / 12.0
    cumulative_loss = np.concatenate([np.zeros((loss.shape[0], 1)), np.cumsum(loss, axis=1)], axis=1)
    loss_before = np.full_like(mrr, np.nan)
    if months >= WINDOW:
        loss_before[:, WINDOW - 1:] = cumulative_loss[:, : months - WINDOW + 1]
    window_loss = aged["loss_aged_12"].sum(axis=2) - loss_before
    ds["nrr_12m"] = xr.Variable(dm, _ratio(aged["mrr_aged_12"].sum(axis=2), base),
                                {"units": "ratio", "long_name": "net revenue retention over the last 12 months"})
    ds["grr_12m"] = xr.Variable(dm, np.clip(1.0 - _ratio(window_loss, base), 0.0, 1.0),
                                {"units": "ratio", "long_name": "gross revenue retention over the last 12 months"})

    # -- logo churn -------------------------------------------------------------------------------------------
    active = ds["active_customers"].values.sum(axis=2)
    active_before = np.concatenate(
        [np.full((active.shape[0], 1), float(ds["initial_customers"].values.sum())), active[:, :-1]], axis=1)
    ds["logo_churn"] = xr.Variable(dm, _ratio(ds["churned_customers"].values.sum(axis=2), active_before),
                                   {"units": "ratio per month", "long_name": "customers lost / customers at month start"})

    # -- sales: win rate, sales cycle, open pipeline, coverage ----------------------------------------------------
    model = compiled.model
    stages = model.funnel.stages
    capacity = model.funnel.sales_capacity
    closing = compiled.stages.index(capacity.stage) if capacity and capacity.stage else len(stages) - 2
    closing_stage = stages[closing]
    entries = ds["stage_entries"].values[..., closing].sum(axis=1)  # [draw, segment]
    weights = _ratio(entries, entries.sum(axis=1, keepdims=True))
    weights = np.where(np.isnan(weights), 1.0 / len(compiled.segments), weights)

    def by_segment(name: str) -> np.ndarray:
        return np.column_stack([params.inputs[stage_input_path(closing_stage, seg, name)] for seg in compiled.segments])

    converted = trailing_sum(ds["stage_converted"].values[..., closing].sum(axis=2))
    lost = trailing_sum(ds["stage_lost"].values[..., closing].sum(axis=2))
    ds["win_rate"] = xr.Variable(dm, _ratio(converted, converted + lost), {
        "units": "ratio", "long_name": f"deals won / deals decided in stage '{closing_stage.name}', trailing 12 months"})
    ds["sales_cycle_months"] = xr.Variable(("draw",), (by_segment("months") * weights).sum(axis=1),
                                           {"units": "months", "long_name": f"mean months in stage '{closing_stage.name}'"})
    acv = np.column_stack([params.inputs[segment_input_path(model, "pricing", seg, "acv")] for seg in compiled.segments])
    open_deals = ds["open_in_stage"].values[..., closing]  # [draw, month, segment]
    pipeline = (open_deals * acv[:, None, :]).sum(axis=2)
    ds["open_pipeline_arr"] = xr.Variable(dm, pipeline, {"units": f"{currency} of ARR",
                                                         "long_name": f"open deals in '{closing_stage.name}' x mean ACV"})
    month_index = np.arange(months)[None, :]
    if capacity is not None:
        reps = params.inputs["funnel.sales_capacity.reps"][:, None] + \
            params.inputs["funnel.sales_capacity.hires_per_month"][:, None] * month_index
        ds["sales_reps"] = xr.Variable(dm, reps, {"units": "reps", "long_name": "sales reps"})
        if capacity.quota_per_rep is not None:
            quarterly_quota = 3.0 * reps * capacity.quota_per_rep
            ds["pipeline_coverage"] = xr.Variable(dm, _ratio(pipeline, quarterly_quota), {
                "units": "ratio", "long_name": "open pipeline ARR / a quarter's new-ARR quota at this month's headcount"})

    # -- unit economics --------------------------------------------------------------------------------------
    new = ds["new_customers"].values.sum(axis=2)
    new_arr = ds["new_arr"].values.sum(axis=2)
    leads = ds["leads"].values.sum(axis=2)
    ds["revenue_per_lead"] = xr.Variable(dm, _ratio(trailing_sum(new_arr), trailing_sum(leads)), {
        "units": f"{currency} of ARR per lead", "long_name": "new ARR / leads, trailing 12 months"})
    costs = model.costs
    if costs is None:
        return
    calendar = (compiled.start_calendar_month + np.arange(months)) % 12
    channel_spend = np.zeros_like(mrr)
    for name in costs.channel_spend:
        c = compiled.channels.index(name)
        volume_factor = (1.0 + params.inputs[f"channels.{name}.growth"][:, None]) ** month_index \
            * params.ch_season[:, c, calendar]
        channel_spend += params.inputs[f"costs.channel_spend.{name}"][:, None] * volume_factor
    spend = channel_spend + params.inputs["costs.other_spend"][:, None]
    if capacity is not None:
        spend = spend + ds["sales_reps"].values * params.inputs["costs.cost_per_rep"][:, None]
    margin = params.inputs["costs.gross_margin"][:, None]
    ds["sales_marketing_spend"] = xr.Variable(dm, spend, {"units": f"{currency} per month",
                                                          "long_name": "sales and marketing spend"})
    ds["channel_spend"] = xr.Variable(dm, channel_spend, {"units": f"{currency} per month",
                                                          "long_name": "spend of the channels (costs.channel_spend)"})
    ds["cost_per_lead"] = xr.Variable(dm, _ratio(trailing_sum(channel_spend), trailing_sum(leads)), {
        "units": f"{currency} per lead", "long_name": "channel spend / leads, trailing 12 months"})
    cac = _ratio(trailing_sum(spend), trailing_sum(new))
    ds["cac"] = xr.Variable(dm, cac, {"units": f"{currency} per customer",
                                      "long_name": "customer acquisition cost, trailing 12 months"})
    new_mrr_per_customer = _ratio(trailing_sum(new_arr / 12.0), trailing_sum(new))
    ds["cac_payback_months"] = xr.Variable(dm, _ratio(cac, new_mrr_per_customer * margin), {
        "units": "months", "long_name": "CAC / (new customer MRR x gross margin)"})
    ltv_by_segment = np.column_stack([
        expected_lifetime_value(compiled, params, seg, horizon=costs.ltv_months) for seg in compiled.segments])
    new_by_segment = ds["new_customers"].values.sum(axis=1)
    mix = _ratio(new_by_segment, new_by_segment.sum(axis=1, keepdims=True))
    mix = np.where(np.isnan(mix), 1.0 / len(compiled.segments), mix)
    ltv = (ltv_by_segment * mix).sum(axis=1)
    ds["ltv"] = xr.Variable(("draw",), ltv, {"units": f"{currency} per customer",
                                             "long_name": f"lifetime margin of a new customer over {costs.ltv_months} months"})
    ds["ltv_cac"] = xr.Variable(dm, _ratio(ltv[:, None] * np.ones_like(cac), cac),
                                {"units": "ratio", "long_name": "LTV / CAC"})


def expected_lifetime_value(compiled: CompiledScenario, params: DrawParameters, segment: str, *, horizon: int) -> np.ndarray:
    """Expected margin (per draw) of one new customer of ``segment`` over ``horizon`` months.

    Sums, month by month, the probability that the customer is still active times its expected MRR (grown by
    the expected net expansion and the renewal uplifts) times the gross margin, less the cost of serving it.
    """
    model = compiled.model
    values = params.inputs

    def get(block: str, name: str) -> np.ndarray:
        return values[segment_input_path(model, block, segment, name)]

    alive, growth = expected_customer_curves(model, segment, get, horizon)
    margin = values["costs.gross_margin"]
    service = values["costs.cs_cost_per_customer"]
    first_mrr = get("pricing", "acv") / 12.0
    total = np.zeros_like(first_mrr)
    for age in range(horizon):
        total = total + alive[:, age] * (first_mrr * growth[:, age] * margin - service)
    return total


def expected_customer_curves(model: Any, segment: str, get: Callable[[str, str], np.ndarray],
                             n_ages: int) -> tuple[np.ndarray, np.ndarray]:
    """A new customer's expected survival, and its MRR as a multiple of its first month's, at ages 0 to
    ``n_ages - 1``: two ``[draw, age]`` arrays.

    Follows the kernel's order of events each month: the onboarding failures at the onboarding age, then at
    each renewal the retention probability (constant or sBG) and the price uplift, then (from age 1) the
    expected net expansion, ``rate * size - contraction_rate * contraction_size``.

    Parameters
    ----------
    model
        The scenario (:class:`~revsim.scenario.schema.Scenario`), for its constants.
    segment
        The segment's name.
    get
        ``get(block, name)``: the per-draw values of that segment's input (e.g. ``get("retention", "churn")``).
    n_ages
        How many ages (months since acquisition) to return.
    """
    retention = model.settings("retention", segment)
    term = retention.contract_months
    onboarding_age = max(model.settings("onboarding", segment).months, 1)
    drift = get("expansion", "rate") * get("expansion", "size") - \
        get("expansion", "contraction_rate") * get("expansion", "contraction_size")
    uplift = get("expansion", "price_uplift")
    draws = np.broadcast(drift, uplift).shape
    alive = np.ones(draws)
    mrr = np.ones(draws)
    survival = np.empty((*draws, n_ages))
    growth = np.empty((*draws, n_ages))
    for age in range(n_ages):
        if age == onboarding_age:
            alive = alive * get("onboarding", "success")
        if age >= 1 and age % term == 0:
            renewal = age // term
            if retention.model == "sbg":
                a, b = get("retention", "alpha"), get("retention", "beta")
                alive = alive * (b + renewal - 1.0) / (a + b + renewal - 1.0)
            else:
                alive = alive * (1.0 - get("retention", "churn"))
            mrr = mrr * (1.0 + uplift)
        if age >= 1:
            mrr = mrr * (1.0 + drift)
        survival[..., age] = alive
        growth[..., age] = mrr
    return survival, growth
