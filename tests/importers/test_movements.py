"""MRR movements from subscriptions: ChartMogul's definitions, and the waterfall that closes every month.

The property tests draw random subscription histories (upgrades, downgrades, free periods, cancellations,
reactivations, monthly and annual plans, trials, customers with several subscriptions) and check that the
monthly waterfall balances exactly, that the MRR at each month end is the sum of the subscriptions active
that day (computed independently), and that cohorts only lose customers. One of them goes through
``revsim import stripe`` on invoice lines written as a CSV file, where annual invoices must be spread.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections import defaultdict
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from revsim.cli.main import cli
from revsim.importers.billing import add_months
from revsim.importers.movements import (
    KINDS,
    Span,
    cohort_table,
    month_end,
    month_of,
    monthly_mrr,
    movements_from_spans,
)

ORIGIN = dt.date(2023, 1, 1)


def _day(offset: int) -> dt.date:
    return ORIGIN + dt.timedelta(days=offset)


# ---------------------------------------------------------------------------------------- the definitions


def test_a_cancellation_is_churn_only_without_another_active_subscription() -> None:
    spans = [Span("acme", _day(0), _day(200), 10_000, "main"), Span("acme", _day(50), _day(100), 3_000, "addon")]
    kinds = [(m.kind, m.amount) for m in movements_from_spans(spans)]
    assert kinds == [("new", 10_000), ("expansion", 3_000), ("contraction", 3_000), ("churn", 10_000)]


def test_a_customer_who_comes_back_is_a_reactivation() -> None:
    spans = [Span("acme", _day(0), _day(60), 10_000), Span("acme", _day(120), None, 12_000)]
    kinds = [m.kind for m in movements_from_spans(spans)]
    assert kinds == ["new", "churn", "reactivation"]


def test_trials_are_excluded_and_the_first_paid_day_is_new_business() -> None:
    spans = [Span("acme", _day(0), _day(14), 0), Span("acme", _day(14), None, 9_900)]
    movements = movements_from_spans(spans)
    assert [(m.day, m.kind, m.amount) for m in movements] == [(_day(14), "new", 9_900)]


def test_a_plan_change_on_one_day_is_one_movement() -> None:
    spans = [Span("acme", _day(0), _day(31), 9_900), Span("acme", _day(31), None, 24_900)]
    assert [(m.kind, m.amount) for m in movements_from_spans(spans)] == [("new", 9_900), ("expansion", 15_000)]


def test_an_annual_invoice_spreads_over_its_twelve_months(tmp_path: Path) -> None:
    """1,200.00 billed on 2024-03-15 for a year is 100.00 of MRR in each of twelve month ends, not 1,200 in March."""
    lines = tmp_path / "invoice_lines.csv"
    lines.write_text("Invoice ID,Customer,Subscription,Amount,Currency,Period Start (UTC),Period End (UTC)\n"
                     "in_1,cus_1,sub_1,1200.00,usd,2024-03-15 00:00,2025-03-15 00:00\n"
                     "in_2,cus_2,sub_2,50.00,usd,2025-03-01 00:00,2025-04-01 00:00\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "stripe", str(lines), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "out" / "mrr.csv").open(encoding="utf-8")))
    by_month = {row["month"]: row for row in rows}
    assert [row["month"] for row in rows] == [f"{2024 + (2 + i) // 12}-{(2 + i) % 12 + 1:02d}" for i in range(13)]
    assert by_month["2024-03"]["new"] == "100.00"
    assert [by_month[m]["mrr"] for m in list(by_month)[:12]] == ["100.00"] * 12
    assert all(row["expansion"] == row["contraction"] == "0.00" for row in rows)
    assert by_month["2025-03"]["churn"] == "100.00" and by_month["2025-03"]["new"] == "50.00"
    assert by_month["2025-03"]["mrr"] == "50.00"
    cohorts = list(csv.DictReader((tmp_path / "out" / "cohorts.csv").open(encoding="utf-8")))
    march = [(int(r["period"]), int(r["customers"])) for r in cohorts if r["cohort"] == "2024-03"]
    assert march == [(p, 1) for p in range(12)] + [(12, 0)]


def test_other_currencies_are_converted_with_the_rate_table(tmp_path: Path) -> None:
    lines = tmp_path / "lines.csv"
    lines.write_text("Customer,Subscription,Amount,Currency,Period Start,Period End\n"
                     "cus_1,sub_1,100.00,usd,2024-01-01,2024-02-01\n"
                     "cus_2,sub_2,200.00,eur,2024-01-01,2024-02-01\n", encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("currency: USD\nrates: {EUR: 1.085}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "stripe", str(lines), "--mapping", str(mapping), "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "1 amounts in EUR converted at 1.085 USD per EUR" in result.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "mrr.csv").open(encoding="utf-8")))
    assert rows[0]["new"] == "317.00"


# ------------------------------------------------------------------------------------------ properties


@st.composite
def subscription_histories(draw: st.DrawFn) -> list[tuple[str, str, list[tuple[dt.date, dt.date | None, int, int]]]]:
    """Customers, each with subscriptions made of consecutive billing periods: (start, end, amount, months).

    A subscription may start with a free trial (amount 0), be monthly or annual, change its price at renewals
    (upgrades, downgrades, free months), end (a cancellation) or run on; a customer may start another one
    later (a reactivation when the first had ended) or at the same time (an add-on).
    """
    customers = []
    for c in range(draw(st.integers(1, 6))):
        segment = draw(st.sampled_from(["smb", "mid_market"]))
        subscriptions = []
        for _ in range(draw(st.integers(1, 3))):
            start = _day(draw(st.integers(0, 900)))
            periods = []
            if draw(st.booleans()):
                trial_end = start + dt.timedelta(days=draw(st.sampled_from([7, 14, 30])))
                periods.append((start, trial_end, 0, 0))
                start = trial_end
            months = draw(st.sampled_from([1, 1, 3, 12]))
            for k in range(draw(st.integers(1, 8 if months == 1 else 3))):
                end = add_months(start, months)
                monthly = draw(st.sampled_from([0, 4_900, 9_900, 24_900, 49_900, 123_456]))
                periods.append((start, end, monthly * months, months))
                start = end
            subscriptions.append(periods)
        customers.append((f"cus_{c}", segment, subscriptions))
    return customers


def _spans(customers) -> tuple[list[Span], dict[str, str]]:
    spans, segment_of = [], {}
    for customer, segment, subscriptions in customers:
        segment_of[customer] = segment
        for i, periods in enumerate(subscriptions):
            for start, end, amount, months in periods:
                spans.append(Span(customer, start, end, round(amount / months) if months else 0, f"{customer}_{i}"))
    return spans, segment_of


def _level_at(spans: list[Span], day: dt.date, segment_of: dict[str, str], segment: str) -> int:
    """MRR on ``day``: the sum of the spans active that day (independently of the movements)."""
    return sum(s.mrr for s in spans if segment_of[s.customer] == segment and s.start <= day
               and (s.end is None or day < s.end))


def _check_waterfall(rows, spans, segment_of) -> None:
    by_segment = defaultdict(list)
    for row in rows:
        by_segment[row.segment].append(row)
    for segment, series in by_segment.items():
        previous = _level_at(spans, month_end(series[0].month - 1), segment_of, segment)
        for row in series:
            assert row.mrr == previous + row.new + row.expansion + row.reactivation - row.contraction - row.churn
            assert row.mrr == _level_at(spans, month_end(row.month), segment_of, segment)
            assert all(getattr(row, kind) >= 0 for kind in KINDS)
            previous = row.mrr


@settings(max_examples=300, deadline=None)
@given(subscription_histories())
def test_the_mrr_waterfall_balances_every_month(customers) -> None:
    spans, segment_of = _spans(customers)
    movements = movements_from_spans(spans)
    if not movements:
        return
    first, last = month_of(movements[0].day), month_of(movements[-1].day)
    rows = monthly_mrr(movements, segment_of, first, last)
    _check_waterfall(rows, spans, segment_of)
    # ChartMogul's classification: new once per customer, a reactivation only after a churn
    state: dict[str, str] = {}
    for m in movements:
        before = state.get(m.customer)
        if m.kind == "new":
            assert before is None
        elif m.kind == "reactivation":
            assert before == "churned"
        else:
            assert before in ("paying",), (m, before)
        state[m.customer] = "churned" if m.kind == "churn" else "paying"
        assert m.amount > 0
    # a cohort never grows, and period 0 holds every spell that started that month
    cohorts, _ = cohort_table(movements, segment_of, last)
    series = defaultdict(list)
    for row in cohorts:
        series[(row.cohort, row.segment)].append(row.customers)
    for (cohort, segment), counts in series.items():
        assert all(a >= b for a, b in zip(counts, counts[1:], strict=False))
        started = sum(1 for m in movements if m.kind in ("new", "reactivation") and month_of(m.day) == cohort
                      and segment_of[m.customer] == segment)
        assert counts[0] == started


@settings(max_examples=40, deadline=None)
@given(subscription_histories())
def test_stripe_invoice_lines_give_a_balanced_waterfall(customers) -> None:
    """The same histories written as Stripe invoice lines (annual ones billed once a year) and imported."""
    spans, segment_of = _spans(customers)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lines.csv"
        lines = ["Customer,Subscription,Amount,Currency,Period Start (UTC),Period End (UTC),segment"]
        for customer, segment, subscriptions in customers:
            for i, periods in enumerate(subscriptions):
                for start, end, amount, _ in periods:
                    lines.append(f"{customer},{customer}_{i},{amount / 100:.2f},usd,{start},{end},{segment}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = CliRunner().invoke(cli, ["import", "stripe", str(path), "--out", str(Path(folder) / "out")])
        movements = movements_from_spans(spans)
        if not movements:
            assert result.exit_code == 2, result.output
            return
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader((Path(folder) / "out" / "mrr.csv").open(encoding="utf-8")))
    cents = lambda text: round(float(text) * 100)  # noqa: E731
    levels: dict[str, int] = {}
    for row in rows:
        segment = row["segment"]
        month = int(row["month"][:4]) * 12 + int(row["month"][5:]) - 1
        previous = levels.get(segment, _level_at(spans, month_end(month - 1), segment_of, segment))
        net = sum(cents(row[k]) for k in ("new", "expansion", "reactivation")) - cents(row["contraction"]) \
            - cents(row["churn"])
        assert cents(row["mrr"]) == previous + net
        assert cents(row["mrr"]) == _level_at(spans, month_end(month), segment_of, segment)
        levels[segment] = cents(row["mrr"])
