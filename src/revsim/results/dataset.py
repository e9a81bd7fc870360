"""Kernel outputs -> one ``xarray.Dataset`` with named dimensions, units and provenance.

Money is converted from the kernels' integer cents of MRR to currency units of ARR (12 x MRR), except
``mrr`` itself. The derived RevOps metrics (NRR, GRR, logo churn, CAC, LTV...) are added by
:mod:`revsim.results.metrics`.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from revsim.engine import layout as L
from revsim.engine.compile import CompiledScenario
from revsim.engine.run import RawResults
from revsim.results.metrics import add_metrics
from revsim.results.provenance import make_attrs
from revsim.scenario.load import referenced_files

__all__ = ["build_dataset", "run_attrs", "input_variable_name", "input_variable_names"]

CUSTOMERS = "customers"


def input_variable_name(path: str) -> str:
    """The Dataset variable holding an uncertain input's draws: ``param_`` + its path with ``_`` for dots."""
    return "param_" + path.replace(".", "_").replace("-", "_")


def input_variable_names(paths: list[str]) -> dict[str, str]:
    """:func:`input_variable_name` for every path, made unique (``_2``, ``_3``...) where two would clash.

    The path itself is always in the variable's ``path`` attribute.
    """
    names: dict[str, str] = {}
    taken: set[str] = set()
    for path in paths:
        name, suffix = input_variable_name(path), 2
        while name in taken:
            name, suffix = f"{input_variable_name(path)}_{suffix}", suffix + 1
        names[path] = name
        taken.add(name)
    return names


def input_units(path: str, currency: str) -> str:
    """The unit of an input, from the last part of its path."""
    leaf = path.rsplit(".", 1)[-1]
    if leaf in ("acv",) or path.startswith("costs.channel_spend") or leaf in ("cost_per_rep", "other_spend",
                                                                          "cs_cost_per_customer"):
        return currency + (" per year" if leaf == "acv" else " per month")
    if leaf in ("months",):
        return "months"
    if leaf == "growth":
        return "per month"
    if leaf == "volume":
        return "entries per month"
    if leaf in ("reps",):
        return "reps"
    if leaf == "hires_per_month":
        return "reps per month"
    if leaf == "deals_per_rep_per_month":
        return "deals per rep per month"
    if leaf in ("alpha", "beta", "coefficient"):
        return "1"
    return "ratio"


def _cohort_variables(compiled: CompiledScenario, raw: RawResults) -> dict[str, xr.Variable]:
    """Each simulated cohort's customers and ARR by age; NaN where the cohort's month plus its age is past
    the horizon (float32: the detail is large)."""
    months = compiled.n_months
    beyond = np.arange(months)[:, None] + np.arange(months)[None, :] >= months  # [cohort, age]
    mask = beyond[None, :, None, :]
    customers = np.where(mask, np.nan, raw.cohort_customers).astype(np.float32)
    arr = np.where(mask, np.nan, raw.cohort_mrr * (12.0 / 100.0)).astype(np.float32)
    dims = ("draw", "cohort", "segment", "age")
    currency = compiled.model.currency
    return {
        "cohort_customers": xr.Variable(dims, customers, {
            "units": CUSTOMERS, "long_name": "customers of the cohort won in month `cohort`, `age` months later"}),
        "cohort_arr": xr.Variable(dims, arr, {
            "units": f"{currency} of ARR", "long_name": "ARR of the cohort won in month `cohort`, `age` months later"}),
    }


