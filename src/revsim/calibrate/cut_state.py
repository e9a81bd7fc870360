"""The company as the history shows it at a backtest's cut: the initial book and the open pipeline.

The forecast of a backtest starts from the end of the cut month. The **book** is the cohort table's customers
at that month, each cohort with its true age (so its renewal months follow its acquisition month) and its
MRR: from the table's ``mrr`` column, else its share of the segment's MRR at the cut, so that the book's ARR
is the observed ARR. The **open pipeline** is the CRM's open count at the cut where ``funnel.csv`` gives it
(its ``open`` column). Where it does not, members still in a stage are the stage's entries that have not
left yet, which depends on the months in stage. It is computed for every posterior sample with that sample's
months in stage, so each simulated draw starts with the pipeline its own delays imply (a slow-stage draw holds
more open members, which leave more slowly): the stock and the hazard then agree, as they do in the history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.calibrate.history import History, month_index, month_label
from revsim.engine.compile import split_evenly
from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from revsim.calibrate.fit import Fit
    from revsim.scenario.load import LoadedScenario

__all__ = ["book_at", "open_pipeline_draws", "pipeline_references", "OPEN_VARIABLE"]

#: The posterior variable holding the members open in each stage at the cut, per posterior sample.
OPEN_VARIABLE = "open_at_cut"


def book_at(history: History, loaded: LoadedScenario, cut: int) -> list[dict[str, Any]]:
    """The initial book at the end of month ``cut``: one entry per cohort still holding customers."""
    cohorts = history.cohorts
    if cohorts is None:
        raise InputError.single("a backtest needs cohorts.csv to know the customers at the cut (with cohorts "
                                "labelled by month, YYYY-MM)", path=("--history",))
    if not cohorts.dated:
        raise InputError.single("the cohorts must be labelled by their month (YYYY-MM) for a backtest: the "
                                "forecast starts from each cohort's customers and age at the cut", file=cohorts.file)
    segments = loaded.model.segment_names
    if cohorts.segments is None and len(segments) > 1:
        raise InputError.single("cohorts.csv has no segment column, but the scenario has several segments: a "
                                "backtest needs to know each cohort's segment", file=cohorts.file)
    p = cohorts.period_months
    entries = []
    for c, label in enumerate(cohorts.labels):
        start = int(cohorts.start[c])
        if start > cut:
            continue
        period = (cut - start) // p
        row = cohorts.customers[c]
        observed = int(np.sum(np.isfinite(row)))
        if period >= observed:
            period = observed - 1
        customers = float(row[period])
        if customers <= 0:
            continue
        seg = cohorts.segment_names[int(cohorts.segment[c])] if cohorts.segments is not None else segments[0]
        mrr = float(cohorts.mrr[c, period]) if cohorts.mrr is not None and np.isfinite(cohorts.mrr[c, period]) else None
        entries.append({"segment": seg, "customers": int(customers), "mrr": mrr, "age_months": cut + 1 - start,
                        "label": label})
    if not entries:
        raise InputError.single(f"no cohort holds customers at {month_label(cut)}: nothing to forecast from",
                                file=cohorts.file)
    # MRR of cohorts without it: their share (by customers) of the segment's MRR at the cut
    mrr = history.mrr
    for seg in {e["segment"] for e in entries}:
        group = [e for e in entries if e["segment"] == seg and e["mrr"] is None]
        if not group:
            continue
        level = None
        if mrr is not None and mrr.mrr is not None and month_label(cut) in mrr.months:
            t = mrr.months.index(month_label(cut))
            level = float(mrr.mrr[t].sum()) if mrr.segments is None else (
                float(mrr.mrr[t, mrr.segments.index(seg)]) if seg in mrr.segments else None)
            if mrr.segments is None and len(segments) > 1:
                total = sum(e["customers"] for e in entries)
                level = level * sum(e["customers"] for e in entries if e["segment"] == seg) / total
        if level is None:
            raise InputError.single(f"cannot tell the MRR of segment {seg} at {month_label(cut)}: give mrr.csv with "
                                    "an mrr column, or an mrr column in cohorts.csv", path=("--history",))
        growth = _net_expansion(mrr, seg, cut)
        weights = [e["customers"] * (1 + growth) ** e["age_months"] for e in group]
        cents = split_evenly(round(level * 100), np.asarray(weights))  # adds up to the segment's MRR exactly
        for e, part in zip(group, cents, strict=True):
            e["mrr"] = int(part) / 100
    book = []
    for e in entries:
        item = {"segment": e["segment"], "customers": e["customers"], "mrr": round(e["mrr"], 2),
                "age_months": e["age_months"]}
        if len(segments) == 1:
            item.pop("segment")
        book.append(item)
    return book


def _net_expansion(mrr: Any, segment: str, cut: int) -> float:
    """Mean monthly (expansion - contraction) / MRR of a segment up to ``cut``: older cohorts' MRR per customer
    has grown by it every month, so a segment's MRR is shared among cohorts in proportion to
    ``customers x (1 + rate) ** age``."""
    if mrr is None or mrr.mrr is None:
        return 0.0
    s = mrr.segments.index(segment) if mrr.segments is not None and segment in mrr.segments else None
    months = [i for i, m in enumerate(mrr.months) if month_index(m) <= cut and i > 0]
    pick = (lambda a: a[:, s]) if s is not None else (lambda a: a.sum(axis=1))  # noqa: E731
    before = pick(mrr.mrr)[[i - 1 for i in months]]
    net = pick(mrr.expansion)[months] - pick(mrr.contraction)[months]
    used = before > 0
    return float(np.mean(net[used] / before[used])) if used.any() else 0.0


def open_pipeline_draws(fit: Fit, history: History, cut: int) -> xr.DataArray | None:
    """Members open in each stage at the end of month ``cut``, for every posterior sample ``[chain, draw,
    stage, segment]``.

    A member that entered ``j`` months before the end of the cut month has faced ``j + 1`` monthly hazards
    ``h = 1 / (1 + months_in_stage)``, so the stock is ``sum_j n_{cut-j} (1-h)^(j+1)``, plus the members who
    entered before the history at the level the funnel model assumes (``n_0 (1-h)^(T+1) / h``, ``n_0`` from
    :func:`revsim.calibrate.funnel.level_before_history`). Where the history's ``open`` column gives a (stage,
    segment, channel)'s members open at the end of month ``cut``, that count is used instead, the same in every
    sample. None when the funnel model was not fitted.
    """
    import xarray as xr

    from revsim.calibrate.funnel import level_before_history

    block = fit.block("funnel")
    funnel = history.funnel
    if block is None or funnel is None or "months_in_stage" not in fit.posterior:
        return None
    months = fit.posterior["months_in_stage"]
    if month_label(cut) in funnel.months:
        t_cut = funnel.months.index(month_label(cut))
    else:
        t_cut = len(funnel.months) - 1
    stages = list(block.data.stages)
    segments = funnel.segment_names
    out = np.zeros((months.sizes["chain"], months.sizes["draw"], len(stages), len(segments)))
    for i, stage in enumerate(stages):
        k = funnel.stages.index(stage)
        for s, seg in enumerate(segments):
            m = months.sel(stage=stage, segment=seg) if "segment" in months.dims else months.sel(stage=stage)
            h = 1.0 / (1.0 + np.asarray(m.values, float))[..., None]  # [chain, draw, 1]
            by_channel = np.nan_to_num(funnel.counts[: t_cut + 1, k, s])  # [month, channel]
            observed = (np.full(by_channel.shape[1], np.nan) if funnel.open is None
                        else funnel.open[t_cut, k, s])  # [channel]: open at the cut, NaN where not known
            known = np.isfinite(observed)
            estimated = by_channel[:, ~known]  # the channels whose open count is not known
            entries = estimated.sum(axis=-1)[::-1]  # cut, cut-1, ...
            before = float(level_before_history(estimated.T).sum()) if estimated.size else 0.0
            j = np.arange(entries.size)
            stock = np.sum(entries * (1.0 - h) ** (j + 1), axis=-1)
            stock += before * (1.0 - h[..., 0]) ** (entries.size + 1) / h[..., 0]
            out[:, :, i, s] = stock + observed[known].sum()
    return xr.DataArray(out, dims=("chain", "draw", "stage", "segment"),
                        coords={"chain": months.chain, "draw": months.draw, "stage": stages, "segment": segments},
                        attrs={"long_name": f"members open in each stage at the end of {month_label(cut)}"})


def pipeline_references(stock: xr.DataArray, funnel_has_segments: bool, posterior_file: str) -> dict[str, Any]:
    """``funnel.open_at_start`` as ``dist: posterior`` references to :data:`OPEN_VARIABLE`."""
    from revsim.calibrate.scenario_update import ref

    out: dict[str, Any] = {}
    for stage in stock.stage.values:
        if funnel_has_segments:
            out[str(stage)] = {str(seg): ref(OPEN_VARIABLE, posterior_file, stage=str(stage), segment=str(seg))
                               for seg in stock.segment.values}
        else:
            out[str(stage)] = ref(OPEN_VARIABLE, posterior_file, stage=str(stage), segment=str(stock.segment.values[0]))
    return out
