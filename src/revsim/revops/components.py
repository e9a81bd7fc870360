"""The monthly pieces every KPI is built from, and the windows of months they are read over.

:class:`Components` holds, per draw and month, totals over segments of the run's flows and stocks (stage
entries, conversions, losses and open members; customers won, lost, renewed; ARR and its movements; spend),
plus the few per-draw inputs the KPIs need (gross margin, cost of serving a customer, LTV).
:class:`Windows` reads them over periods: the sum of a flow, the value of a stock at the end, or at the
start (the end of the month before; the initial book for the first month).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.errors import InputError
from revsim.revops.structure import FunnelStructure

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["Components", "Windows", "input_values", "components_of"]


def input_values(ds: xr.Dataset, model: Any) -> dict[str, np.ndarray]:
    """Every input of the scenario per draw: the sampled values stored in the results (``param_*``), and the
    constants repeated."""
    from revsim.scenario.schema import iter_inputs

    sampled = {str(ds[v].attrs.get("path")): np.asarray(ds[v].values, dtype=float)
               for v in ds.data_vars if str(v).startswith("param_") and "path" in ds[v].attrs}
    draws = ds.sizes["draw"]
    values = {}
    for path, dist in iter_inputs(model):
        if path in sampled:
            values[path] = sampled[path]
        elif dist.is_constant:
            values[path] = np.full(draws, float(dist.mean()))
    return values


@dataclass
class Components:
    """Monthly totals over segments, ``[draw, month]`` arrays, and per-draw values (see the module)."""

    structure: FunnelStructure
    monthly: dict[str, np.ndarray]
    stage: dict[str, np.ndarray]  # entries, converted, lost, open: [draw, month, stage]
    per_draw: dict[str, np.ndarray]
    initial: dict[str, float]
    quota_per_rep: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def draws(self) -> int:
        return next(iter(self.monthly.values())).shape[0]

    @property
    def months(self) -> int:
        return next(iter(self.monthly.values())).shape[1]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.monthly[name]

    def has(self, name: str) -> bool:
        return name in self.monthly or name in self.per_draw


@dataclass(frozen=True)
class Windows:
    """Windows of consecutive simulated months (periods), read from ``[draw, month]`` arrays.

    Attributes
    ----------
    first, last
        First and last month position of each window (both inclusive, within the run).
    """

    first: np.ndarray
    last: np.ndarray
    n_months: int

    @classmethod
    def of(cls, spans: Sequence[tuple[int, int]], n_months: int) -> Windows:
        first = np.array([s[0] for s in spans], dtype=int)
        last = np.array([s[1] for s in spans], dtype=int)
        return cls(first, last, n_months)

    @property
    def size(self) -> int:
        return len(self.first)

    @property
    def membership(self) -> np.ndarray:
        """``[month, window]``: 1 where the month is in the window."""
        months = np.arange(self.n_months)[:, None]
        return ((months >= self.first[None, :]) & (months <= self.last[None, :])).astype(float)

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of a flow over each window: ``[draw, window]``."""
        cumulative = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(values, axis=1, dtype=float)], axis=1)
        return cumulative[:, self.last + 1] - cumulative[:, self.first]

    def end(self, values: np.ndarray) -> np.ndarray:
        """A stock at the end of each window's last month."""
        return np.asarray(values, float)[:, self.last]

    def start(self, values: np.ndarray, initial: float | np.ndarray) -> np.ndarray:
        """A stock at the start of each window: at the end of the month before it (``initial`` before the
        first simulated month)."""
        values = np.asarray(values, float)
        before = np.concatenate([np.broadcast_to(np.asarray(initial, float), (values.shape[0],))[:, None],
                                 values[:, :-1]], axis=1)
        return before[:, self.first]

    def per_draw(self, values: np.ndarray) -> np.ndarray:
        """A per-draw value repeated for every window."""
        return np.repeat(np.asarray(values, float)[:, None], self.size, axis=1)


