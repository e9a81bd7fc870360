"""The run read as AARRR (Acquisition, Activation, Retention, Referral, Revenue), per draw and period.

===========  ==========================================  ==============================================
stage        value over a period P                       conversion
===========  ==========================================  ==============================================
Acquisition  Σ_P new funnel entries (channels, loops)    (none)
Activation   Σ_P customers onboarded                     activation rate = onboarded / new entries
Retention    customers at the start of P − Σ_P lost      retention rate = 1 − logo churn
Referral     Σ_P entries from the growth loops           referral rate = loop entries / customers at start
Revenue      Σ_P MRR at month end                        revenue per customer = revenue / Σ_P customers
===========  ==========================================  ==============================================

Every value and rate is computed from the period's sums (pooled), like the team KPIs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from revsim.revops.catalogue import ratio
from revsim.revops.components import Components, Windows

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from revsim.revops.compute import RunKpis

__all__ = ["AARRR_STAGES", "aarrr", "AarrrStage"]


@dataclass(frozen=True)
class AarrrStage:
    """One AARRR stage: its value over a period and the conversion into it."""

    name: str
    value_label: str
    value_unit: str
    value: Callable[[Components, Windows], np.ndarray]
    rate_name: str | None = None
    rate_label: str | None = None
    rate_unit: str | None = None
    rate: Callable[[Components, Windows], np.ndarray] | None = None


def _start_customers(c: Components, w: Windows) -> np.ndarray:
    return w.start(c["active_customers"], c.initial["customers"])


AARRR_STAGES = (
    AarrrStage("acquisition", "New funnel entries", "count", lambda c, w: w.sum(c["leads"])),
    AarrrStage("activation", "Customers onboarded", "count",
               lambda c, w: w.sum(c["onboarding_due"] - c["onboarding_churned"]),
               "activation_rate", "Customers onboarded per new entry", "ratio",
               lambda c, w: ratio(w.sum(c["onboarding_due"] - c["onboarding_churned"]), w.sum(c["leads"]))),
    AarrrStage("retention", "Customers retained (at start − lost)", "count",
               lambda c, w: _start_customers(c, w) - w.sum(c["churned_customers"]),
               "retention_rate", "Retention rate (1 − logo churn)", "ratio",
               lambda c, w: 1.0 - ratio(w.sum(c["churned_customers"]), _start_customers(c, w))),
    AarrrStage("referral", "Entries from growth loops", "count", lambda c, w: w.sum(c["referrals"]),
               "referral_rate", "Loop entries per customer at start", "ratio",
               lambda c, w: ratio(w.sum(c["referrals"]), _start_customers(c, w))),
    AarrrStage("revenue", "Revenue (Σ MRR)", "money", lambda c, w: w.sum(c["mrr"]),
               "revenue_per_customer", "Revenue per customer", "money",
               lambda c, w: ratio(w.sum(c["mrr"]), w.sum(c["active_customers"]) / np.maximum(
                   (w.last - w.first + 1)[None, :], 1))),
)


def aarrr(run: RunKpis, kind: str = "year") -> xr.Dataset:
    """The AARRR view of a run per draw and period of ``kind`` (``month``, ``quarter``, ``year``).

    Returns
    -------
    xarray.Dataset
        One variable per stage (``acquisition``... ``revenue``) and per conversion (``activation_rate``,
        ``retention_rate``, ``referral_rate``, ``revenue_per_customer``), dims ``draw`` and ``period``, with
        ``label`` and ``units``; coordinates as :func:`revsim.kpis`.
    """
    import xarray as xr

    spans, coords = run.coords(kind)
    windows = Windows.of(spans, run.n_months)
    currency = run.currency
    units = {"count": "count", "ratio": "ratio", "money": currency}
    data = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for stage in AARRR_STAGES:
            data[stage.name] = xr.Variable(("draw", "period"), stage.value(run.components, windows),
                                           {"label": stage.value_label, "units": units[stage.value_unit],
                                            "stage": stage.name})
            if stage.rate is not None:
                data[stage.rate_name] = xr.Variable(("draw", "period"), stage.rate(run.components, windows),
                                                    {"label": stage.rate_label, "units": units[stage.rate_unit or ""],
                                                     "stage": stage.name})
    return xr.Dataset(data, coords=coords, attrs={**run.attrs(kind), "view": "aarrr"})