def build_dataset(compiled: CompiledScenario, raw: RawResults, *, seed: int, warnings: list[str] | None = None,
                  command: str | None = None, provenance: bool = True) -> xr.Dataset:
    """Assemble the Dataset of a run (see ``docs/outputs.md`` for every variable).

    Without ``provenance`` the Dataset has no attributes: the slice of a streamed run, whose store holds the
    run's attributes (:func:`run_attrs`).
    """
    model = compiled.model
    currency = model.currency
    draws = np.arange(raw.params.start, raw.params.stop)
    coords = {
        "draw": draws,
        "month": compiled.months.astype("datetime64[ns]"),
        "segment": np.array(compiled.segments, dtype=object),
        "stage": np.array(compiled.stages, dtype=object),
        "loop": np.array(compiled.loops, dtype=object),
    }
    dms = ("draw", "month", "segment")

    def count(column: int, long_name: str) -> xr.Variable:
        return xr.Variable(dms, raw.counts[..., column], {"units": CUSTOMERS, "long_name": long_name})

    def arr(column: int, long_name: str, per_month: bool = True) -> xr.Variable:
        values = raw.money[..., column] * (12.0 / 100.0)
        units = f"{currency} of ARR" + (" per month" if per_month else "")
        return xr.Variable(dms, values, {"units": units, "long_name": long_name})

    data = {
        "leads": xr.Variable(dms, raw.counts[..., L.NEW_ENTRIES], {
            "units": "entries per month", "long_name": "new entries into the funnel from channels and loops, at any stage"}),
        "stage_entries": xr.Variable((*dms, "stage"), raw.stage_entries,
                                     {"units": "entries per month", "long_name": "entries into each acquisition stage"}),
        "open_in_stage": xr.Variable((*dms, "stage"), raw.stage_open,
                                     {"units": "members", "long_name": "members still in each stage at month end"}),
        "stage_converted": xr.Variable((*dms, "stage"), raw.stage_converted, {
            "units": "members per month", "long_name": "members who left each stage for the next one"}),
        "stage_lost": xr.Variable((*dms, "stage"), raw.stage_lost, {
            "units": "members per month", "long_name": "members who left each stage without converting"}),
        "new_customers": count(L.NEW_CUSTOMERS, "customers won in the month"),
        "churned_customers": count(L.CHURNED_CUSTOMERS, "customers lost in the month (including onboarding failures)"),
        "onboarding_churned": count(L.ONBOARDING_CHURNED, "customers lost at the end of onboarding"),
        "renewed_customers": count(L.RENEWED, "customers who were due for a renewal in the month and renewed"),
        "active_customers": count(L.ACTIVE_CUSTOMERS, "customers at month end"),
        "advocates": count(L.ADVOCATES, "advocates at month end"),
        "new_arr": arr(L.NEW_MRR, "ARR of customers won in the month"),
        "expansion_arr": arr(L.EXPANSION_MRR, "ARR added by upgrades and renewal price uplifts"),
        "contraction_arr": arr(L.CONTRACTION_MRR, "ARR lost to downgrades"),
        "churned_arr": arr(L.CHURNED_MRR, "ARR of customers lost in the month"),
        "arr": arr(L.MRR, "annual recurring revenue at month end (12 x MRR)", per_month=False),
        "mrr": xr.Variable(dms, raw.money[..., L.MRR] / 100.0,
                           {"units": currency, "long_name": "monthly recurring revenue at month end"}),
        "loop_entries": xr.Variable(("draw", "month", "loop"), raw.loop_entries,
                                    {"units": "entries per month", "long_name": "entries produced by each growth loop"}),
    }
    initial_mrr = np.zeros(len(compiled.segments))
    initial_customers = np.zeros(len(compiled.segments), np.int64)
    np.add.at(initial_mrr, compiled.book_segment, compiled.book_mrr)
    np.add.at(initial_customers, compiled.book_segment, compiled.book_customers)
    data["initial_arr"] = xr.Variable(("segment",), initial_mrr * 12.0 / 100.0,
                                      {"units": f"{currency} of ARR", "long_name": "ARR of the initial book at start"})
    data["initial_customers"] = xr.Variable(("segment",), initial_customers,
                                            {"units": CUSTOMERS, "long_name": "customers in the initial book at start"})
    # the pieces NRR and GRR are computed from (cents of MRR)
    aged = {
        "mrr_aged_12": raw.money[..., L.MRR_AGED_12] / 100.0,
        "loss_aged_12": raw.money[..., L.LOSS_AGED_12] / 100.0,
    }
    if raw.cohort_customers.size:
        data.update(_cohort_variables(compiled, raw))
        coords["cohort"] = compiled.months.astype("datetime64[ns]")
        coords["age"] = np.arange(compiled.n_months)
    for path in compiled.uncertain_inputs:
        data[input_variable_names(compiled.uncertain_inputs)[path]] = xr.Variable(
            ("draw",), raw.params.inputs[path],
            {"path": path, "distribution": compiled.inputs[path].describe(), "long_name": f"sampled input {path}",
             "units": input_units(path, model.currency)},
        )

    ds = xr.Dataset(data, coords=coords)
    ds["month"].attrs["long_name"] = "first day of the simulated month"
    if provenance:
        ds.attrs = run_attrs(compiled, seed=seed, draws=len(draws), warnings=warnings, command=command)
    add_metrics(ds, compiled, raw.params, aged)
    return ds


def run_attrs(compiled: CompiledScenario, *, seed: int, draws: int, warnings: list[str] | None = None,
              command: str | None = None) -> dict[str, object]:
    """The attributes of a run's Dataset: its provenance, currency, horizon, runaway warnings and targets."""
    model = compiled.model
    attrs = make_attrs(
        scenario_name=model.name,
        scenario_sha256=compiled.source.sha256,
        scenario_file=compiled.source.file,
        seed=seed,
        draws=draws,
        command=command,
        scenario_data=compiled.source.data,
        input_files=referenced_files(model),
    )
    attrs["currency"] = model.currency
    attrs["start"] = model.start
    attrs["horizon_months"] = model.horizon_months
    attrs["warnings"] = json.dumps(warnings or [])
    attrs["targets"] = json.dumps([t.model_dump() | {"label": t.label} for t in model.targets])
    return attrs