def _segment_total(ds: xr.Dataset, name: str) -> np.ndarray:
    da = ds[name]
    if "segment" in da.dims:
        da = da.sum("segment")
    return np.asarray(da.transpose("draw", "month").values, dtype=float)


def _reaching_onboarding(ds: xr.Dataset, model: Any, compiled_book: dict[str, np.ndarray] | None) -> np.ndarray:
    """Customers who reach the end of their onboarding in each month ([draw, month]): the cohorts won
    ``max(onboarding.months, 1)`` months earlier, and the book cohorts that reach that age."""
    new = np.asarray(ds["new_customers"].transpose("draw", "month", "segment").values, dtype=float)
    draws, months, _ = new.shape
    due = np.zeros((draws, months))
    segments = [str(s) for s in ds["segment"].values]
    for s, segment in enumerate(segments):
        age = max(int(model.settings("onboarding", segment).months), 1)
        if age < months:
            due[:, age:] += new[:, : months - age, s]
    if compiled_book is not None:
        for s_index, customers, book_age in zip(compiled_book["segment"], compiled_book["customers"],
                                                compiled_book["age"], strict=True):
            age = max(int(model.settings("onboarding", segments[int(s_index)]).months), 1)
            month = age - int(book_age)
            if 0 <= month < months:
                due[:, month] += float(customers)
    return due


def components_of(ds: xr.Dataset, loaded: Any) -> Components:
    """The components of a run (``ds``, every draw) with its scenario (a loaded scenario).

    Raises
    ------
    InputError
        When the results hold quantiles rather than draws.
    """
    if ds.attrs.get("revsim_keep") == "quantiles" or "draw" not in ds.dims:
        raise InputError.single("the results keep per-month quantiles (--keep quantiles), not every draw: KPIs "
                                "over periods need the draws; run again with --keep draws",
                                path=("revsim_keep",))
    from revsim.engine.compile import compile_scenario

    model = loaded.model
    structure = FunnelStructure.of(model)
    compiled = compile_scenario(loaded)
    book = {"segment": compiled.book_segment, "customers": compiled.book_customers, "age": compiled.book_age}
    monthly = {name: _segment_total(ds, name) for name in (
        "leads", "new_customers", "churned_customers", "onboarding_churned", "active_customers", "advocates",
        "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "arr", "mrr") if name in ds}
    if "renewed_customers" in ds:
        monthly["renewed_customers"] = _segment_total(ds, "renewed_customers")
    monthly["referrals"] = np.asarray(ds["loop_entries"].sum("loop").transpose("draw", "month").values, float)
    monthly["onboarding_due"] = _reaching_onboarding(ds, model, book)
    for name in ("open_pipeline_arr", "pipeline_coverage", "sales_reps", "sales_marketing_spend", "channel_spend",
                 "nrr_12m", "grr_12m"):
        if name in ds:
            monthly[name] = np.asarray(ds[name].transpose("draw", "month").values, dtype=float)
    stage = {key: np.asarray(ds[name].sum("segment").transpose("draw", "month", "stage").values, dtype=float)
             for key, name in (("entries", "stage_entries"), ("converted", "stage_converted"),
                               ("lost", "stage_lost"), ("open", "open_in_stage"))}
    values = input_values(ds, model)
    per_draw: dict[str, np.ndarray] = {}
    if model.costs is not None:
        per_draw["gross_margin"] = values["costs.gross_margin"]
        per_draw["cs_cost_per_customer"] = values["costs.cs_cost_per_customer"]
        if "costs.other_opex" in values:
            per_draw["other_opex"] = values["costs.other_opex"]
        if "ltv" in ds:
            per_draw["ltv"] = np.asarray(ds["ltv"].values, dtype=float)
    capacity = model.funnel.sales_capacity
    initial = {"customers": float(ds["initial_customers"].sum()), "arr": float(ds["initial_arr"].sum())}
    return Components(structure=structure, monthly=monthly, stage=stage, per_draw=per_draw, initial=initial,
                      quota_per_rep=None if capacity is None else capacity.quota_per_rep)
