"""From a posterior to scenario inputs: ``calibrated.yaml`` with ``dist: posterior`` references.

Every calibrated input refers to a variable of ``posterior.nc`` (next to the YAML file). revsim draws all
inputs of one posterior file with one uniform per draw, so each simulated draw takes every calibrated
input from the same posterior sample: the posterior's dependence between parameters (the sBG's alpha and
beta, a channel's volume and growth...) is carried into the forecast.

Some inputs are derived from the fitted quantities after sampling (and stored in ``posterior.nc`` too):

* ``volume``: a channel's expected entries in the scenario's first month, from the level at the middle of
  the history and the growth;
* ``renewal_share``: the share of a segment's book (MRR) that renews each month and stays, from the cohorts
  actually renewing (:mod:`revsim.calibrate.renewals`);
* ``upgrade_probability``: ``(expansion_rate - u r) / (size (1 - mrr_churn_rate + u r))``, with ``u`` the
  scenario's price uplift and ``r`` the renewal share: expansion MRR holds the uplift of the renewing
  customers, and upgrades happen to the month's survivors, on their MRR after the uplift. MRR movements
  measure the expected expansion per month, not how many customers upgrade and by how much, so the
  scenario's ``size`` is kept (0.25 when it has none);
* ``downgrade_probability``: ``contraction_rate / (contraction_size (1 - mrr_churn_rate + u r))``, likewise;
* ``renewal_churn``: ``contract_months x mrr_churn_rate``, the churn per renewal of a constant retention
  model, when there is no cohort table (renewals spread evenly over the months).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.calibrate.carried_levers import carry_levers
from revsim.calibrate.history import month_index
from revsim.calibrate.renewals import RenewalShare, fallback_share, share_from_book, share_from_cohorts

if TYPE_CHECKING:  # pragma: no cover
    from revsim.calibrate.fit import Fit
    from revsim.scenario.load import LoadedScenario

__all__ = ["Assignment", "add_derived", "assignments", "apply_assignments", "calibrated_scenario",
           "inputs_fragment", "DEFAULT_SIZE"]

#: Upgrade and downgrade size written when the scenario has none (MRR movements cannot tell it).
DEFAULT_SIZE = 0.25


@dataclass(frozen=True)
class Assignment:
    """One scenario input set by the calibration.

    ``kind`` is ``stage`` (name = stage), ``channel``, ``loop`` or a per-segment block (``retention``,
    ``onboarding``, ``pricing``, ``expansion``); ``segment`` None means every segment.
    """

    kind: str
    name: str | None
    segment: str | None
    field: str
    value: Any

    def path(self) -> str:
        """The input path, as in ``docs/scenario.md`` (with segment names where they apply)."""
        if self.kind == "stage":
            middle = f".by_segment.{self.segment}" if self.segment else ""
            return f"funnel.stages.{self.name}{middle}.{self.field}"
        if self.kind in ("channel", "loop"):
            return f"{self.kind}s.{self.name}.{self.field}"
        return f"{self.kind}{'.' + self.segment if self.segment else ''}.{self.field}"


def ref(var: str, posterior_file: str, **coords: str) -> dict[str, Any]:
    """A ``dist: posterior`` reference."""
    value: dict[str, Any] = {"dist": "posterior", "file": posterior_file, "var": var}
    if coords:
        value["coords"] = dict(coords)
    return value


def _mean(dist: Any, default: float = 0.0) -> float:
    return float(dist.mean()) if dist is not None else default


def forecast_start(result: Fit) -> int:
    """Month index of the first forecast month: the scenario's start, else the month after the history."""
    if result.context.start is not None:
        return result.context.start
    last = result.history.last_month
    return (last if last is not None else 0) + 1


