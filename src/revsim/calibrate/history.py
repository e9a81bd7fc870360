"""Read and check the history files a calibration learns from.

Four CSV files, each optional (see ``docs/calibration.md`` for their columns and meaning):

=================  =====================================================================================
``funnel.csv``     ``month,stage,count[,segment][,channel][,open]``: entries into each stage each month (and
                   the members open in it at month end)
``cohorts.csv``    ``cohort,period,customers[,mrr][,segment]``: customers still active ``period`` periods
                   after their acquisition (period 0 = acquired)
``mrr.csv``        ``month,new,expansion,contraction,churn[,reactivation][,mrr][,segment]``: MRR movements
                   (and the MRR at month end)
``referrals.csv``  ``month,referred[,source_count]``: entries produced by a growth loop
=================  =====================================================================================

Files are read by :func:`revsim.scenario.csv_source.read_csv_table` (encodings, separators, decimal commas,
unknown columns). This module then checks what the numbers mean, and refuses, with the file, the line and
the column, anything a calibration cannot trust: negative or fractional counts, a cohort that grows, an
unknown stage or segment, months out of order or missing, duplicate rows.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "referrals.csv").write_text("month,referred\\n2026-01,12\\n2026-02,15\\n2026-03,9\\n")
>>> history = read_history([folder])
>>> history.referrals.referred.tolist(), history.referrals.months
([12.0, 15.0, 9.0], ['2026-01', '2026-02', '2026-03'])
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.errors import InputError, Problem, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.csv_source import CsvTable

__all__ = [
    "History",
    "FunnelHistory",
    "CohortHistory",
    "MrrHistory",
    "ReferralHistory",
    "HISTORY_FILES",
    "read_history",
    "month_index",
    "month_label",
]

#: The kinds of history file, by their usual name.
HISTORY_FILES = {"funnel": "funnel.csv", "cohorts": "cohorts.csv", "mrr": "mrr.csv", "referrals": "referrals.csv"}
#: Columns of each kind: (required, optional, numeric).
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "funnel": (("month", "stage", "count"), ("segment", "channel", "open"), ("count", "open")),
    "cohorts": (("cohort", "period", "customers"), ("mrr", "segment"), ("period", "customers", "mrr")),
    "mrr": (("month", "new", "expansion", "contraction", "churn"), ("reactivation", "mrr", "segment"),
            ("new", "expansion", "contraction", "churn", "reactivation", "mrr")),
    "referrals": (("month", "referred"), ("source_count",), ("referred", "source_count")),
}
#: Numeric columns whose cells may be empty (a value not known that month).
_BLANK = {"funnel": ("open",)}
_WHAT = {"funnel": "funnel history", "cohorts": "cohort retention history", "mrr": "MRR movements",
         "referrals": "referral history"}
#: A column that tells a file's kind when its name does not.
_SIGNATURE = {"stage": "funnel", "cohort": "cohorts", "expansion": "mrr", "referred": "referrals"}
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?$")
#: Relative gap between the MRR at month end and the bridge of the movements above which a note is given.
BRIDGE_TOLERANCE = 0.005


def month_index(label: str) -> int:
    """Months since year 0 of a ``YYYY-MM`` label: consecutive months differ by 1."""
    year, month = label.split("-")[:2]
    return int(year) * 12 + int(month) - 1


def month_label(index: int) -> str:
    """``YYYY-MM`` of a month index from :func:`month_index`."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# --------------------------------------------------------------------------------------------------------
# The history
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelHistory:
    """Entries into each stage, per month, segment and channel.

    ``counts[month, stage, segment, channel]`` is NaN for a (stage, segment, channel) cell the file never
    mentions; a cell it mentions in some months counts 0 in the months it leaves out. ``segments`` and
    ``channels`` are None when the file has no such column (one segment, one channel). ``open`` (same shape)
    holds the members open in each cell at month end when the file has an ``open`` column (the CRM's open
    pipeline), NaN where it is not known (an empty cell, or a month without the cell's row); None without the
    column.
    """

    file: str
    months: list[str]
    stages: list[str]
    segments: list[str] | None
    channels: list[str] | None
    counts: np.ndarray
    open: np.ndarray | None = None

    @property
    def segment_names(self) -> list[str]:
        return self.segments or ["all"]

    @property
    def channel_names(self) -> list[str]:
        return self.channels or ["all"]

    def cut(self, last: int) -> FunnelHistory | None:
        keep = [i for i, m in enumerate(self.months) if month_index(m) <= last]
        if len(keep) < 2:
            return None
        return replace(self, months=[self.months[i] for i in keep], counts=self.counts[keep],
                       open=None if self.open is None else self.open[keep])


