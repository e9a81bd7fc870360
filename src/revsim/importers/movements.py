"""Subscriptions -> each customer's MRR over time -> MRR movements, cohorts and the monthly waterfall.

The definitions are ChartMogul's (see ``docs/importing.md``):

* a customer's MRR is the sum of the MRR of its subscriptions; a subscription's MRR is its price normalised to
  a month (an annual price divided by 12), and 0 while it is a free trial;
* every change of a customer's MRR is one movement, dated the day it happens: **new business** when a customer
  pays for the first time, **expansion** when it pays more, **contraction** when it pays less (a cancelled
  subscription while another one stays active is a contraction), **churn** when its MRR falls to zero (its last
  active subscription ends), **reactivation** when a customer who churned pays again;
* changes of one customer on the same day are one movement (a plan change ends one subscription line and starts
  another: one expansion or contraction, not a churn and a new business).

Amounts are integer cents throughout, so the waterfall closes exactly:
``mrr[t] = mrr[t-1] + new + expansion + reactivation - contraction - churn`` for every month and segment.

>>> import datetime as dt
>>> spans = [Span("acme", dt.date(2024, 1, 10), dt.date(2024, 3, 10), 10_000),
...          Span("acme", dt.date(2024, 3, 10), None, 15_000)]
>>> [(m.day.isoformat(), m.kind, m.amount) for m in movements_from_spans(spans)]
[('2024-01-10', 'new', 10000), ('2024-03-10', 'expansion', 5000)]
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Span",
    "Movement",
    "MrrRow",
    "CohortRow",
    "KINDS",
    "movements_from_spans",
    "movements_from_levels",
    "monthly_mrr",
    "cohort_table",
    "month_of",
    "month_end",
    "month_text",
]

#: Movement kinds, in the order of mrr.csv's columns.
KINDS = ("new", "expansion", "contraction", "churn", "reactivation")


def month_of(day: dt.date) -> int:
    """Months since year 0: consecutive months differ by 1 (the index of ``revsim.calibrate.history``)."""
    return day.year * 12 + day.month - 1


def month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_end(index: int) -> dt.date:
    """The last day of month ``index``."""
    year, month = divmod(index + 1, 12)
    return dt.date(year, month + 1, 1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Span:
    """A subscription (or one of its invoice lines) paying ``mrr`` cents a month from ``start`` to ``end``.

    ``end`` is exclusive (the day the service stops); None while it is still active.
    """

    customer: str
    start: dt.date
    end: dt.date | None
    mrr: int
    subscription: str = ""


@dataclass(frozen=True)
class Movement:
    """A change of one customer's MRR: ``kind`` is one of :data:`KINDS`, ``amount`` > 0 in cents."""

    day: dt.date
    customer: str
    kind: str
    amount: int
    mrr_after: int


@dataclass
class MrrRow:
    """One month (and segment) of ``mrr.csv``: movements and the MRR at the month's end, in cents."""

    month: int
    segment: str | None
    new: int = 0
    expansion: int = 0
    contraction: int = 0
    churn: int = 0
    reactivation: int = 0
    mrr: int = 0
    customers: int = 0

    def add(self, kind: str, amount: int) -> None:
        setattr(self, kind, getattr(self, kind) + amount)


@dataclass
class CohortRow:
    """One row of ``cohorts.csv``: customers (and their MRR, in cents) of a cohort ``period`` months on."""

    cohort: int
    segment: str | None
    period: int
    customers: int
    mrr: int


@dataclass
class _Levels:
    changes: dict[str, dict[dt.date, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))


def movements_from_spans(spans: Iterable[Span]) -> list[Movement]:
    """The MRR movements of every customer, from its subscriptions' spans (sorted by day, then customer).

    A span with ``mrr`` 0 (a free trial) moves nothing. A span that ends on or before its start is ignored.
    """
    deltas: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for span in spans:
        if span.mrr == 0 or (span.end is not None and span.end <= span.start):
            continue
        deltas[span.customer][span.start] += span.mrr
        if span.end is not None:
            deltas[span.customer][span.end] -= span.mrr
    levels: dict[str, list[tuple[dt.date, int]]] = {}
    for customer, by_day in deltas.items():
        level = 0
        steps = []
        for day in sorted(by_day):
            if by_day[day]:
                level += by_day[day]
                steps.append((day, level))
        levels[customer] = steps
    return movements_from_levels(levels)


