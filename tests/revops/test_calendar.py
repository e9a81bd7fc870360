"""Fiscal calendars: periods, labels, parsing, partial periods."""

from __future__ import annotations

import pytest

from revsim.revops.calendar import FiscalCalendar, parse_month_number, periods_of_run


def test_april_fiscal_year_is_named_after_the_year_it_ends_in() -> None:
    calendar = FiscalCalendar(4)
    assert calendar.period_of(2027, 4, "year").label == "FY2028"
    assert calendar.period_of(2028, 3, "year").label == "FY2028"
    assert calendar.period_of(2027, 3, "year").label == "FY2027"
    assert [calendar.period_of(2027, m, "quarter").label for m in (4, 6, 7, 12, 1, 3)] == [
        "FY2028-Q1", "FY2028-Q1", "FY2028-Q2", "FY2028-Q3", "FY2027-Q4", "FY2027-Q4"]


def test_periods_are_positioned_relative_to_the_start() -> None:
    calendar = FiscalCalendar(4)
    year = calendar.parse("FY2028", start="2027-01")
    assert (year.first, year.last) == (3, 14)  # April 2027 is 3 months after January 2027
    assert calendar.parse("Q2 FY2028", start="2027-01").months == (6, 7, 8)
    assert calendar.parse("FY2028-Q2", start="2027-01") == calendar.parse("fy2028 q2", start="2027-01")
    assert calendar.parse("2027-05", start="2027-01").months == (4,)


def test_calendar_years_are_written_without_fy() -> None:
    calendar = FiscalCalendar(1)
    assert calendar.parse("2028", start="2027-01").months == tuple(range(12, 24))
    assert calendar.parse("2028-Q4", start="2027-01").months == (21, 22, 23)
    assert calendar.period_of(2028, 11, "quarter").label == "2028-Q4"


def test_ambiguous_and_malformed_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="ambiguous with fiscal years from April to March: write FY.*FY2028"):
        FiscalCalendar(4).parse("Q2 2028", start="2027-01")
    with pytest.raises(ValueError, match="expected a month .2028-03., a quarter .FY2028-Q1. or a fiscal year"):
        FiscalCalendar(4).parse("next year", start="2027-01")


def test_runs_mark_partial_first_and_last_periods() -> None:
    """A run from January 2027 for 36 months with an April fiscal year: FY2027 has its last 3 months,
    FY2030 its first 9."""
    periods = periods_of_run(FiscalCalendar(4), "2027-01", 36, "year")
    assert [p.label for p in periods] == ["FY2027", "FY2028", "FY2029", "FY2030"]
    assert [p.simulated(36) for p in periods] == [(0, 2), (3, 14), (15, 26), (27, 35)]
    assert [p.complete(36) for p in periods] == [False, True, True, False]
    quarters = periods_of_run(FiscalCalendar(4), "2027-01", 36, "quarter")
    assert len(quarters) == 12 and all(q.complete(36) for q in quarters)
    assert quarters[0].label == "FY2027-Q4"


@pytest.mark.parametrize("text, month", [(4, 4), ("April", 4), ("apr", 4), ("12", 12), ("sept", 9)])
def test_month_numbers(text: object, month: int) -> None:
    assert parse_month_number(text) == month


def test_month_numbers_refused() -> None:
    for bad in (0, 13, "Avril", True, "ju"):
        with pytest.raises(ValueError, match="expected a month"):
            parse_month_number(bad)