def add_derived(result: Fit, loaded: LoadedScenario | None) -> None:
    """Add the derived variables of the module docstring to the posterior."""
    import xarray as xr

    posterior = result.idata.posterior
    derived = result.derived
    volume = result.block("volume")
    if volume is not None and "volume_level" in posterior and "growth" in posterior:
        offset = forecast_start(result) - month_index(volume.data.months[0]) - volume.data.centre
        posterior["volume"] = posterior["volume_level"] * (1 + posterior["growth"]) ** offset
        derived["volume"] = "volume"
    rates = result.block("movements")
    if rates is not None and loaded is not None:
        _add_upgrades_and_downgrades(result, loaded, rates)
    if rates is not None and result.block("retention") is None:
        context = result.context
        names = rates.data.segment_names
        terms = [context.contract_months.get(s, 1) for s in names] if rates.data.segments is not None else \
            [next(iter(context.contract_months.values()), 1)]
        term = xr.DataArray(terms, dims="segment", coords={"segment": names}) if rates.data.segments is not None \
            else terms[0]
        posterior["renewal_churn"] = _probability(result, "renewal churn", "monthly MRR churn rate x contract months",
                                                  posterior["mrr_churn_rate"] * term)
        derived["renewal_churn"] = "movements"
    result.idata.posterior = posterior


def _probability(result: Fit, name: str, formula: str, values: Any) -> Any:
    """``values`` clipped to [0, 1]; a note on ``result`` says how many posterior samples the clip changed."""
    clipped = values.clip(0, 1)
    changed = int(((values < 0) | (values > 1)).sum())
    if changed:
        result.notes.append(f"{name} ({formula}) fell outside [0, 1] in {changed:,} of {values.size:,} posterior "
                            "values, set to the nearest bound: the movements history and the scenario's sizes or "
                            "price uplift disagree")
    return clipped


def _add_upgrades_and_downgrades(result: Fit, loaded: LoadedScenario, rates: Any) -> None:
    """``upgrade_probability`` and ``downgrade_probability`` per segment, from the movement rates.

    With :math:`r` the share of the book renewing (:mod:`revsim.calibrate.renewals`), the expansion rate is
    :math:`u r + p_e s_e (1 - \\rho_{churn} + u r)` and the contraction rate :math:`p_c s_c (1 - \\rho_{churn} +
    u r)`: upgrades and downgrades happen to the month's survivors, on their MRR after the uplift.
    """
    import xarray as xr

    posterior = result.idata.posterior
    model = loaded.model
    d = rates.data
    names = d.segment_names
    segments = model.segment_names if d.segments is None else names
    uplift, size, csize, terms = [], [], [], []
    for seg in segments:
        exp = model.settings("expansion", seg)
        uplift.append(_mean(exp.price_uplift))
        size.append(_mean(exp.size) or DEFAULT_SIZE)
        csize.append(_mean(exp.contraction_size) or DEFAULT_SIZE)
        terms.append(model.settings("retention", seg).contract_months)
    mixed = any(len(set(values)) > 1 for values in (uplift, size, csize)) or (any(uplift) and len(set(terms)) > 1)
    if d.segments is None and mixed:
        result.notes.append("mrr.csv has no segment column but the scenario's segments differ in expansion size, "
                            "contraction size, price uplift or contract term: upgrade and downgrade rates were not "
                            "derived")
        return
    shares = []
    for i, name in enumerate(names):
        churn = posterior["mrr_churn_rate"].sel(segment=name) if d.segments is not None else posterior["mrr_churn_rate"]
        where = f"expansion, {name}" if d.segments is not None else "expansion"
        found = _renewal_share(result, loaded, name if d.segments is not None else None, terms[i], d.months,
                               d.level_before[:, i])
        if found is None:
            shares.append(fallback_share(terms[i], churn))
            if uplift[i]:
                result.notes.append(
                    f"{where}: the share of the book renewing each month (which the price uplift of {uplift[i]:.1%} "
                    "applies to) is not known from a cohort table dated by month or from an initial book that follows "
                    f"the history; it was taken as 1/{terms[i]} less the churn rate")
        else:
            shares.append(xr.full_like(churn, found.value))
            if uplift[i]:
                result.notes.append(
                    f"{where}: the price uplift of {uplift[i]:.1%} applies to {found.value:.1%} of the MRR a month (the "
                    f"cohorts renewing, from {found.source}, over {found.months} months); the rest of the expansion MRR "
                    "counts as upgrades")
    if d.segments is not None:
        share = xr.concat(shares, dim="segment").assign_coords(segment=names)
    else:
        share = shares[0]

    def per_segment(values: list[float]) -> Any:
        if d.segments is None:
            return values[0]
        return xr.DataArray(values, dims="segment", coords={"segment": names})

    renewed_uplift = per_segment(uplift) * share
    base = 1 - posterior["mrr_churn_rate"] + renewed_uplift  # the survivors' MRR after the uplift
    posterior["renewal_share"] = share
    posterior["upgrade_probability"] = _probability(
        result, "upgrade probability", "(expansion rate - price uplift x renewal share) / (upgrade size x survivors)",
        (posterior["expansion_rate"] - renewed_uplift) / (per_segment(size) * base))
    posterior["downgrade_probability"] = _probability(
        result, "downgrade probability", "contraction rate / (downgrade size x survivors)",
        posterior["contraction_rate"] / (per_segment(csize) * base))
    for name in ("renewal_share", "upgrade_probability", "downgrade_probability"):
        result.derived[name] = "movements"
    result.idata.posterior = posterior


