"""Months, fiscal quarters and fiscal years: the periods team KPIs and targets are read over.

A fiscal year starts in ``fiscal_year_start`` (1 = January, 4 = April...) and is named after the calendar
year in which it **ends**: with an April start, FY2028 runs from April 2027 to March 2028. With a January
start the fiscal year is the calendar year and periods are written without ``FY`` (``2027``, ``2027-Q1``).
Quarters are fiscal quarters: Q1 is the first three months of the fiscal year.

Periods are located by month positions relative to the run's first month (0 = ``start``; negative before
it), so a period may lie partly or wholly outside the simulated months: :meth:`Period.simulated` says which
of its months the run covers.

>>> calendar = FiscalCalendar(4)
>>> calendar.period_of(2027, 4, "year").label, calendar.period_of(2027, 3, "year").label
('FY2028', 'FY2027')
>>> calendar.parse("FY2028-Q2", start="2027-01").months
(6, 7, 8)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PERIOD_KINDS", "MONTH_NAMES", "FiscalCalendar", "Period", "parse_month_number", "periods_of_run"]

#: The kinds of period, shortest first.
PERIOD_KINDS = ("month", "quarter", "year")
MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
               "october", "november", "december")

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(FY)?\s*(\d{4})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(?:(FY)?\s*(\d{4})\s*[-\s]\s*Q([1-4])|Q([1-4])\s*[-\s]?\s*(FY)?\s*(\d{4}))$", re.IGNORECASE)


def parse_month_number(value: object) -> int:
    """A month as 1-12, from a number or an English month name (``April``, ``apr``).

    Raises
    ------
    ValueError
        With what was expected.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a month (1-12 or a name such as April), got {value!r}")
    if isinstance(value, int) and 1 <= value <= 12:
        return value
    text = str(value).strip().lower()
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    for number, name in enumerate(MONTH_NAMES, start=1):
        if len(text) >= 3 and name.startswith(text):
            return number
    raise ValueError(f"expected a month (1-12 or a name such as April), got {value!r}")


def _year_month(text: str) -> tuple[int, int]:
    year, month = (int(x) for x in text.split("-")[:2])
    return year, month


@dataclass(frozen=True)
class Period:
    """A month, fiscal quarter or fiscal year, as month positions relative to the run's start.

    Attributes
    ----------
    kind
        ``month``, ``quarter`` or ``year``.
    label
        ``2027-04``, ``FY2028-Q1``, ``FY2028`` (``2027-Q2``, ``2027`` with a January fiscal start).
    first, last
        Positions of its first and last month (0 = the run's first month; may be outside the run).
    """

    kind: str
    label: str
    first: int
    last: int

    @property
    def months(self) -> tuple[int, ...]:
        """Every month position of the period."""
        return tuple(range(self.first, self.last + 1))

    def simulated(self, n_months: int) -> tuple[int, int] | None:
        """The first and last positions the run covers (``n_months`` simulated), or None when none."""
        first, last = max(self.first, 0), min(self.last, n_months - 1)
        return (first, last) if first <= last else None

    def complete(self, n_months: int) -> bool:
        """Whether the run covers every month of the period."""
        return self.first >= 0 and self.last <= n_months - 1


