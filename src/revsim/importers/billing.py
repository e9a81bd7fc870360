"""What the billing importers (Stripe, Chargebee, ChartMogul) share: currencies, billing periods, segments.

* **Currencies.** The outputs are in one currency: the mapping file's ``currency:``, else the currency of the
  first amount read. An amount in another currency is converted with the mapping file's ``rates:`` (``EUR:
  1.09`` means 1 EUR = 1.09 of the output currency) or refused, naming the file, line and column.
* **Billing periods.** A price billed every ``k`` months is ``price / k`` a month (an annual price is divided by
  12); a period that is not a whole number of months (a proration) is counted by its days, 30.4375 a month.
* **Segments.** A customer's segment is the first one its rows give; rows that disagree are noted.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from revsim.errors import InputError
from revsim.importers.exports import ExportTable
from revsim.importers.mapping import ImportMapping

__all__ = ["Currencies", "period_months", "add_months", "interval_months", "Segments", "DAYS_PER_MONTH",
           "contract_term_notes"]

#: Days in an average month (365.25 / 12).
DAYS_PER_MONTH = 30.4375
_INTERVALS = {"month": 1.0, "months": 1.0, "monthly": 1.0, "year": 12.0, "years": 12.0, "yearly": 12.0,
              "annual": 12.0, "annually": 12.0, "week": 12 / 52, "weeks": 12 / 52, "weekly": 12 / 52,
              "day": 12 / 365, "days": 12 / 365, "daily": 12 / 365, "quarter": 3.0, "quarterly": 3.0}


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months (the 31st becomes the month's last day when it has fewer)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = (dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(day.day, last))


def period_months(start: dt.date, end: dt.date) -> tuple[float, bool]:
    """The months a service period covers, and whether it is a whole number of calendar months.

    A period from the 15th to the 15th three months later is 3 whole months (a few days of slack allow for
    billing anchored on the 29th to 31st); any other period counts its days, 30.4375 a month.
    """
    days = (end - start).days
    k = round(days / DAYS_PER_MONTH)
    if k >= 1 and abs((end - add_months(start, k)).days) <= 3:
        return float(k), True
    return days / DAYS_PER_MONTH, False


def interval_months(unit: str, count: float | None = 1.0) -> float | None:
    """Months of a billing interval written ``month``, ``year``, ``week``... (times ``count``), or None."""
    factor = _INTERVALS.get(unit.strip().casefold())
    if factor is None:
        return None
    return factor * (count or 1.0)


@dataclass
class Currencies:
    """Converts amounts to the output currency, or refuses them."""

    mapping: ImportMapping
    currency: str | None = None
    converted: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.currency = self.mapping.currency

    def convert(self, table: ExportTable, column: str, cents: list[int | None], codes: Sequence[str]
                ) -> list[int | None]:
        """``cents`` in the output currency; a code without a rate is a problem of ``table``'s ``column``."""
        out: list[int | None] = []
        for amount, code, line in zip(cents, codes, table.lines, strict=True):
            code = code.strip().upper()
            if amount is None or not code:
                out.append(amount)
                continue
            if self.currency is None:
                self.currency = code
            if code == self.currency:
                out.append(amount)
            elif code in self.mapping.rates:
                self.converted[code] += 1
                out.append(int(round(amount * self.mapping.rates[code])))
            else:
                table.problem(f"an amount in {code}, but the outputs are in {self.currency}: give the exchange rate "
                              f"in the mapping file (rates: {{{code}: 1.09}} means 1 {code} = 1.09 {self.currency}), "
                              "or export one currency", table_currency_column(table), line)
                out.append(None)
        return out

    def notes(self) -> list[str]:
        notes = []
        if self.currency:
            notes.append(f"amounts are in {self.currency}")
        for code, n in sorted(self.converted.items()):
            notes.append(f"{n} amounts in {code} converted at {self.mapping.rates[code]:g} {self.currency} per {code}")
        return notes


def table_currency_column(table: ExportTable) -> str | None:
    for name in ("currency", "currency_code", "CURRENCY_CODE", "billing_currency_code"):
        if table.has(name):
            return name
    return None


@dataclass
class Segments:
    """Each customer's segment, from the rows of every billing file (``values``: the mapping's ``segments:``)."""

    values: dict[str, str] = field(default_factory=dict)
    segment_of: dict[str, str | None] = field(default_factory=dict)
    conflicts: set[str] = field(default_factory=set)
    first_row: dict[str, tuple[str, int]] = field(default_factory=dict)  # customer -> (file, line)

    def add(self, table: ExportTable, customers: Sequence[str], labels: Sequence[str | None]) -> None:
        for customer, label, line in zip(customers, labels, table.lines, strict=True):
            self.first_row.setdefault(customer, (table.file, line))
            if label is None:
                self.segment_of.setdefault(customer, None)
                continue
            known = self.segment_of.get(customer)
            if known is None:
                self.segment_of[customer] = label
            elif known != label:
                self.conflicts.add(customer)

    def check(self) -> None:
        """Refuse customers without a segment when others have one (every customer must be in a segment)."""
        missing = [c for c, s in self.segment_of.items() if s is None]
        if missing and len(missing) < len(self.segment_of):
            file, line = self.first_row[missing[0]]
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise InputError.single(
                f"customer {missing[0]}{more} has no segment, while other customers have one: give the segment "
                "column in the file that holds each customer (a column renamed to segment in the mapping file's "
                "columns:), or in none", file=file, line=line)

    def notes(self) -> list[str]:
        if not self.conflicts:
            return []
        return [f"{len(self.conflicts)} customers have rows in more than one segment; each is counted in the "
                "segment of its first row"]


def contract_term_notes(months_by_segment: dict[str | None, Counter], terms: dict[str, int]) -> list[str]:
    """Notes where the billing periods seen in a segment differ from the scenario's contract term."""
    notes = []
    for segment, all_counts in months_by_segment.items():
        counts = Counter({m: n for m, n in all_counts.items() if m})  # None or 0: the period is not known
        if segment is None or segment not in terms or not counts:
            continue
        total = sum(counts.values())
        term = terms[segment]
        share = counts.get(term, 0) / total
        if share < 0.5:
            common, n = counts.most_common(1)[0]
            notes.append(f"segment {segment}: the scenario's contract term is {term} months, but {n / total:.0%} of "
                         f"its subscriptions bill every {common:g} months (check retention.{segment}.contract_months)")
    return notes
