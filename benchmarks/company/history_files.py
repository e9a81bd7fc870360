"""Write a simulated company's history in the formats ``revsim calibrate --history`` reads.

The four files of ``docs/calibration.md`` ("History files"), for the months ``first_month`` to
``last_month`` (the cohort table holds every cohort acquired since the truth's ``start``, observed until
``last_month``):

``funnel.csv``     ``month,stage,segment,channel,count,open``: entries into each stage each month, and the
                   members open in it at month end (the CRM's open pipeline; empty for the last stage, whose
                   entries are customers). ``channel`` is the channel that brought the member into the
                   funnel, or the loop's name for the members a loop brought. Rows are written for the
                   (stage, segment, channel) cells that can hold entries: the stages from the one the channel
                   (or loop) enters, the segments it feeds.
``cohorts.csv``    ``cohort,period,customers,mrr,segment``: customers of each cohort (acquisition month x
                   segment) at the end of each month since acquisition, and their MRR; period 0 holds those
                   acquired. Onboarding failures show as the drop at period ``max(onboarding.months, 1)``,
                   renewal churn at the periods that are multiples of ``contract_months``, which is where
                   ``revsim calibrate`` places its events.
``mrr.csv``        ``month,segment,new,expansion,contraction,churn,mrr``: the MRR movements and the MRR at
                   month end (amounts in currency units, to the cent).
``referrals.csv``  ``month,referred,source_count``: the entries the loop brought and its source at month
                   end; written when the company has a loop.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from benchmarks.company.run import CompanyRun

__all__ = ["write_history", "HISTORY_FILES"]

HISTORY_FILES = ("funnel", "cohorts", "mrr", "referrals")


def write_history(
    run: CompanyRun,
    directory: str | os.PathLike[str],
    *,
    first_month: str | None = None,
    last_month: str | None = None,
    files: Sequence[str] = HISTORY_FILES,
    segment_column: bool = True,
    channel_column: bool = True,
    cohort_mrr: bool = True,
    empty_cohorts: bool = False,
    loop: str | None = None,
    open_column: bool = True,
) -> dict[str, str]:
    """Write the history files of ``run`` into ``directory`` (created if needed).

    Parameters
    ----------
    run
        A simulated company.
    directory
        Where to write ``funnel.csv``, ``cohorts.csv``, ``mrr.csv`` and ``referrals.csv``.
    first_month, last_month
        The history window, ``YYYY-MM`` (default: every simulated month).
    files
        Which files to write (``referrals`` only when the company has a loop).
    segment_column, channel_column
        Write the ``segment`` column (all files) and the ``channel`` column (``funnel.csv``); without one,
        the counts and amounts are summed over it.
    cohort_mrr
        Write the ``mrr`` column of ``cohorts.csv``.
    empty_cohorts
        Also write the cohorts that acquired no customer (all zeros).
    loop
        The loop whose entries ``referrals.csv`` holds, when the company has several (default: the only
        loop, else the one of kind ``referral``).
    open_column
        Write the ``open`` column of ``funnel.csv`` (the members open in each stage at month end).

    Returns
    -------
    dict
        The path written for each kind of file.
    """
    first = run.month(first_month or run.months[0])
    last = run.month(last_month or run.months[-1])
    if last < first + 2:
        raise ValueError(f"the history window {run.months[first]} to {run.months[last]} is too short: "
                         "revsim needs at least 3 months")
    unknown = set(files) - set(HISTORY_FILES)
    if unknown:
        raise ValueError(f"unknown history file(s) {sorted(unknown)}; known: {', '.join(HISTORY_FILES)}")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    texts: dict[str, str] = {}
    if "funnel" in files:
        texts["funnel"] = _funnel(run, first, last, segment_column, channel_column, open_column)
    if "cohorts" in files:
        texts["cohorts"] = _cohorts(run, last, segment_column, cohort_mrr, empty_cohorts)
    if "mrr" in files:
        texts["mrr"] = _mrr(run, first, last, segment_column)
    if "referrals" in files and run.company.loops:
        texts["referrals"] = _referrals(run, first, last, loop)
    written = {}
    for kind, text in texts.items():
        path = folder / f"{kind}.csv"
        _write_atomically(path, text)
        written[kind] = str(path)
    return written


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _possible_cells(run: CompanyRun) -> np.ndarray:
    """``[K, S, R]``: whether a source can bring members into a stage and segment."""
    company = run.company
    K, S, R = len(company.stages), len(company.segments), len(company.sources)
    possible = np.zeros((K, S, R), bool)
    for r, channel in enumerate(company.channels):
        possible[channel.stage:, channel.mix > 0, r] = True
    for ell, loop in enumerate(company.loops):
        r = len(company.channels) + ell
        segments = np.ones(S, bool)
        if loop.segment is not None or loop.source_segment is not None:
            segments[:] = False
            segments[loop.segment if loop.segment is not None else loop.source_segment] = True
        possible[loop.target:, segments, r] = True
    return possible


def _funnel(run: CompanyRun, first: int, last: int, segment_column: bool, channel_column: bool,
            open_column: bool = True) -> str:
    counts = run.stage_entries  # [T, K, S, R]
    open_counts = run.open_by_source  # [T, K, S, R]
    open_column = open_column and open_counts is not None
    possible = _possible_cells(run)
    segments = run.segments if segment_column else [None]
    channels = run.sources if channel_column else [None]
    header = ["month", "stage"] + (["segment"] if segment_column else []) + (["channel"] if channel_column else [])
    lines = [",".join(header + ["count"] + (["open"] if open_column else []))]
    for t in range(first, last + 1):
        for k, stage in enumerate(run.stages):
            for s, segment in enumerate(segments):
                for r, channel in enumerate(channels):
                    seg_sel = slice(None) if segment is None else slice(s, s + 1)
                    src_sel = slice(None) if channel is None else slice(r, r + 1)
                    if not possible[k, seg_sel, src_sel].any():
                        continue
                    count = int(counts[t, k, seg_sel, src_sel].sum())
                    row = [run.months[t], stage] + ([segment] if segment else []) + ([channel] if channel else [])
                    cells = [str(count)]
                    if open_column:
                        last_stage = k == len(run.stages) - 1
                        cells.append("" if last_stage else str(int(open_counts[t, k, seg_sel, src_sel].sum())))
                    lines.append(",".join(row + cells))
    return "\n".join(lines) + "\n"


def _cohorts(run: CompanyRun, last: int, segment_column: bool, with_mrr: bool, empty: bool) -> str:
    customers, mrr = run.cohort_customers, run.cohort_mrr  # [t, b, s]
    if not segment_column:
        customers, mrr = customers.sum(axis=2, keepdims=True), mrr.sum(axis=2, keepdims=True)
    segments = run.segments if segment_column else [None]
    lines = ["cohort,period,customers" + (",mrr" if with_mrr else "") + (",segment" if segment_column else "")]
    for s, segment in enumerate(segments):
        for b in range(last + 1):
            if customers[b, b, s] == 0 and not empty:
                continue
            for period in range(last - b + 1):
                row = [run.months[b], str(period), str(int(customers[b + period, b, s]))]
                if with_mrr:
                    row.append(f"{mrr[b + period, b, s]:.2f}")
                if segment:
                    row.append(segment)
                lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def _mrr(run: CompanyRun, first: int, last: int, segment_column: bool) -> str:
    columns = (run.new_mrr, run.expansion_mrr, run.contraction_mrr, run.churned_mrr, run.mrr)
    if not segment_column:
        columns = tuple(c.sum(axis=1, keepdims=True) for c in columns)
    segments = run.segments if segment_column else [None]
    lines = ["month" + (",segment" if segment_column else "") + ",new,expansion,contraction,churn,mrr"]
    for t in range(first, last + 1):
        for s, segment in enumerate(segments):
            row = [run.months[t]] + ([segment] if segment else []) + [f"{c[t, s]:.2f}" for c in columns]
            lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def _referrals(run: CompanyRun, first: int, last: int, loop: str | None) -> str:
    loops = run.company.loops
    names = [lp.name for lp in loops]
    if loop is not None:
        if loop not in names:
            raise ValueError(f"unknown loop {loop!r} (the loops: {', '.join(names)})")
        ell = names.index(loop)
    elif len(loops) == 1:
        ell = 0
    else:
        referral = [i for i, lp in enumerate(loops) if lp.kind in ("referral", "referrals")]
        if len(referral) != 1:
            raise ValueError(f"the company has several loops ({', '.join(names)}): name the one referrals.csv "
                             "holds with loop=")
        ell = referral[0]
    money = loops[ell].source == "mrr"
    lines = ["month,referred,source_count"]
    for t in range(first, last + 1):
        source = run.loop_source[t, ell]
        lines.append(f"{run.months[t]},{int(run.loop_entries[t, ell])},"
                     + (f"{source:.2f}" if money else str(int(round(source)))))
    return "\n".join(lines) + "\n"