@dataclass(frozen=True)
class CohortHistory:
    """Customers (and MRR) of each acquisition cohort, by period since acquisition.

    ``customers[cohort, period]`` is NaN beyond a cohort's last observed period (ragged tables).
    ``start`` holds each cohort's month index when its label is ``YYYY-MM``, else -1.
    """

    file: str
    labels: list[str]
    segment: np.ndarray  # int, index into segment_names
    segments: list[str] | None
    customers: np.ndarray
    mrr: np.ndarray | None
    start: np.ndarray
    period_months: int
    lines: np.ndarray  # [cohort, period] line of the row, 0 where absent

    @property
    def segment_names(self) -> list[str]:
        return self.segments or ["all"]

    @property
    def dated(self) -> bool:
        """Whether every cohort is labelled by its month (``YYYY-MM``), as a backtest needs."""
        return bool(np.all(self.start >= 0))

    @property
    def observed_periods(self) -> np.ndarray:
        """Number of periods observed per cohort (period 0 included)."""
        return np.sum(np.isfinite(self.customers), axis=1)

    def cut(self, last: int) -> CohortHistory | None:
        """The table as it stood at the end of month ``last`` (cohorts must be dated)."""
        customers = self.customers.copy()
        mrr = None if self.mrr is None else self.mrr.copy()
        periods = np.arange(customers.shape[1])
        seen = self.start[:, None] + periods[None, :] * self.period_months <= last
        customers[~seen] = np.nan
        if mrr is not None:
            mrr[~seen] = np.nan
        keep = np.isfinite(customers[:, 0])
        if not keep.any():
            return None
        width = int(np.max(np.sum(np.isfinite(customers[keep]), axis=1)))
        return replace(self, labels=[lab for lab, k in zip(self.labels, keep, strict=True) if k],
                       segment=self.segment[keep], customers=customers[keep, :width],
                       mrr=None if mrr is None else mrr[keep, :width], start=self.start[keep],
                       lines=self.lines[keep, :width])


@dataclass(frozen=True)
class MrrHistory:
    """MRR movements per month and segment (positive amounts), and the MRR at month end when given."""

    file: str
    months: list[str]
    segments: list[str] | None
    new: np.ndarray  # [month, segment]
    expansion: np.ndarray
    contraction: np.ndarray
    churn: np.ndarray
    reactivation: np.ndarray | None
    mrr: np.ndarray | None

    @property
    def segment_names(self) -> list[str]:
        return self.segments or ["all"]

    def cut(self, last: int) -> MrrHistory | None:
        keep = [i for i, m in enumerate(self.months) if month_index(m) <= last]
        if len(keep) < 2:
            return None
        take = (lambda a: None if a is None else a[keep])  # noqa: E731
        return replace(self, months=[self.months[i] for i in keep], new=self.new[keep],
                       expansion=self.expansion[keep], contraction=self.contraction[keep], churn=self.churn[keep],
                       reactivation=take(self.reactivation), mrr=take(self.mrr))


@dataclass(frozen=True)
class ReferralHistory:
    """Entries produced by a growth loop per month, and the loop's source when given."""

    file: str
    months: list[str]
    referred: np.ndarray
    source: np.ndarray | None

    def cut(self, last: int) -> ReferralHistory | None:
        keep = [i for i, m in enumerate(self.months) if month_index(m) <= last]
        if len(keep) < 3:
            return None
        return replace(self, months=[self.months[i] for i in keep], referred=self.referred[keep],
                       source=None if self.source is None else self.source[keep])


