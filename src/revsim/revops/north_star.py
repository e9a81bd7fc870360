"""The North Star metric: its distribution, and a driver tree of its input metrics from paired runs.

The scenario names the North Star (a KPI, or a ratio of two KPIs) and its input metrics under
``kpis.north_star``. Its distribution is read from the run. Each input's **contribution** is measured by a
paired run: the input's lever (the one the scenario gives, or by default its driving inputs moved by +10%:
the stage conversion behind a stage's entries, the ACV behind the average selling price, churn behind logo
churn...) applied to the run's scenario, simulated with the run's seed and draws, so that draw ``i`` differs
from the run's draw ``i`` by the lever alone. The tree reports, per input, how much the lever moved the input
metric and the North Star (mean paired difference with its standard error, and as a share of the base), and
their ratio, the North Star's elasticity to the input.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.errors import InputError
from revsim.revops.catalogue import ratio

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from revsim.revops.compute import RunKpis

__all__ = ["NorthStarView", "north_star", "north_star_values", "north_star_units", "default_driver_paths",
           "describe_paths", "DriverTree",
           "driver_tree", "DRIVER_CHANGE", "DRIVER_COLUMNS"]

#: The change applied to an input's driving inputs when the scenario gives no lever.
DRIVER_CHANGE = "+10%"
DRIVER_COLUMNS = ["input", "label", "lever", "input_base", "input_change", "north_star_base", "north_star_diff",
                  "north_star_diff_se", "north_star_change", "elasticity", "p_up", "note"]


def north_star_values(run: RunKpis, metric: str, spans: list[tuple[int, int]]) -> np.ndarray:
    """The North Star (a KPI, or ``a / b``) per draw over each window: ``[draw, window]``."""
    parts = [p.strip() for p in metric.split("/")]
    values = run.values(parts[0], spans)
    return values if len(parts) == 1 else ratio(values, run.values(parts[1], spans))


def north_star_units(run: RunKpis, metric: str) -> str:
    """The unit of the North Star: its KPI's, or for a ratio the currency (money per count), ``multiple``
    (two KPIs of the same unit) or ``count``."""
    parts = [run.kpi(p.strip()) for p in metric.split("/")]
    if len(parts) == 1:
        return run.units(parts[0])
    top, bottom = parts
    if top.unit in ("money", "arr") and bottom.unit == "count":
        return run.currency
    return "multiple" if top.unit == bottom.unit else "count"


@dataclass
class NorthStarView:
    """The North Star of a run: its definition and its values per draw and period."""

    name: str
    metric: str
    inputs: list[str]
    table: xr.Dataset  # north_star and each input, dims draw and period

    @property
    def last_complete(self) -> str:
        """The last period the run covers entirely (the last period when none is complete)."""
        complete = [str(p) for p, c in zip(self.table["period"].values, self.table["complete"].values, strict=True)
                    if c]
        return complete[-1] if complete else str(self.table["period"].values[-1])


def north_star(run: RunKpis, kind: str | None = None) -> NorthStarView | None:
    """The run's North Star per draw and period (its own period kind by default), or None without one."""
    import xarray as xr

    settings = getattr(run.scenario.model, "kpis", None)
    star = settings.north_star if settings is not None else None
    if star is None:
        return None
    kind = kind or star.period
    spans, coords = run.coords(kind)
    data = {"north_star": xr.Variable(("draw", "period"), north_star_values(run, star.metric, spans),
                                      {"label": star.label, "metric": star.metric,
                                       "units": north_star_units(run, star.metric)})}
    for item in star.inputs:
        kpi = run.kpi(item.metric)
        data[item.metric] = xr.Variable(("draw", "period"), run.values(kpi, spans),
                                        {"label": kpi.label, "units": run.units(kpi), "better": kpi.better})
    table = xr.Dataset(data, coords=coords, attrs=run.attrs(kind))
    return NorthStarView(star.label, star.metric, [i.metric for i in star.inputs], table)