class FiscalCalendar:
    """Periods of a fiscal calendar whose year starts in month ``start_month`` (1-12)."""

    def __init__(self, start_month: int = 1) -> None:
        if not 1 <= int(start_month) <= 12:
            raise ValueError(f"a fiscal year starts in month 1 to 12, got {start_month}")
        self.start_month = int(start_month)

    @property
    def calendar_years(self) -> bool:
        """True when fiscal years are calendar years (a January start)."""
        return self.start_month == 1

    def describe(self) -> str:
        """``fiscal years from April to March`` or ``calendar years``."""
        if self.calendar_years:
            return "calendar years"
        end = MONTH_NAMES[(self.start_month + 10) % 12].capitalize()
        return f"fiscal years from {MONTH_NAMES[self.start_month - 1].capitalize()} to {end}"

    def fiscal_year(self, year: int, month: int) -> int:
        """The fiscal year (named after the calendar year it ends in) of calendar month ``year-month``."""
        return year if self.calendar_years or month < self.start_month else year + 1

    def year_label(self, fiscal_year: int) -> str:
        return str(fiscal_year) if self.calendar_years else f"FY{fiscal_year}"

    def _fiscal_year_first(self, fiscal_year: int) -> tuple[int, int]:
        """Calendar (year, month) of the first month of ``fiscal_year``."""
        return (fiscal_year, 1) if self.calendar_years else (fiscal_year - 1, self.start_month)

    def period_of(self, year: int, month: int, kind: str, *, start: str | None = None) -> Period:
        """The period of ``kind`` holding calendar month ``year-month`` (positions relative to ``start``,
        ``YYYY-MM``; the month itself when None)."""
        origin = _year_month(start) if start else (year, month)
        position = (year - origin[0]) * 12 + (month - origin[1])
        if kind == "month":
            return Period("month", f"{year:04d}-{month:02d}", position, position)
        fiscal = self.fiscal_year(year, month)
        offset = (month - self.start_month) % 12  # months since the fiscal year began
        if kind == "year":
            first = position - offset
            return Period("year", self.year_label(fiscal), first, first + 11)
        if kind == "quarter":
            quarter = offset // 3 + 1
            first = position - offset % 3
            return Period("quarter", f"{self.year_label(fiscal)}-Q{quarter}", first, first + 2)
        raise ValueError(f"unknown period kind {kind!r}; expected one of {', '.join(PERIOD_KINDS)}")

    def examples(self) -> str:
        """How periods are written in this calendar, for error messages."""
        year = "2028" if self.calendar_years else "FY2028"
        return f"a month (2028-03), a quarter ({year}-Q1) or a fiscal year ({year})"

    def parse(self, text: object, *, start: str) -> Period:
        """The period a user wrote (``2028-03``, ``FY2028-Q1``, ``Q1 FY2028``, ``FY2028``; ``2028`` and
        ``2028-Q1`` with a January fiscal start), positioned relative to ``start`` (``YYYY-MM``).

        Raises
        ------
        ValueError
            With the forms this calendar accepts.
        """
        raw = str(text).strip()
        match = _MONTH.match(raw)
        if match and 1 <= int(match.group(2)) <= 12:
            return self.period_of(int(match.group(1)), int(match.group(2)), "month", start=start)
        match = _YEAR.match(raw)
        if match:
            fiscal, has_fy = int(match.group(2)), bool(match.group(1))
            self._check_prefix(raw, has_fy)
            year, month = self._fiscal_year_first(fiscal)
            return self.period_of(year, month, "year", start=start)
        match = _QUARTER.match(raw)
        if match:
            has_fy = bool(match.group(1) or match.group(5))
            fiscal = int(match.group(2) or match.group(6))
            quarter = int(match.group(3) or match.group(4))
            self._check_prefix(raw, has_fy)
            year, month = self._fiscal_year_first(fiscal)
            total = year * 12 + (month - 1) + 3 * (quarter - 1)
            return self.period_of(total // 12, total % 12 + 1, "quarter", start=start)
        raise ValueError(f"expected {self.examples()}, got '{raw}'")

    def _check_prefix(self, raw: str, has_fy: bool) -> None:
        if not has_fy and not self.calendar_years:
            year = re.findall(r"\d{4}", raw)[0]
            raise ValueError(f"'{raw}' is ambiguous with {self.describe()}: write FY and the calendar year the "
                             f"fiscal year ends in (FY{year})")


def periods_of_run(calendar: FiscalCalendar, start: str, n_months: int, kind: str) -> list[Period]:
    """The periods of ``kind`` that hold at least one of the ``n_months`` simulated months from ``start``."""
    year, month = _year_month(start)
    periods: list[Period] = []
    for position in range(n_months):
        total = year * 12 + (month - 1) + position
        period = calendar.period_of(total // 12, total % 12 + 1, kind, start=start)
        if not periods or periods[-1].label != period.label:
            periods.append(period)
    return periods