@dataclass(frozen=True)
class History:
    """Everything read from the history files; each part is None when its file was not given."""

    funnel: FunnelHistory | None = None
    cohorts: CohortHistory | None = None
    mrr: MrrHistory | None = None
    referrals: ReferralHistory | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return [part.file for part in (self.funnel, self.cohorts, self.mrr, self.referrals) if part is not None]

    @property
    def last_month(self) -> int | None:
        """Index of the last month any file covers (cohort tables count when dated)."""
        ends = [month_index(p.months[-1]) for p in (self.funnel, self.mrr, self.referrals) if p is not None]
        if self.cohorts is not None and self.cohorts.dated:
            periods = self.cohorts.observed_periods - 1
            ends.append(int(np.max(self.cohorts.start + periods * self.cohorts.period_months)))
        return max(ends) if ends else None

    def cut(self, last: int) -> History:
        """The history as it stood at the end of month ``last``: later months and observations removed."""
        return History(
            funnel=None if self.funnel is None else self.funnel.cut(last),
            cohorts=None if self.cohorts is None else self.cohorts.cut(last),
            mrr=None if self.mrr is None else self.mrr.cut(last),
            referrals=None if self.referrals is None else self.referrals.cut(last),
            notes=list(self.notes),
        )


# --------------------------------------------------------------------------------------------------------
# Finding the files
# --------------------------------------------------------------------------------------------------------