def _renewal_share(result: Fit, loaded: LoadedScenario, segment: str | None, term: int, months: list[str],
                   weights: np.ndarray) -> RenewalShare | None:
    """From the cohort table, else from the initial book when the scenario starts right after the history."""
    cohorts = result.history.cohorts
    if cohorts is not None:
        found = share_from_cohorts(cohorts, segment=segment, term=term, months=months, weights=weights)
        if found is not None:
            return found
    start = result.context.start
    last = result.history.last_month
    if loaded.model.initial_book and start is not None and last is not None and start == last + 1:
        return share_from_book(loaded.model.initial_book, segment=segment, term=term, months=months,
                               weights=weights, start=start)
    return None


def assignments(result: Fit, loaded: LoadedScenario | None, posterior_file: str = "posterior.nc"
                ) -> tuple[list[Assignment], list[str]]:
    """The scenario inputs the posterior gives values for, and notes on what was left as it was."""
    out: list[Assignment] = []
    notes: list[str] = []
    post = result.idata.posterior
    context = result.context
    scenario_segments = context.segments

    def coords_for(segmented: bool, seg: str | None, **extra: str) -> dict[str, str]:
        values = dict(extra)
        if segmented and seg is not None:
            values["segment"] = seg
        return values

    funnel = result.block("funnel")
    if funnel is not None:
        d = funnel.data
        segmented = d.segments is not None
        for stage in d.stages:
            for field, var in (("conversion", "conversion"), ("months", "months_in_stage")):
                if var not in post:
                    continue
                if not segmented:
                    out.append(Assignment("stage", stage, None, field, ref(var, posterior_file, stage=stage)))
                    continue
                # with every segment calibrated, the stage's own value serves the first segment and the
                # others get by_segment entries; else each calibrated segment gets a by_segment entry
                every = set(d.segments_with_data) >= set(scenario_segments)
                for i, seg in enumerate(d.segments_with_data):
                    where = "" if every and i == 0 else seg
                    out.append(Assignment("stage", stage, where, field, ref(var, posterior_file, stage=stage,
                                                                           segment=seg)))

    volume = result.block("volume")
    if volume is not None and "volume" in post:
        d = volume.data
        for c, channel in enumerate(d.channel_names):
            target = None
            if d.channels is not None:
                if channel in context.channels or not context.has_scenario:
                    target = channel
                elif any(lp.name == channel for lp in context.loops):
                    continue
                else:
                    notes.append(f"channel '{channel}' of the funnel history is not a channel of the scenario; its "
                                 "volume is in posterior.nc but not used")
                    continue
            else:
                entering = [name for name, stage in context.channels.items() if stage == d.entry_stage[c]]
                if len(entering) == 1:
                    target = entering[0]
                elif not context.has_scenario:
                    target = "all"
                else:
                    notes.append(f"{len(entering)} channels of the scenario enter at {d.entry_stage[c]} and the funnel "
                                 "history has no channel column: their volumes were left as they are")
                    continue
            extra = {"channel": channel} if d.channels is not None else {}
            for field, var in (("volume", "volume"), ("growth", "growth"), ("dispersion", "dispersion")):
                if var in post:
                    out.append(Assignment("channel", target, None, field, ref(var, posterior_file, **extra)))
            if d.seasonal and "seasonality" in post:
                # twelve inputs, each month's multiplier drawn with the rest of the posterior sample
                months = [str(m) for m in post["seasonality"].month_of_year.values]
                out.append(Assignment("channel", target, None, "seasonality",
                                      [ref("seasonality", posterior_file, **extra, month_of_year=m) for m in months]))

    retention = result.block("retention")
    if retention is not None:
        d = retention.data
        segmented = d.segments is not None
        with_data = sorted({int(s) for s in d.cohort_segment})
        targets = [d.segment_names[s] for s in with_data] if segmented else [None]
        for seg in targets:
            choice = result.retention_choice.get(seg if seg is not None else d.segment_names[0], "sbg")
            coords = coords_for(segmented, seg)
            if choice == "sbg":
                value = {"model": "sbg", "alpha": ref("sbg_alpha", posterior_file, **coords),
                         "beta": ref("sbg_beta", posterior_file, **coords)}
            else:
                value = {"model": "constant", "churn": ref("churn", posterior_file, **coords)}
            out.append(Assignment("retention", None, seg, "__model__", value))
            if any(d.onboarding):
                name = retention.onboarding_name(choice)
                if name in post:
                    out.append(Assignment("onboarding", None, seg, "success", ref(name, posterior_file, **coords)))
    rates = result.block("movements")
    if rates is not None:
        d = rates.data
        segmented = d.segments is not None
        targets = [s for i, s in enumerate(d.segment_names) if d.used[:, i].any()] if segmented else [None]
        for seg in targets:
            coords = coords_for(segmented, seg)
            if "upgrade_probability" in post:
                out.append(Assignment("expansion", None, seg, "rate", ref("upgrade_probability", posterior_file,
                                                                          **coords)))
                out.append(Assignment("expansion", None, seg, "contraction_rate",
                                      ref("downgrade_probability", posterior_file, **coords)))
            if "renewal_churn" in post and (not context.has_scenario or context.retention_models.get(
                    seg or scenario_segments[0]) == "constant"):
                out.append(Assignment("retention", None, seg, "churn", ref("renewal_churn", posterior_file, **coords)))
    pricing = result.block("pricing")
    if pricing is not None:
        d = pricing.data
        segmented = d.segments is not None
        targets = [d.segment_names[s] for s in sorted(set(d.segment.tolist()))] if segmented else [None]
        for seg in targets:
            coords = coords_for(segmented, seg)
            out.append(Assignment("pricing", None, seg, "acv", ref("acv", posterior_file, **coords)))
            out.append(Assignment("pricing", None, seg, "acv_cv", ref("acv_cv", posterior_file, **coords)))
    loops = result.block("loops")
    if loops is not None and "loop_coefficient" in post:
        name = loops.data.loop or "referrals"
        out.append(Assignment("loop", name, None, "coefficient", ref("loop_coefficient", posterior_file)))
    return out, notes