#: KPI -> the scenario inputs that drive it directly (path patterns; {h}, {c}, {k-1} are stage names).
_DRIVERS: dict[str, tuple[str, ...]] = {
    "leads": ("channels.*.volume",),
    "handoff_rate": ("funnel.stages.{h}.conversion", "funnel.stages.{h}.by_segment.*.conversion"),
    "handoff_months": ("funnel.stages.{h}.months", "funnel.stages.{h}.by_segment.*.months"),
    "win_rate": ("funnel.stages.{c}.conversion", "funnel.stages.{c}.by_segment.*.conversion"),
    "deals_won": ("funnel.stages.{c}.conversion", "funnel.stages.{c}.by_segment.*.conversion"),
    "new_customers": ("funnel.stages.{c}.conversion", "funnel.stages.{c}.by_segment.*.conversion"),
    "sales_cycle_months": ("funnel.stages.{c}.months", "funnel.stages.{c}.by_segment.*.months"),
    "asp": ("pricing.acv", "pricing.*.acv"),
    "new_arr": ("pricing.acv", "pricing.*.acv"),
    "onboarding_success": ("onboarding.success", "onboarding.*.success"),
    "customers_onboarded": ("onboarding.success", "onboarding.*.success"),
    "logo_churn": ("retention.churn", "retention.*.churn"),
    "churned_customers": ("retention.churn", "retention.*.churn"),
    "churned_arr": ("retention.churn", "retention.*.churn"),
    "renewal_rate": ("retention.churn", "retention.*.churn"),
    "renewals": ("retention.churn", "retention.*.churn"),
    "grr_12m": ("retention.churn", "retention.*.churn"),
    "expansion_arr": ("expansion.rate", "expansion.*.rate"),
    "nrr_12m": ("expansion.rate", "expansion.*.rate"),
    "contraction_arr": ("expansion.contraction_rate", "expansion.*.contraction_rate"),
    "referrals": ("loops.*.coefficient",),
    "advocates": ("advocacy.rate", "advocacy.*.rate"),
    "marketing_spend": ("costs.channel_spend.*",),
    "cost_per_lead": ("costs.channel_spend.*",),
    "sales_reps": ("funnel.sales_capacity.reps",),
    "quota_attainment": ("funnel.sales_capacity.reps",),
    "pipeline_coverage": ("funnel.sales_capacity.reps",),
}


def default_driver_paths(run: RunKpis, metric: str) -> list[str]:
    """The scenario inputs that drive ``metric`` directly (see :data:`_DRIVERS`; a stage's entries: the
    conversion of the stage before, or the channels' volume for the first stage)."""
    from revsim.scenario.schema import iter_inputs

    s = run.structure
    stages = list(s.stages)
    if metric in stages:
        k = stages.index(metric)
        patterns: tuple[str, ...] = ("channels.*.volume",) if k == 0 else (
            f"funnel.stages.{stages[k - 1]}.conversion", f"funnel.stages.{stages[k - 1]}.by_segment.*.conversion")
    else:
        patterns = tuple(p.format(h=stages[s.handoff], c=stages[s.closing]) for p in _DRIVERS.get(metric, ()))
    paths = [path for path, _ in iter_inputs(run.scenario.model)]
    return [path for path in paths if any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)]


@dataclass
class DriverTree:
    """The North Star's driver tree: one row per input metric (the columns of :data:`DRIVER_COLUMNS`)."""

    name: str
    metric: str
    period: str
    units: str
    base: np.ndarray  # the North Star per draw in the base run
    table: pd.DataFrame
    draws: int
    seed: int
    currency: str
    notes: list[str] = field(default_factory=list)


def describe_paths(paths: list[str] | tuple[str, ...]) -> str:
    """Input paths for readers, each kind once: ``Lead conversion``, ``ACV``, ``churn``, ``inbound volume``."""
    from revsim.revops.catalogue import display_stage

    words = []
    for path in paths:
        parts = path.split(".")
        leaf = parts[-1]
        if parts[0] == "funnel" and parts[1] == "stages":
            stage = display_stage(parts[2])
            words.append(f"{stage} conversion" if leaf == "conversion" else f"months in {stage}")
        elif parts[0] in ("channels", "loops"):
            words.append(f"{parts[1].replace('_', ' ')} {'volume' if leaf == 'volume' else 'loop ' + leaf}")
        elif parts[0] == "costs" and len(parts) == 3:
            words.append(f"{parts[2].replace('_', ' ')} spend")
        else:
            words.append({"acv": "ACV", "churn": "churn per renewal", "rate": f"{parts[0]} rate",
                          "success": "onboarding success", "reps": "sales reps"}.get(leaf, leaf.replace("_", " ")))
    return ", ".join(dict.fromkeys(words))


