"""What an importer found, and how it becomes the history files of ``docs/calibration.md``.

An importer returns an :class:`Imported`: stage entries (from a CRM) and/or MRR movements (from a billing
system), with notes. :func:`render_history` turns it into the text of ``funnel.csv``, ``cohorts.csv`` and
``mrr.csv``, dense (every month, every stage, segment and channel, 0 where nothing happened), which
:func:`write_history` writes atomically.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from revsim.importers.exports import ExportTable, Field
    from revsim.importers.mapping import ImportMapping

from revsim.importers.movements import KINDS, Movement, cohort_table, month_of, month_text, monthly_mrr

__all__ = ["Imported", "render_history", "write_history", "HISTORY_NAMES"]

HISTORY_NAMES = ("funnel.csv", "cohorts.csv", "mrr.csv")


@dataclass
class Imported:
    """What one import read.

    Attributes
    ----------
    source
        ``hubspot``, ``salesforce``, ``stripe``, ``chargebee`` or ``chartmogul``.
    files
        The files read.
    funnel
        ``(month index, stage, segment, channel) -> entries``; segment and channel are None when the exports
        have no such column. None when no CRM file was read.
    stages
        The funnel's stages in order.
    movements
        Every MRR movement (None when no billing file was read).
    segment_of
        Customer -> segment (None for a single segment).
    cohorts
        Whether ``cohorts.csv`` can be built from the movements (each customer's spells are known).
    last_day
        The latest date the billing exports mention: the last month written.
    notes
        What was skipped or assumed, one sentence each.
    """

    source: str
    files: list[str] = field(default_factory=list)
    funnel: Counter | None = None
    stages: list[str] = field(default_factory=list)
    movements: list[Movement] | None = None
    segment_of: dict[str, str | None] = field(default_factory=dict)
    cohorts: bool = True
    last_day: dt.date | None = None
    notes: list[str] = field(default_factory=list)

    def read(self, path: str, section: str, mapping: ImportMapping, *, fields: Sequence[Field], what: str,
             dynamic: Callable[[str], str | None] | None = None) -> ExportTable:
        """Read one export (:func:`~revsim.importers.exports.read_export`) with the mapping's renames of its
        ``section``, ignored columns and date format, and record the file and the reader's notes."""
        from revsim.importers.exports import read_export

        table = read_export(path, fields=fields, what=what, renames=mapping.renames(section), ignore=mapping.ignore,
                            date_format=mapping.date_format, dynamic=dynamic)
        self.files.append(table.file)
        self.notes += [f"{table.file}: {note}" for note in table.notes]
        return table


def render_history(imported: Imported, *, first: int | None = None, last: int | None = None
                   ) -> tuple[dict[str, str], list[str]]:
    """The history files' text by name, and notes about what the month range left out.

    ``first`` and ``last`` (month indices) crop every file to those months (cohorts: the cohorts acquired
    up to ``last``, observed up to ``last``).
    """
    texts: dict[str, str] = {}
    notes: list[str] = []
    if imported.funnel is not None and imported.funnel:
        texts["funnel.csv"], note = _funnel_text(imported, first, last)
        notes += note
    if imported.movements:
        start = month_of(imported.movements[0].day)
        end = month_of(imported.last_day or imported.movements[-1].day)
        lo = start if first is None else max(first, start)
        hi = end if last is None else min(last, end)
        if hi < lo:
            notes.append(f"no MRR movement between {month_text(lo)} and {month_text(hi)}: mrr.csv not written")
            return texts, notes
        dropped = sum(1 for m in imported.movements if month_of(m.day) > hi)
        if dropped:
            notes.append(f"{dropped} MRR movements dated after {month_text(hi)} are left out (the last month written; "
                         "service periods paid beyond it end after it)")
        earlier = sum(1 for m in imported.movements if month_of(m.day) < lo)
        if earlier:
            notes.append(f"{earlier} MRR movements before {month_text(lo)} only set the MRR the history starts from")
        rows = monthly_mrr(imported.movements, imported.segment_of, lo, hi)
        segmented = any(r.segment is not None for r in rows)
        header = ["month", *(["segment"] if segmented else []), *KINDS, "mrr"]
        lines = [",".join(header)]
        for r in rows:
            cells = [month_text(r.month), *([r.segment] if segmented else []),
                     *(_money(getattr(r, kind)) for kind in KINDS), _money(r.mrr)]
            lines.append(",".join(str(c) for c in cells))
        texts["mrr.csv"] = "\n".join(lines) + "\n"
        if imported.cohorts:
            cohorts, _ = cohort_table(imported.movements, imported.segment_of, hi)
            if first is not None:
                dropped_cohorts = {c.cohort for c in cohorts if c.cohort < first}
                cohorts = [c for c in cohorts if c.cohort >= first]
                if dropped_cohorts:
                    notes.append(f"{len(dropped_cohorts)} cohorts acquired before {month_text(first)} are left out "
                                 "of cohorts.csv")
            if cohorts:
                header = ["cohort", *(["segment"] if segmented else []), "period", "customers", "mrr"]
                lines = [",".join(header)]
                for c in cohorts:
                    cells = [month_text(c.cohort), *([c.segment] if segmented else []), c.period, c.customers,
                             _money(c.mrr)]
                    lines.append(",".join(str(x) for x in cells))
                texts["cohorts.csv"] = "\n".join(lines) + "\n"
    return texts, notes


def _funnel_text(imported: Imported, first: int | None, last: int | None) -> tuple[str, list[str]]:
    funnel = imported.funnel or Counter()
    months = [key[0] for key in funnel]
    lo = min(months) if first is None else first
    hi = max(months) if last is None else last
    notes = []
    outside = sum(n for key, n in funnel.items() if not lo <= key[0] <= hi)
    if outside:
        notes.append(f"{outside} stage entries outside {month_text(lo)} to {month_text(hi)} are left out")
    segments = sorted({key[2] for key in funnel if key[2] is not None})
    channels = sorted({key[3] for key in funnel if key[3] is not None})
    stages = [s for s in imported.stages if any(key[1] == s for key in funnel)]
    header = ["month", "stage", *(["segment"] if segments else []), *(["channel"] if channels else []), "count"]
    lines = [",".join(header)]
    for t in range(lo, hi + 1):
        for stage in stages:
            for segment in segments or [None]:
                for channel in channels or [None]:
                    count = funnel.get((t, stage, segment, channel), 0)
                    cells = [month_text(t), stage, *([segment] if segments else []),
                             *([channel] if channels else []), str(count)]
                    lines.append(",".join(cells))
    return "\n".join(lines) + "\n", notes


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{part:02d}"


def write_history(out_dir: Path, texts: dict[str, str]) -> list[Path]:
    """Write the files atomically (each under a temporary name, renamed once all are complete)."""
    from revsim.results.output_dir import write_files

    def writer(text: str):
        return lambda path: path.write_text(text, encoding="utf-8")

    return write_files(out_dir, {name: writer(texts[name]) for name in HISTORY_NAMES if name in texts})
