"""Every team KPI: its name, owner teams, unit, how it is read over a period, and its formula.

Over a period $P$ (a month, a quarter, a fiscal year) a KPI is one of:

* a **flow**, summed over the period's months ($\\Sigma_P$);
* a **stock**, read at the end of the period's last month (``end``), or at its start (``start``: the end of
  the month before, the initial book for the first month);
* a **rate**, computed from the period's sums (pooled), never averaged from months or cohorts;
* a **per-draw** value that has no month (LTV).

The formulas are written for a period; a month is a period of one month. They are the ones
``docs/kpis.md`` lists. The catalogue depends on the scenario's funnel (:class:`FunnelStructure`): each stage
gives a KPI named after it (entries into the stage), owned by marketing up to the hand-off stage and by
sales after it.

This module imports numpy only: the scenario schema uses it to check the KPI names targets use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from revsim.revops.structure import FunnelStructure

if TYPE_CHECKING:  # pragma: no cover
    from revsim.revops.components import Components, Windows

__all__ = ["Kpi", "catalogue", "kpi_names", "UNITS", "KINDS", "STATIC_NAMES", "LEGACY_NAMES", "display_stage"]

#: Units of a KPI: how it is formatted.
UNITS = ("count", "money", "arr", "ratio", "months", "multiple")
#: How a KPI is read over a period.
KINDS = ("flow", "stock", "rate", "draw")

Compute = Callable[["Components", "Windows"], np.ndarray]


@dataclass(frozen=True)
class Kpi:
    """One KPI.

    Attributes
    ----------
    name
        What targets and ``--kpi`` call it (``mql``, ``win_rate``, ``new_arr``).
    label
        Its name for readers (``MQL -> SQL conversion``).
    teams
        The teams that watch it; the first owns it.
    unit
        ``count``, ``money`` (currency), ``arr`` (currency of ARR), ``ratio``, ``months`` or ``multiple``.
    kind
        ``flow``, ``stock``, ``rate`` or ``draw`` (see the module).
    better
        ``higher``, ``lower`` or ``neither``: the default direction of a target on it.
    formula
        Its definition over a period, as the reference lists it.
    compute
        ``compute(components, windows)`` -> ``[draw, window]``.
    needs
        What the scenario must have for it (``costs``, ``capacity``, ``quota``, ``opex``, ``loops``), or None.
    """

    name: str
    label: str
    teams: tuple[str, ...]
    unit: str
    kind: str
    better: str
    formula: str
    compute: Compute
    needs: str | None = None

    @property
    def team(self) -> str:
        return self.teams[0]


#: What each ``needs`` means, for messages.
NEEDS = {
    "costs": "a costs block",
    "capacity": "a sales capacity (funnel.sales_capacity)",
    "quota": "a quota per rep (funnel.sales_capacity.quota_per_rep)",
    "opex": "other operating costs (costs.other_opex)",
    "loops": "growth loops",
}


def display_stage(name: str) -> str:
    """A stage name for readers, as the charts write it: ``mql`` -> ``MQL``, ``opportunity`` -> ``Opportunity``."""
    from revsim.plot.style import display_name

    return display_name(name)


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, NaN where the denominator is 0 (or not positive)."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


_r = ratio


def _stage_flow(kind: str, k: int) -> Compute:
    return lambda c, w: w.sum(c.stage[kind][..., k])


def _leavers(c: Components, w: Windows, k: int) -> np.ndarray:
    return w.sum(c.stage["converted"][..., k] + c.stage["lost"][..., k])


def _net_new(c: Components) -> np.ndarray:
    return c["new_arr"] + c["expansion_arr"] - c["contraction_arr"] - c["churned_arr"]


def _gross_profit(c: Components) -> np.ndarray:
    return c["mrr"] * c.per_draw["gross_margin"][:, None] - \
        c["active_customers"] * c.per_draw["cs_cost_per_customer"][:, None]


def _operating_costs(c: Components) -> np.ndarray:
    """Sales and marketing spend, cost of serving customers, delivery costs and other operating costs."""
    return c["sales_marketing_spend"] + c["active_customers"] * c.per_draw["cs_cost_per_customer"][:, None] + \
        c["mrr"] * (1.0 - c.per_draw["gross_margin"][:, None]) + c.per_draw["other_opex"][:, None]


def _quota(c: Components) -> np.ndarray:
    return c["sales_reps"] * float(c.quota_per_rep or 0.0)


def _cac(c: Components, w: Windows) -> np.ndarray:
    return _r(w.sum(c["sales_marketing_spend"]), w.sum(c["new_customers"]))


def _payback(c: Components, w: Windows) -> np.ndarray:
    new_mrr_per_customer = _r(w.sum(c["new_arr"]) / 12.0, w.sum(c["new_customers"]))
    return _r(_cac(c, w), new_mrr_per_customer * c.per_draw["gross_margin"][:, None])


def _stage_kpis(s: FunnelStructure) -> list[Kpi]:
    kpis = []
    for k, name in enumerate(s.stages[:-1]):
        team = "marketing" if k in s.marketing_stages else "sales"
        teams = (team, "marketing_to_sales") if k in (s.handoff, s.handoff + 1) else (team,)
        kpis.append(Kpi(name, f"{display_stage(name)} entries", teams, "count", "flow", "higher",
                        f"Σ_P entries into stage '{name}' (from channels and loops, and conversions of the stage "
                        "before)", _stage_flow("entries", k)))
    return kpis


def catalogue(s: FunnelStructure) -> list[Kpi]:
    """Every KPI of a scenario with this funnel structure, in team order (those it cannot compute included:
    see :attr:`Kpi.needs`)."""
    first, handoff, closing = s.stages[0], s.stages[s.handoff], s.stages[s.closing]
    after_handoff = s.stages[s.handoff + 1]
    first_d, handoff_d, after_d, closing_d = (display_stage(x) for x in (first, handoff, after_handoff, closing))
    h, c_ = s.handoff, s.closing
    stage = {kpi.name: kpi for kpi in _stage_kpis(s)}
    marketing = [
        Kpi("leads", "New funnel entries (leads)", ("marketing",), "count", "flow", "higher",
            "Σ_P new entries into the funnel from channels and loops, at any stage", lambda c, w: w.sum(c["leads"])),
        *(stage[n] for n in s.stages[: h + 1]),
        Kpi("marketing_spend", "Marketing spend (channels)", ("marketing",), "money", "flow", "neither",
            "Σ_P channel spend (costs.channel_spend, following each channel's growth and seasonality)",
            lambda c, w: w.sum(c["channel_spend"]), needs="costs"),
        Kpi("cost_per_lead", f"Cost per {first_d.lower() if len(first_d) > 3 else first_d}", ("marketing",),
            "money", "rate", "lower", "Σ_P channel spend / Σ_P leads",
            lambda c, w: _r(w.sum(c["channel_spend"]), w.sum(c["leads"])), needs="costs"),
    ]
    handoff_kpis = [
        Kpi("handoff_rate", f"{handoff_d} → {after_d} conversion", ("marketing_to_sales",), "ratio", "rate", "higher",
            f"Σ_P {handoff} converted / Σ_P ({handoff} converted + {handoff} lost)",
            lambda c, w: _r(w.sum(c.stage["converted"][..., h]), _leavers(c, w, h))),
        Kpi("handoff_months", f"Months as {handoff_d} before the hand-off", ("marketing_to_sales",), "months", "rate",
            "lower", f"Σ_P {handoff} open at month end / Σ_P ({handoff} converted + lost): the mean time in stage "
            "by Little's law", lambda c, w: _r(w.sum(c.stage["open"][..., h]), _leavers(c, w, h))),
    ]
    sales = [
        *(stage[n] for n in s.stages[h + 1: c_ + 1]),
        Kpi("deals_won", f"Deals won ({closing_d} converted)", ("sales",), "count", "flow", "higher",
            f"Σ_P {closing} converted (deals waiting for sales capacity included)",
            lambda c, w: w.sum(c.stage["converted"][..., c_])),
        Kpi("new_customers", "New customers", ("sales", "finance"), "count", "flow", "higher",
            "Σ_P customers won", lambda c, w: w.sum(c["new_customers"])),
        Kpi("new_arr", "New ARR", ("sales", "finance"), "arr", "flow", "higher",
            "Σ_P ARR of the customers won", lambda c, w: w.sum(c["new_arr"])),
        Kpi("win_rate", f"Win rate ({closing_d})", ("sales",), "ratio", "rate", "higher",
            f"Σ_P {closing} converted / Σ_P ({closing} converted + {closing} lost)",
            lambda c, w: _r(w.sum(c.stage["converted"][..., c_]), _leavers(c, w, c_))),
        Kpi("sales_cycle_months", f"Sales cycle (months in {closing_d})", ("sales",), "months", "rate", "lower",
            f"Σ_P {closing} open at month end / Σ_P ({closing} converted + lost): mean months in the stage by "
            "Little's law, waits for sales capacity included",
            lambda c, w: _r(w.sum(c.stage["open"][..., c_]), _leavers(c, w, c_))),
        Kpi("asp", "Average selling price (ACV)", ("sales",), "money", "rate", "higher",
            "Σ_P new ARR / Σ_P new customers", lambda c, w: _r(w.sum(c["new_arr"]), w.sum(c["new_customers"]))),
        Kpi("pipeline_arr", f"Open pipeline ({closing_d}, ARR)", ("sales",), "arr", "stock", "higher",
            f"end of P: open {closing} deals × mean ACV (open_pipeline_arr)", lambda c, w: w.end(c["open_pipeline_arr"])),
        Kpi("pipeline_coverage", "Pipeline coverage (next quarter)", ("sales",), "multiple", "stock",
            "higher", "end of P: open pipeline ARR / (3 × sales reps × quota_per_rep)",
            lambda c, w: w.end(c["pipeline_coverage"]), needs="quota"),
        Kpi("quota_attainment", "Quota attainment", ("sales",), "ratio", "rate", "higher",
            "Σ_P new ARR / Σ_P (sales reps × quota_per_rep)", lambda c, w: _r(w.sum(c["new_arr"]), w.sum(_quota(c))),
            needs="quota"),
        Kpi("sales_reps", "Sales reps", ("sales",), "count", "stock", "neither", "end of P: reps + hires × t",
            lambda c, w: w.end(c["sales_reps"]), needs="capacity"),
    ]
    success_handoff = [
        Kpi("customers_onboarded", "Customers onboarded", ("sales_to_success",), "count", "flow", "higher",
            "Σ_P (customers reaching the end of onboarding − onboarding failures)",
            lambda c, w: w.sum(c["onboarding_due"] - c["onboarding_churned"])),
        Kpi("onboarding_success", "Onboarding success", ("sales_to_success",), "ratio", "rate", "higher",
            "1 − Σ_P onboarding failures / Σ_P customers reaching the end of onboarding (the cohorts won "
            "max(onboarding.months, 1) months earlier)",
            lambda c, w: 1.0 - _r(w.sum(c["onboarding_churned"]), w.sum(c["onboarding_due"]))),
    ]
    success = [
        Kpi("expansion_arr", "Expansion ARR", ("customer_success", "finance"), "arr", "flow", "higher",
            "Σ_P ARR added by upgrades and renewal price uplifts", lambda c, w: w.sum(c["expansion_arr"])),
        Kpi("contraction_arr", "Contraction ARR", ("customer_success", "finance"), "arr", "flow", "lower",
            "Σ_P ARR lost to downgrades", lambda c, w: w.sum(c["contraction_arr"])),
        Kpi("churned_customers", "Churned customers", ("customer_success",), "count", "flow", "lower",
            "Σ_P customers lost (onboarding failures included)", lambda c, w: w.sum(c["churned_customers"])),
        Kpi("churned_arr", "Churned ARR", ("customer_success", "finance"), "arr", "flow", "lower",
            "Σ_P ARR of the customers lost", lambda c, w: w.sum(c["churned_arr"])),
        Kpi("logo_churn", "Logo churn", ("customer_success",), "ratio", "rate", "lower",
            "Σ_P customers lost / customers at the start of P",
            lambda c, w: _r(w.sum(c["churned_customers"]), w.start(c["active_customers"], c.initial["customers"]))),
        Kpi("renewals", "Renewals (customers)", ("customer_success",), "count", "flow", "higher",
            "Σ_P customers due for a renewal who renewed", lambda c, w: w.sum(c["renewed_customers"])),
        Kpi("renewal_rate", "Renewal rate", ("customer_success",), "ratio", "rate", "higher",
            "Σ_P renewed / Σ_P (renewed + customers lost at a renewal), with customers lost at a renewal = "
            "customers lost − onboarding failures",
            lambda c, w: _r(w.sum(c["renewed_customers"]), w.sum(c["renewed_customers"] + c["churned_customers"]
                                                                 - c["onboarding_churned"]))),
        Kpi("nrr_12m", "Net revenue retention (12 months)", ("customer_success", "finance"), "ratio", "stock",
            "higher", "end of P: nrr_12m (MRR now of the customers of 12 months ago / their MRR then)",
            lambda c, w: w.end(c["nrr_12m"])),
        Kpi("grr_12m", "Gross revenue retention (12 months)", ("customer_success", "finance"), "ratio", "stock",
            "higher", "end of P: grr_12m (nrr_12m without expansion, at most 100%)", lambda c, w: w.end(c["grr_12m"])),
        Kpi("active_customers", "Active customers", ("customer_success", "finance"), "count", "stock", "higher",
            "end of P: customers", lambda c, w: w.end(c["active_customers"])),
        Kpi("advocates", "Advocates", ("customer_success",), "count", "stock", "higher", "end of P: advocates",
            lambda c, w: w.end(c["advocates"])),
        Kpi("referrals", "Referral entries (growth loops)", ("customer_success", "marketing"), "count", "flow",
            "higher", "Σ_P entries produced by the growth loops", lambda c, w: w.sum(c["referrals"]), needs="loops"),
    ]
    finance = [
        Kpi("arr_start", "ARR at the start", ("finance",), "arr", "stock", "higher",
            "start of P: ARR at the end of the month before P (the initial book for the first month)",
            lambda c, w: w.start(c["arr"], c.initial["arr"])),
        Kpi("net_new_arr", "Net new ARR", ("finance",), "arr", "flow", "higher",
            "Σ_P (new + expansion − contraction − churned ARR) = ARR at the end − ARR at the start",
            lambda c, w: w.sum(_net_new(c))),
        Kpi("arr", "ARR", ("finance",), "arr", "stock", "higher", "end of P: ARR (12 × MRR)",
            lambda c, w: w.end(c["arr"])),
        Kpi("mrr", "MRR", ("finance",), "money", "stock", "higher", "end of P: MRR", lambda c, w: w.end(c["mrr"])),
        Kpi("revenue", "Revenue (recurring)", ("finance",), "money", "flow", "higher",
            "Σ_P MRR at month end (a month's revenue is its closing MRR)", lambda c, w: w.sum(c["mrr"])),
        Kpi("revenue_per_lead", "New ARR per lead", ("finance", "marketing"), "arr", "rate", "higher",
            "Σ_P new ARR / Σ_P leads", lambda c, w: _r(w.sum(c["new_arr"]), w.sum(c["leads"]))),
        Kpi("gross_profit", "Gross profit", ("finance",), "money", "flow", "higher",
            "Σ_P (MRR × gross_margin − cs_cost_per_customer × customers)",
            lambda c, w: w.sum(_gross_profit(c)), needs="costs"),
        Kpi("sales_marketing_spend", "Sales and marketing spend", ("finance",), "money", "flow", "neither",
            "Σ_P (channel spend + other spend + sales reps × cost_per_rep)",
            lambda c, w: w.sum(c["sales_marketing_spend"]), needs="costs"),
        Kpi("cac", "CAC", ("finance", "sales"), "money", "rate", "lower",
            "Σ_P sales and marketing spend / Σ_P new customers", _cac, needs="costs"),
        Kpi("cac_payback_months", "CAC payback", ("finance",), "months", "rate", "lower",
            "CAC / ((Σ_P new ARR / 12 / Σ_P new customers) × gross_margin)", _payback, needs="costs"),
        Kpi("ltv", "LTV (lifetime margin)", ("finance",), "money", "draw", "higher",
            "per draw: expected margin of a new customer over costs.ltv_months (docs/model.md, section 9)",
            lambda c, w: w.per_draw(c.per_draw["ltv"]), needs="costs"),
        Kpi("ltv_cac", "LTV : CAC", ("finance",), "multiple", "rate", "higher", "LTV / CAC of P",
            lambda c, w: _r(w.per_draw(c.per_draw["ltv"]), _cac(c, w)), needs="costs"),
        Kpi("burn_multiple", "Burn multiple", ("finance",), "multiple", "rate", "lower",
            "Σ_P (operating costs − revenue) / Σ_P net new ARR, operating costs = sales and marketing spend + "
            "cs_cost_per_customer × customers + (1 − gross_margin) × MRR + other_opex; NaN when net new ARR ≤ 0",
            lambda c, w: _r(w.sum(_operating_costs(c) - c["mrr"]), w.sum(_net_new(c))), needs="opex"),
    ]
    return [*marketing, *handoff_kpis, *sales, *success_handoff, *success, *finance]


#: KPI names that do not depend on the funnel (stage names add one KPI each).
STATIC_NAMES = tuple(k.name for k in catalogue(FunnelStructure(("a", "b", "c"), 0, 1)) if k.name not in ("a", "b"))
#: Names targets accepted before the KPI catalogue, still read: customers won since the start.
LEGACY_NAMES = ("new_customers_total",)


def kpi_names(s: FunnelStructure) -> list[str]:
    """Every KPI name of a scenario with this structure (stage names included), and the legacy ones."""
    return [k.name for k in catalogue(s)] + list(LEGACY_NAMES)


def available(kpi: Kpi, s: FunnelStructure) -> bool:
    """Whether a scenario with this structure has what ``kpi`` needs."""
    return kpi.needs is None or bool(getattr(s, f"has_{kpi.needs}"))