def movements_from_levels(levels: Mapping[str, Sequence[tuple[dt.date, int]]]) -> list[Movement]:
    """The movements of customers whose MRR is known as ``(day, MRR from that day on)`` steps, in day order.

    Consecutive steps at the same level move nothing. Levels must be >= 0 (a negative level means a credit
    larger than the subscriptions: the caller refuses it).
    """
    out: list[Movement] = []
    for customer, steps in levels.items():
        level = 0
        paid_before = False
        for day, new_level in steps:
            if new_level == level:
                continue
            if level == 0:
                kind = "reactivation" if paid_before else "new"
                amount = new_level
            elif new_level == 0:
                kind, amount = "churn", level
            elif new_level > level:
                kind, amount = "expansion", new_level - level
            else:
                kind, amount = "contraction", level - new_level
            out.append(Movement(day, customer, kind, amount, new_level))
            paid_before = paid_before or new_level > 0
            level = new_level
    out.sort(key=lambda m: (m.day, m.customer))
    return out


def monthly_mrr(movements: Sequence[Movement], segment_of: Mapping[str, str | None], first: int, last: int
                ) -> list[MrrRow]:
    """The monthly waterfall from ``first`` to ``last`` (month indices), one row per month and segment.

    Movements before ``first`` only set the opening MRR; movements after ``last`` are left out. ``segment_of``
    gives each customer's segment (None everywhere for a single segment).
    """
    segments = sorted({segment_of.get(m.customer) for m in movements}, key=lambda s: (s is None, s or ""))
    segments = segments or [None]
    rows = {(t, s): MrrRow(t, s) for t in range(first, last + 1) for s in segments}
    level: dict[str | None, int] = dict.fromkeys(segments, 0)
    customer_level: dict[str, int] = {}
    by_month: dict[int, list[Movement]] = defaultdict(list)
    for movement in movements:
        by_month[month_of(movement.day)].append(movement)
    months = sorted(by_month)
    opening = [t for t in months if t < first]
    for t in opening:
        for m in by_month[t]:
            customer_level[m.customer] = m.mrr_after
    for m_customer, value in customer_level.items():
        level[segment_of.get(m_customer)] += value
    active = {s: sum(1 for c, v in customer_level.items() if v > 0 and segment_of.get(c) == s) for s in segments}
    for t in range(first, last + 1):
        for m in by_month.get(t, ()):
            segment = segment_of.get(m.customer)
            rows[(t, segment)].add(m.kind, m.amount)
            before = customer_level.get(m.customer, 0)
            customer_level[m.customer] = m.mrr_after
            level[segment] += m.mrr_after - before
            active[segment] += (m.mrr_after > 0) - (before > 0)
        for s in segments:
            rows[(t, s)].mrr = level[s]
            rows[(t, s)].customers = active[s]
    return [rows[(t, s)] for t in range(first, last + 1) for s in segments]


def cohort_table(movements: Sequence[Movement], segment_of: Mapping[str, str | None], last: int
                 ) -> tuple[list[CohortRow], int]:
    """Customers still paying, by the month they started paying, up to month ``last``.

    A customer's paying spell starts with a new business (or reactivation) movement and ends with its churn.
    A cohort is the spells that started in one month: at period 0 all of them, at period ``p`` those that
    had not churned by the end of month ``cohort + p``; ``mrr`` is their MRR at that month's end (at period 0,
    of those still paying at the end of the month). A customer who comes back after churning is counted in
    the cohort of the month it came back (as ``docs/calibration.md`` asks), so a cohort never grows.

    Returns
    -------
    tuple
        The rows, and the number of spells that were reactivations.
    """
    spells: list[tuple[str, int, int | None]] = []  # customer, start month, end month (None: still paying)
    open_spell: dict[str, int] = {}
    reactivations = 0
    history: dict[str, list[tuple[int, int]]] = defaultdict(list)  # customer -> (month, level after)
    for m in movements:
        t = month_of(m.day)
        if t > last:
            continue
        history[m.customer].append((t, m.mrr_after))
        if m.kind in ("new", "reactivation"):
            open_spell[m.customer] = len(spells)
            spells.append((m.customer, t, None))
            reactivations += m.kind == "reactivation"
        elif m.kind == "churn":
            index = open_spell.pop(m.customer)
            customer, start, _ = spells[index]
            spells[index] = (customer, start, t)

    def level_at(customer: str, month: int) -> int:
        value = 0
        for t, after in history[customer]:
            if t > month:
                break
            value = after
        return value

    cells: dict[tuple[int, str | None], dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for customer, start, end in spells:
        segment = segment_of.get(customer)
        stop = last if end is None else min(end - 1, last)
        cell = cells[(start, segment)]
        cell[0][0] += 1
        cell[0][1] += level_at(customer, start)
        for t in range(start + 1, stop + 1):
            cell[t - start][0] += 1
            cell[t - start][1] += level_at(customer, t)
    rows: list[CohortRow] = []
    for (start, segment) in sorted(cells, key=lambda k: (k[1] is None, k[1] or "", k[0])):
        cell = cells[(start, segment)]
        for period in range(0, last - start + 1):
            customers, mrr = cell.get(period, (0, 0))
            rows.append(CohortRow(start, segment, period, customers, mrr))
    return rows, reactivations