# --------------------------------------------------------------------------------------------------------
# Applying assignments to a scenario's data
# --------------------------------------------------------------------------------------------------------


def _segment_entry(data: dict[str, Any], block: str, segment: str | None, segments: list[str]) -> list[dict]:
    """The mappings of per-segment ``block`` that hold ``segment``'s settings (all of them for None).

    A block written without segment names is split into one entry per segment when one segment changes.
    """
    from revsim.scenario.schema import DEFAULT_KEY

    current = data.get(block)
    if not isinstance(current, dict):
        current = {}
        data[block] = current
    keyed = any(k in segments or k == DEFAULT_KEY for k in current)
    if segment is None:
        return [v for v in current.values() if isinstance(v, dict)] if keyed else [current]
    if not keyed:
        if len(segments) == 1:
            return [current]
        data[block] = {seg: copy.deepcopy(current) for seg in segments}
        return [data[block][segment]]
    if segment not in current:
        current[segment] = copy.deepcopy(current.get(DEFAULT_KEY, {}))
    return [current[segment]]


def apply_assignments(data: dict[str, Any], items: list[Assignment], segments: list[str]) -> dict[str, Any]:
    """A copy of a scenario's data with the assignments made."""
    data = copy.deepcopy(data)
    for item in items:
        if item.kind == "stage":
            stage = next(s for s in data["funnel"]["stages"] if s.get("name") == item.name)
            if item.segment is None:
                stage[item.field] = item.value
                for override in (stage.get("by_segment") or {}).values():
                    if isinstance(override, dict):
                        override.pop(item.field, None)
            elif item.segment == "":
                stage[item.field] = item.value
                first = item.value["coords"]["segment"]
                overrides = stage.get("by_segment") or {}
                if isinstance(overrides.get(first), dict):
                    overrides[first].pop(item.field, None)
                    if not overrides[first]:
                        overrides.pop(first)
                    if not overrides:
                        stage.pop("by_segment", None)
            else:
                stage.setdefault("by_segment", {}).setdefault(item.segment, {})[item.field] = item.value
        elif item.kind in ("channel", "loop"):
            entries = data.get(f"{item.kind}s") or []
            target = next((e for e in entries if e.get("name") == item.name), None)
            if target is not None:
                target[item.field] = item.value
        else:
            for entry in _segment_entry(data, item.kind, item.segment, segments):
                if item.field == "__model__":
                    for key in ("model", "churn", "alpha", "beta"):
                        entry.pop(key, None)
                    entry.update(item.value)
                else:
                    entry[item.field] = item.value
    return data


