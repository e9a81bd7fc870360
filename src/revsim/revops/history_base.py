"""The base of a relative target read from history files: a KPI over a period before the run.

The history files are those of a calibration (``docs/calibration.md``): ``funnel.csv`` gives the entries into
each stage (the stage KPIs, and ``new_customers``: entries into the last stage), ``mrr.csv`` the MRR movements
and the MRR at month end (``new_arr``, ``expansion_arr``, ``contraction_arr``, ``churned_arr``, ``net_new_arr``
as 12 x the movements; ``arr``, ``mrr`` at the end of the period; ``revenue``, the sum of MRR). Other KPIs
cannot be read from history: give the base as a value instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from revsim.errors import InputError
from revsim.revops.calendar import Period

__all__ = ["history_base_value", "HISTORY_KPIS"]

_MRR_FLOWS = {"new_arr": ("new",), "expansion_arr": ("expansion",), "contraction_arr": ("contraction",),
              "churned_arr": ("churn",)}
#: KPIs a history base can give, besides the stage names (entries from funnel.csv).
HISTORY_KPIS = ("new_customers", "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "net_new_arr", "arr",
                "mrr", "revenue")


def _months_of(period: Period, start: str) -> list[str]:
    y0, m0 = (int(x) for x in start.split("-"))
    labels = []
    for position in period.months:
        total = y0 * 12 + (m0 - 1) + position
        labels.append(f"{total // 12:04d}-{total % 12 + 1:02d}")
    return labels


def _rows(months: list[str], wanted: list[str], file: str, what: str) -> list[int]:
    index = {m: i for i, m in enumerate(months)}
    missing = [m for m in wanted if m not in index]
    if missing:
        raise InputError.single(f"{file} has no {what} for {', '.join(missing[:3])}"
                                + (f" and {len(missing) - 3} more months" if len(missing) > 3 else "")
                                + f": the base period needs all of {wanted[0]} to {wanted[-1]}")
    return [index[m] for m in wanted]


def history_base_value(path: str, metric: str, period: Period, model: Any) -> float:
    """``metric`` over ``period`` (positioned relative to the scenario's start) in the history at ``path``.

    Raises
    ------
    InputError
        When the files cannot give it (no such file, missing months, a KPI history does not hold).
    """
    from revsim.calibrate.history import read_history

    history = read_history([path], stages=model.stage_names,
                           segments=model.segment_names if len(model.segment_names) > 1 else None)
    months = _months_of(period, model.start)
    stages = model.stage_names
    if metric in stages or metric == "new_customers":
        stage = stages[-1] if metric == "new_customers" else metric
        funnel = history.funnel
        if funnel is None:
            raise InputError.single(f"a base of '{metric}' from history needs funnel.csv in {path}")
        if stage not in funnel.stages:
            raise InputError.single(f"{funnel.file} has no counts for stage '{stage}'")
        rows = _rows(funnel.months, months, funnel.file, f"'{stage}' counts")
        return float(np.nansum(funnel.counts[rows, funnel.stages.index(stage)]))
    if metric in HISTORY_KPIS:
        mrr = history.mrr
        if mrr is None:
            raise InputError.single(f"a base of '{metric}' from history needs mrr.csv in {path}")
        rows = _rows(mrr.months, months, mrr.file, "MRR movements")
        if metric in _MRR_FLOWS:
            return 12.0 * float(np.nansum(getattr(mrr, _MRR_FLOWS[metric][0])[rows]))
        if metric == "net_new_arr":
            reactivation = 0.0 if mrr.reactivation is None else float(np.nansum(mrr.reactivation[rows]))
            return 12.0 * (float(np.nansum(mrr.new[rows]) + np.nansum(mrr.expansion[rows]) - np.nansum(
                mrr.contraction[rows]) - np.nansum(mrr.churn[rows])) + reactivation)
        if mrr.mrr is None:
            raise InputError.single(f"a base of '{metric}' from history needs the mrr column of {mrr.file}")
        end = float(np.nansum(mrr.mrr[rows[-1]]))
        return {"arr": 12.0 * end, "mrr": end, "revenue": float(np.nansum(mrr.mrr[rows]))}[metric]
    raise InputError.single(f"history gives stage entries and {', '.join(HISTORY_KPIS)}, not '{metric}': give the "
                            f"base as a value (base: the {period.label} figure)")