def find_history_files(paths: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """The history files named by ``paths`` (directories and files), by kind.

    A directory contributes the files among ``funnel.csv``, ``cohorts.csv``, ``mrr.csv`` and
    ``referrals.csv`` that it holds. A file is recognised by its name (``funnel*.csv``...) or, failing
    that, by a column of its first line (``stage``, ``cohort``, ``expansion``, ``referred``).
    """
    found: dict[str, str] = {}

    def add(kind: str, file: str) -> None:
        if kind in found and os.path.realpath(found[kind]) != os.path.realpath(file):
            raise InputError.single(f"two files of {_WHAT[kind]}: '{found[kind]}' and '{file}'; give one",
                                    path=("--history",))
        found[kind] = file

    if not paths:
        raise InputError.single("no history given: pass --history with a directory or CSV files",
                                path=("--history",))
    for raw in paths:
        text = os.fspath(raw)
        if os.path.isdir(text):
            # a pipe or a device of that name is taken, and refused by the CSV reader before it is opened
            present = [kind for kind, name in HISTORY_FILES.items()
                       if os.path.exists(os.path.join(text, name)) and not os.path.isdir(os.path.join(text, name))]
            if not present:
                listing = sorted(n for n in os.listdir(text) if n.lower().endswith(".csv"))
                extra = f" (it holds {', '.join(listing)})" if listing else ""
                raise InputError.single(
                    f"the directory '{text}' holds none of {', '.join(HISTORY_FILES.values())}{extra}",
                    path=("--history",))
            for kind in present:
                add(kind, os.path.join(text, HISTORY_FILES[kind]))
        elif os.path.exists(text):  # a file (a pipe or a device is refused by the CSV reader)
            add(_kind_of(text), text)
        else:
            raise InputError.single(f"'{text}' does not exist (expected a directory or a CSV file of history)",
                                    path=("--history",))
    return found


def _kind_of(file: str) -> str:
    stem = Path(file).name.lower()
    for kind in HISTORY_FILES:
        if stem.startswith(kind) or stem.startswith(kind.rstrip("s")):
            return kind
    from revsim.scenario.csv_source import read_csv_cells

    cells = read_csv_cells(file, what="history")
    header = {" ".join(h.split()).casefold() for h in cells.header}
    for column, kind in _SIGNATURE.items():
        if column in header:
            return kind
    raise InputError.single(
        "cannot tell what history this file holds: name it funnel.csv, cohorts.csv, mrr.csv or referrals.csv, "
        "or give it the columns of one of them (see docs/calibration.md)", file=file)


# --------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------


def read_history(
    paths: Sequence[str | os.PathLike[str]],
    *,
    stages: Sequence[str] | None = None,
    segments: Sequence[str] | None = None,
    period_months: int = 1,
) -> History:
    """Read and check the history files.

    Parameters
    ----------
    paths
        Directories holding the files by their usual names, or the files themselves.
    stages, segments
        The scenario's stage and segment names, when calibrating a scenario: other names are refused (with a
        suggestion for a misspelt one). Without them, stages are taken in the order they first appear.
    period_months
        Months per period of the cohort table (12 for annual contracts).

    Raises
    ------
    InputError
        Naming the file, the line and the column of every problem found.
    """
    if not isinstance(period_months, int) or not 1 <= period_months <= 120:
        raise InputError.single(f"--period-months must be a whole number from 1 to 120, got {period_months!r}",
                                path=("--period-months",))
    files = find_history_files(paths)
    notes: list[str] = []
    parts: dict[str, Any] = {}
    errors: list[InputError] = []
    readers = {"funnel": _read_funnel, "cohorts": _read_cohorts, "mrr": _read_mrr, "referrals": _read_referrals}
    for kind in HISTORY_FILES:
        if kind not in files:
            continue
        try:
            table = _read_table(files[kind], kind)
            notes += [f"{table.file}: {note}" for note in table.notes]
            parts[kind] = readers[kind](table, stages=stages, segments=segments, period_months=period_months,
                                        notes=notes)
        except InputError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        problems = [Problem(f"{e.file}: {p.render()}" if e.file else p.render()) for e in errors for p in e.problems]
        raise InputError(problems)
    return History(notes=notes, **parts)


def _read_table(file: str, kind: str) -> CsvTable:
    from revsim.scenario.csv_source import read_csv_table

    required, optional, numeric = COLUMNS[kind]
    return read_csv_table(file, required=required, optional=optional, numeric=numeric, what=_WHAT[kind],
                          blank=_BLANK.get(kind, ()))


class _Problems:
    """Problems of one file, raised together."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []

    def add(self, message: str, column: str | None, line: int | None, suggestion: str | None = None) -> None:
        self.items.append(Problem(message, (column,) if column else (), line, None, suggestion))

    def raise_if_any(self) -> None:
        if self.items:
            from revsim.scenario.csv_source import MAX_REPORTED_PROBLEMS

            items = sorted(self.items, key=lambda p: p.line or 0)
            if len(items) > MAX_REPORTED_PROBLEMS:
                extra = len(items) - MAX_REPORTED_PROBLEMS
                items = [*items[:MAX_REPORTED_PROBLEMS], Problem(f"... and {extra} more problem(s)")]
            raise InputError(items, file=self.file)


def _months(table: CsvTable, problems: _Problems) -> list[int | None]:
    """The month of every row, as an index (None where it cannot be read)."""
    out: list[int | None] = []
    for text, line in zip(table.frame["month"], table.line_of_row, strict=True):
        match = _MONTH.match(str(text))
        if not match or not 1 <= int(match.group(2)) <= 12 or (match.group(3) and not 1 <= int(match.group(3)) <= 31):
            problems.add(f"expected a month as YYYY-MM (e.g. 2026-01), got '{text}'", "month", line)
            out.append(None)
        else:
            out.append(int(match.group(1)) * 12 + int(match.group(2)) - 1)
    return out


def _check_month_order(months: list[int | None], lines: list[int], problems: _Problems,
                       key: list[tuple] | None = None) -> list[int]:
    """Months must not go back in time down the file (within each key), and no month may be missing."""
    last: dict[tuple, tuple[int, int]] = {}
    for i, (month, line) in enumerate(zip(months, lines, strict=True)):
        if month is None:
            continue
        k = key[i] if key is not None else ()
        if k in last and month < last[k][0]:
            problems.add(f"months out of order: {month_label(month)} comes after {month_label(last[k][0])} "
                         f"(line {last[k][1]}); sort the file by month", "month", line)
        if k not in last or month >= last[k][0]:
            last[k] = (month, line)
    known = sorted({m for m in months if m is not None})
    if known:
        first_line = {m: line for m, line in zip(reversed(months), reversed(lines), strict=True) if m is not None}
        for a, b in zip(known[:-1], known[1:], strict=True):
            if b - a > 1:
                gap = month_label(a + 1) if b - a == 2 else f"{month_label(a + 1)} to {month_label(b - 1)}"
                problems.add(f"no rows for {gap}: the months must be consecutive (write 0 for a month with "
                             "nothing)", "month", first_line[b])
    return known


def _names(table: CsvTable, column: str, known: Sequence[str] | None, what: str,
           problems: _Problems) -> list[str] | None:
    """The distinct values of a text column, checked against the scenario's names when known."""
    if column not in table.frame.columns:
        return None
    seen: list[str] = []
    for text, line in zip(table.frame[column], table.line_of_row, strict=True):
        value = str(text)
        if known is not None and value not in known:
            hint = did_you_mean(value, known)
            problems.add(f"unknown {what} '{value}' (the scenario's {what}s: {', '.join(known)})", column, line, hint)
        elif value not in seen:
            seen.append(value)
    if known is not None:
        return [name for name in known if name in seen]
    return seen


def _whole_counts(table: CsvTable, column: str, problems: _Problems, what: str) -> None:
    for value, line in zip(table.frame[column], table.line_of_row, strict=True):
        if value != value:  # an empty cell of a column that allows them (not known)
            continue
        if value < 0:
            problems.add(f"negative {what} {value:g}: counts cannot be below 0", column, line)
        elif value != round(value):
            problems.add(f"{what} must be a whole number, got {value:g}", column, line)


def _columns(frame: Any) -> dict[str, list[Any]]:
    """Each column of ``frame`` as a Python list: a row's value read from a list, not from a pandas Series
    (the worked example's tables: 0.25 s of CPU to 0.03 s)."""
    return {name: frame[name].tolist() for name in frame.columns}


def _read_funnel(table: CsvTable, *, stages: Sequence[str] | None, segments: Sequence[str] | None,
                 notes: list[str], **_: Any) -> FunnelHistory:
    problems = _Problems(table.file)
    frame, lines = table.frame, table.line_of_row
    by_column = _columns(frame)
    months = _months(table, problems)
    stage_names = _names(table, "stage", stages, "stage", problems)
    segment_names = _names(table, "segment", segments, "segment", problems)
    channel_names = _names(table, "channel", None, "channel", problems)
    _whole_counts(table, "count", problems, "count")
    has_open = "open" in frame.columns
    if has_open:
        _whole_counts(table, "open", problems, "open count")
    known = _check_month_order(months, lines, problems)  # reported with the problems above
    problems.raise_if_any()
    seen: dict[tuple, int] = {}
    has_seg, has_ch = segment_names is not None, channel_names is not None
    for i, line in enumerate(lines):
        key = (months[i], by_column["stage"][i], by_column["segment"][i] if has_seg else "",
               by_column["channel"][i] if has_ch else "")
        if key in seen:
            where = ", ".join(p for p in (f"stage {key[1]}", key[2] and f"segment {key[2]}",
                                          key[3] and f"channel {key[3]}") if p)
            problems.add(f"duplicate row: {month_label(key[0])}, {where} is also on line {seen[key]}", None, line)
        else:
            seen[key] = line
    problems.raise_if_any()
    if len(known) < 2:
        problems.add(f"the funnel history covers {len(known)} month(s); a calibration needs at least 2", None,
                     lines[0])
        problems.raise_if_any()
    stage_list = stage_names or []
    seg_list = segment_names or ["all"]
    ch_list = channel_names or ["all"]
    counts = np.full((len(known), len(stage_list), len(seg_list), len(ch_list)), np.nan)
    open_counts = np.full_like(counts, np.nan) if has_open else None
    first = known[0]
    cells = set()
    for i in range(len(lines)):
        k = stage_list.index(by_column["stage"][i])
        s = seg_list.index(by_column["segment"][i]) if has_seg else 0
        c = ch_list.index(by_column["channel"][i]) if has_ch else 0
        cells.add((k, s, c))
    for k, s, c in cells:
        counts[:, k, s, c] = 0.0
    for i in range(len(lines)):
        k = stage_list.index(by_column["stage"][i])
        s = seg_list.index(by_column["segment"][i]) if has_seg else 0
        c = ch_list.index(by_column["channel"][i]) if has_ch else 0
        counts[months[i] - first, k, s, c] = float(by_column["count"][i])
        if open_counts is not None:
            open_counts[months[i] - first, k, s, c] = float(by_column["open"][i])
    if open_counts is not None:
        open_counts = _note_open(open_counts, counts, stage_list, stages, first, table.file, notes)
    return FunnelHistory(file=table.file, months=[month_label(m) for m in range(first, known[-1] + 1)],
                         stages=stage_list, segments=segment_names, channels=channel_names, counts=counts,
                         open=open_counts)


def _note_open(open_counts: np.ndarray, counts: np.ndarray, stage_list: list[str], order: Sequence[str] | None,
               first: int, file: str, notes: list[str]) -> np.ndarray | None:
    """The open counts as the history keeps them (None for an empty column), with notes: an empty column, open
    counts of the last stage (customers, not pipeline: not used), and open counts above what the month before's
    open members and the month's entries allow."""
    if not np.isfinite(open_counts).any():
        notes.append(f"{file}: the open column is empty: the members open in each stage are not known, and "
                     "the funnel is fitted from its entries alone")
        return None
    last = (order or stage_list)[-1]
    if last in stage_list and np.isfinite(open_counts[:, stage_list.index(last)]).any():
        notes.append(f"{file}: open counts of stage {last}, the last one, are not used (its entries are the new "
                     "customers, who do not wait in it)")
    with np.errstate(invalid="ignore"):
        above = open_counts[1:] > open_counts[:-1] + np.nan_to_num(counts[1:])  # NaN compares False
    if above.any():
        t, k = np.argwhere(above)[0][:2]
        notes.append(f"{file}: the open count grows by more than the month's entries in {int(above.sum())} "
                     f"case(s) (the first: stage {stage_list[k]}, {month_label(first + int(t) + 1)}); the funnel "
                     "model takes such a month as one where nobody left the stage")
    return open_counts


def _read_cohorts(table: CsvTable, *, segments: Sequence[str] | None, period_months: int, notes: list[str],
                  **_: Any) -> CohortHistory:
    problems = _Problems(table.file)
    frame, lines = table.frame, table.line_of_row
    by_column = _columns(frame)
    segment_names = _names(table, "segment", segments, "segment", problems)
    has_seg = segment_names is not None
    has_mrr = "mrr" in frame.columns
    for value, line in zip(frame["period"], lines, strict=True):
        if value < 0 or value != round(value):
            problems.add(f"period must be a whole number >= 0 (0 = the period of acquisition), got {value:g}",
                         "period", line)
        elif value > 1200:
            problems.add(f"period {value:g} is beyond 1200 periods; is this column the period?", "period", line)
    _whole_counts(table, "customers", problems, "customers")
    if has_mrr:
        for value, line in zip(frame["mrr"], lines, strict=True):
            if value < 0:
                problems.add(f"negative MRR {value:g}", "mrr", line)
    problems.raise_if_any()

    rows: dict[tuple[str, str], dict[int, int]] = {}
    for i, line in enumerate(lines):
        key = (str(by_column["cohort"][i]), str(by_column["segment"][i]) if has_seg else "")
        period = int(by_column["period"][i])
        entry = rows.setdefault(key, {})
        if period in entry:
            label = key[0] + (f" ({key[1]})" if key[1] else "")
            problems.add(f"duplicate row: cohort {label}, period {period} is also on line {lines[entry[period]]}",
                         None, line)
        else:
            entry[period] = i
    problems.raise_if_any()

    labels: list[str] = []
    seg_index: list[int] = []
    starts: list[int] = []
    seg_list = segment_names or ["all"]
    width = max(max(entry) + 1 for entry in rows.values())
    customers = np.full((len(rows), width), np.nan)
    mrr = np.full((len(rows), width), np.nan) if has_mrr else None
    line_table = np.zeros((len(rows), width), np.int64)
    for c, ((label, seg), entry) in enumerate(rows.items()):
        shown = label + (f" ({seg})" if seg else "")
        if 0 not in entry:
            problems.add(f"cohort {shown} has no period 0 (the customers acquired)", "period",
                         lines[entry[min(entry)]])
            continue
        last_period = max(entry)
        missing = [p for p in range(last_period + 1) if p not in entry]
        if missing:
            problems.add(f"cohort {shown} skips period {missing[0]} (periods must follow each other from 0)",
                         "period", lines[entry[missing[0] + 1 if missing[0] + 1 in entry else last_period]])
            continue
        for p in range(last_period + 1):
            i = entry[p]
            customers[c, p] = float(by_column["customers"][i])
            if mrr is not None:
                mrr[c, p] = float(by_column["mrr"][i])
            line_table[c, p] = lines[i]
            if p > 0 and customers[c, p] > customers[c, p - 1]:
                problems.add(
                    f"cohort {shown} grows from {customers[c, p - 1]:g} customers in period {p - 1} to "
                    f"{customers[c, p]:g} in period {p}: a cohort can only lose customers (count a customer who "
                    "comes back in the cohort of the month it came back)", "customers", lines[i])
        labels.append(label)
        seg_index.append(seg_list.index(seg) if has_seg else 0)
        match = _MONTH.match(label)
        starts.append(int(match.group(1)) * 12 + int(match.group(2)) - 1
                      if match and 1 <= int(match.group(2)) <= 12 else -1)
    problems.raise_if_any()
    keep = np.isfinite(customers[:, 0])
    if sum(1 for s in starts if s >= 0) not in (0, len(starts)):
        undated = next(lab for lab, s in zip(labels, starts, strict=True) if s < 0)
        notes.append(f"{table.file}: some cohorts are labelled by month (YYYY-MM) and some are not (e.g. "
                     f"'{undated}'); the table can be fitted but not cut for a backtest")
    if float(np.nansum(customers[keep, 0])) == 0:
        problems.add("every cohort has 0 customers in period 0: nothing to learn retention from", "customers",
                     lines[0])
        problems.raise_if_any()
    return CohortHistory(file=table.file, labels=labels, segment=np.asarray(seg_index, np.int64),
                         segments=segment_names, customers=customers[keep], mrr=None if mrr is None else mrr[keep],
                         start=np.asarray(starts, np.int64), period_months=period_months, lines=line_table[keep])


def _read_mrr(table: CsvTable, *, segments: Sequence[str] | None, notes: list[str], **_: Any) -> MrrHistory:
    problems = _Problems(table.file)
    frame, lines = table.frame, table.line_of_row
    by_column = _columns(frame)
    months = _months(table, problems)
    segment_names = _names(table, "segment", segments, "segment", problems)
    has_seg = segment_names is not None
    signs: dict[str, float] = {}
    for column in ("new", "expansion", "reactivation", "mrr", "contraction", "churn"):
        if column not in frame.columns:
            continue
        values = np.asarray(frame[column], dtype=np.float64)
        if column in ("contraction", "churn") and np.any(values < 0):
            if np.all(values <= 0):
                signs[column] = -1.0
                notes.append(f"{table.file}: the {column} column holds negative amounts; read as losses of that size")
                continue
            first_pos = next(line for v, line in zip(values, lines, strict=True) if v > 0)
            first_neg = next(line for v, line in zip(values, lines, strict=True) if v < 0)
            problems.add(f"the {column} column mixes negative amounts (line {first_neg}) and positive ones "
                         f"(line {first_pos}): write every loss with the same sign", column,
                         max(first_pos, first_neg))
            continue
        for value, line in zip(values, lines, strict=True):
            if value < 0:
                problems.add(f"negative {column} MRR {value:g}: movements are amounts >= 0"
                             + (" (losses go in contraction and churn)" if column in ("new", "expansion") else ""),
                             column, line)
    known = _check_month_order(months, lines, problems,  # reported with the problems above
                               key=[(str(s),) for s in frame["segment"]] if has_seg else None)
    problems.raise_if_any()
    seen: dict[tuple, int] = {}
    for i, line in enumerate(lines):
        key = (months[i], by_column["segment"][i] if has_seg else "")
        if key in seen:
            where = f", segment {key[1]}" if key[1] else ""
            problems.add(f"duplicate row: {month_label(key[0])}{where} is also on line {seen[key]}", None, line)
        else:
            seen[key] = line
    problems.raise_if_any()
    seg_list = segment_names or ["all"]
    first = known[0]
    shape = (len(known), len(seg_list))
    arrays = {c: np.zeros(shape) for c in ("new", "expansion", "contraction", "churn", "reactivation", "mrr")}
    present = np.zeros(shape, bool)
    for i in range(len(lines)):
        s = seg_list.index(by_column["segment"][i]) if has_seg else 0
        t = months[i] - first
        present[t, s] = True
        for column in arrays:
            if column in frame.columns:
                arrays[column][t, s] = signs.get(column, 1.0) * float(frame[column][i])
    if not present.all():
        t, s = np.argwhere(~present)[0]
        problems.add(f"no row for {month_label(first + int(t))}"
                     + (f", segment {seg_list[s]}" if has_seg else "")
                     + ": every segment needs a row every month (write 0 for no movement)", "month", None)
        problems.raise_if_any()
    if len(known) < 3:
        problems.add(f"the MRR history covers {len(known)} month(s); a calibration needs at least 3", None, lines[0])
        problems.raise_if_any()
    level = arrays["mrr"] if "mrr" in frame.columns else None
    if level is not None:
        react = arrays["reactivation"]
        bridge = level[:-1] + arrays["new"][1:] + arrays["expansion"][1:] + react[1:] - arrays["contraction"][1:] \
            - arrays["churn"][1:]
        gap = np.abs(bridge - level[1:]) / np.maximum(level[1:], 1.0)
        if np.any(gap > BRIDGE_TOLERANCE):
            t, s = np.unravel_index(int(np.argmax(gap)), gap.shape)
            notes.append(f"{table.file}: the MRR at month end does not follow from the movements in every month "
                         f"(up to {gap.max():.1%} off, in {month_label(first + int(t) + 1)}); rates are measured "
                         "against the MRR column as written")
    return MrrHistory(file=table.file, months=[month_label(m) for m in range(first, known[-1] + 1)],
                      segments=segment_names, new=arrays["new"], expansion=arrays["expansion"],
                      contraction=arrays["contraction"], churn=arrays["churn"],
                      reactivation=arrays["reactivation"] if "reactivation" in frame.columns else None,
                      mrr=level)


def _read_referrals(table: CsvTable, *, notes: list[str], **_: Any) -> ReferralHistory:
    problems = _Problems(table.file)
    frame, lines = table.frame, table.line_of_row
    by_column = _columns(frame)
    months = _months(table, problems)
    _whole_counts(table, "referred", problems, "referred count")
    if "source_count" in frame.columns:
        for value, line in zip(frame["source_count"], lines, strict=True):
            if value < 0:
                problems.add(f"negative source count {value:g}", "source_count", line)
    problems.raise_if_any()
    known = _check_month_order(months, lines, problems)
    seen: dict[int, int] = {}
    for month, line in zip(months, lines, strict=True):
        if month in seen:
            problems.add(f"duplicate row: {month_label(month)} is also on line {seen[month]}", "month", line)
        seen.setdefault(month, line)  # type: ignore[arg-type]
    problems.raise_if_any()
    if len(known) < 3:
        problems.add(f"the referral history covers {len(known)} month(s); a calibration needs at least 3", None,
                     lines[0])
        problems.raise_if_any()
    first = known[0]
    referred = np.zeros(len(known))
    source = np.zeros(len(known)) if "source_count" in frame.columns else None
    for i in range(len(lines)):
        referred[months[i] - first] = float(by_column["referred"][i])
        if source is not None:
            source[months[i] - first] = float(by_column["source_count"][i])
    return ReferralHistory(file=table.file, months=[month_label(m) for m in range(first, known[-1] + 1)],
                           referred=referred, source=source)