def _relocate_files(data: Any, source_dir: Path, out_dir: Path, posterior_file: str) -> Any:
    """Rewrite relative ``file:`` entries of other inputs so they still resolve from ``out_dir``."""
    if isinstance(data, dict):
        if data.get("dist") in ("empirical", "posterior") and isinstance(data.get("file"), str):
            file = data["file"]
            if not (data.get("dist") == "posterior" and file == posterior_file) and not os.path.isabs(file):
                data = dict(data)
                data["file"] = os.path.relpath(source_dir / file, out_dir).replace(os.sep, "/")
            return data
        return {k: _relocate_files(v, source_dir, out_dir, posterior_file) for k, v in data.items()}
    if isinstance(data, list):
        return [_relocate_files(v, source_dir, out_dir, posterior_file) for v in data]
    return data


def calibrated_scenario(loaded: LoadedScenario, result: Fit, *, source_dir: Path, out_dir: Path,
                        posterior_file: str = "posterior.nc") -> tuple[dict[str, Any], list[str], list[str]]:
    """The scenario's data with calibrated inputs, notes, and the input paths calibrated.

    Correlations that involve a calibrated input are removed (inputs drawn from a posterior carry the
    posterior's own dependence instead); levers are carried over (:func:`carry_levers`).
    """
    items, notes = assignments(result, loaded, posterior_file)
    relocated = _relocate_files(loaded.data, source_dir.resolve(), out_dir.resolve(), posterior_file)
    data = apply_assignments(relocated, items, loaded.model.segment_names)
    paths = [i.path() for i in items if isinstance(i.value, dict | list)]
    if data.get("correlations"):
        kept = []
        for corr in data["correlations"]:
            between = list(corr.get("between") or [])
            touched = [p for p in between if _is_calibrated(p, items)]
            if touched:
                notes.append(f"the correlation between {' and '.join(between)} was removed: {touched[0]} is now "
                             "drawn from the posterior, which carries its own dependence")
            else:
                kept.append(corr)
        if kept:
            data["correlations"] = kept
        else:
            data.pop("correlations")
    notes += carry_levers(loaded, data)
    return data, notes, paths


def _is_calibrated(path: str, items: list[Assignment]) -> bool:
    for item in items:
        if isinstance(item.value, list):  # seasonality: one input per month, channels.<c>.seasonality.<month>
            if path.startswith(item.path() + "."):
                return True
            continue
        if not isinstance(item.value, dict):
            continue
        if item.field == "__model__":
            prefix = f"retention.{item.segment}." if item.segment else "retention."
            if path.startswith(prefix) or (item.segment and path.startswith("retention.") and
                                           path.count(".") == 1):
                return True
            continue
        candidates = {item.path()}
        if item.kind == "stage" and item.segment == "":
            candidates.add(f"funnel.stages.{item.name}.by_segment.{item.value['coords']['segment']}.{item.field}")
        if item.kind not in ("stage", "channel", "loop") and item.segment:
            candidates.add(f"{item.kind}.{item.field}")
        if path in candidates:
            return True
    return False


def inputs_fragment(items: list[Assignment]) -> dict[str, Any]:
    """Without a scenario: every calibrated input path with its value, to paste into a scenario."""
    out: dict[str, Any] = {}
    for item in items:
        if item.field == "__model__":
            for key, value in item.value.items():
                out[f"retention{'.' + item.segment if item.segment else ''}.{key}"] = value
        else:
            out[item.path()] = item.value
    return out