def _lever_for(run: RunKpis, item: Any) -> tuple[Any, str]:
    """The lever of an input and its description for readers."""
    from revsim.scenario.levers import LeverSpec, get_lever, parse_change

    if item.lever is not None:
        lever = get_lever(run.scenario, item.lever)
        return lever, lever.description or f"{describe_paths(lever.paths)} {lever.change.describe()}"
    paths = default_driver_paths(run, item.metric)
    if not paths:
        raise InputError.single(f"no default lever moves '{item.metric}': give the input a lever (a lever's name or "
                                "PATH=CHANGE)", path=("kpis", "north_star", "inputs"))
    lever = LeverSpec(f"{item.metric} drivers {DRIVER_CHANGE}", tuple(paths), parse_change(DRIVER_CHANGE))
    return lever, f"{describe_paths(paths)} {DRIVER_CHANGE}"


def driver_tree(run: RunKpis, *, period: str | None = None, threads: int | None = None,
                progress: Callable[[int], None] | None = None) -> DriverTree:
    """Each North Star input's contribution, from paired runs (see the module).

    Parameters
    ----------
    run
        The base run's KPIs (its seed and draws are used for every paired run).
    period
        The period the North Star is read over (default: the last period of its kind the run covers
        entirely).

    Raises
    ------
    InputError
        Without a North Star, or for a period the run does not cover.
    """
    import pandas as pd

    from revsim.pipeline import run_dataset
    from revsim.revops.compute import run_kpis
    from revsim.scenario.overrides import apply_lever

    view = north_star(run)
    if view is None:
        raise InputError.single("the scenario names no North Star (add kpis: north_star: with a metric and its "
                                "inputs)", path=("kpis", "north_star"))
    star = run.scenario.model.kpis.north_star
    labels = [str(p) for p in view.table["period"].values]
    chosen = period or view.last_complete
    if chosen not in labels:
        raise InputError.single(f"'{chosen}' is not a {star.period} of the run ({', '.join(labels)})",
                                path=("--period",))
    index = labels.index(chosen)
    spans, _ = run.coords(star.period)
    span = [spans[index]]
    base = view.table["north_star"].values[:, index]
    draws, seed = run.ds.sizes["draw"], int(run.ds.attrs.get("seed", 0))
    rows, notes = [], []
    for item in star.inputs:
        kpi = run.kpi(item.metric)
        input_base = run.values(kpi, span)[:, 0]
        row: dict[str, Any] = {"input": item.metric, "label": kpi.label}
        try:
            lever, described = _lever_for(run, item)
            variant, _ = apply_lever(run.scenario, lever)
        except InputError as exc:
            row.update({"lever": item.lever or "", "note": exc.problems[0].message if exc.problems else str(exc)})
            notes.append(f"{item.metric}: {row['note']}")
            rows.append(row)
            continue
        ds, _ = run_dataset(variant, draws=draws, seed=seed, threads=threads, progress=progress)
        other = run_kpis(ds, scenario=variant, fiscal_year_start=run.calendar.start_month)
        moved = north_star_values(other, star.metric, span)[:, 0]
        input_moved = other.values(kpi, span)[:, 0]
        ok = np.isfinite(moved) & np.isfinite(base)
        diff = moved[ok] - base[ok]
        both = np.isfinite(input_moved) & np.isfinite(input_base)
        input_change = _relative(np.mean(input_moved[both]), np.mean(input_base[both])) if both.any() else np.nan
        ns_change = _relative(np.mean(moved[ok]), np.mean(base[ok])) if ok.any() else np.nan
        row.update({
            "lever": described, "input_base": float(np.mean(input_base[both])) if both.any() else np.nan,
            "input_change": input_change, "north_star_base": float(np.mean(base[ok])) if ok.any() else np.nan,
            "north_star_diff": float(np.mean(diff)) if diff.size else np.nan,
            "north_star_diff_se": float(np.std(diff, ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else np.nan,
            "north_star_change": ns_change,
            "elasticity": ns_change / input_change if np.isfinite(input_change) and input_change != 0 else np.nan,
            "p_up": float(np.mean(diff > 0)) if diff.size else np.nan, "note": ""})
        rows.append(row)
    table = pd.DataFrame(rows, columns=DRIVER_COLUMNS)
    return DriverTree(view.name, star.metric, chosen, view.table["north_star"].attrs["units"], base, table, draws,
                      seed, run.currency, notes)


def _relative(new: float, old: float) -> float:
    return float((new - old) / abs(old)) if old != 0 and np.isfinite(old) else float("nan")
