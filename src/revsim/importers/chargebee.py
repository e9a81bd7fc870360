"""Chargebee: the subscriptions export and the monthly MRR summary -> cohorts.csv and mrr.csv.

* **Monthly MRR summary** (the ``subscription_mrr_monthly_summary`` table of Chargebee's data catalogue: one
  row per subscription and month with ``customer_id``, ``subscription_id``, ``reporting_month``, ``status``,
  ``mrr_billing_currency``, ``billing_currency_code``, ``exchange_rate``, ``reporting_currency_code``): a
  customer's MRR at each month end is the sum of its subscriptions' rows. It says what the MRR was at each
  month end, not when it changed: the movements are dated at the month end, and several changes of one
  customer within a month are one movement (a note says so). A subscription without a row in a month paid
  nothing that month. The MRR is converted to the reporting currency with the row's ``exchange_rate``
  (``mrr_reporting_currency`` when the export has it), else with the mapping file's ``rates:``.
* **Subscriptions export** (``subscriptions.id``, ``subscriptions.customer_id``, ``subscriptions.mrr`` or
  ``plan_unit_price x plan_quantity`` per ``billing_period`` ``billing_period_unit``, ``activated_at``,
  ``cancelled_at``...): each subscription pays its current MRR from its activation (the end of its trial) to
  its cancellation; like Stripe's, the export holds current prices only (a note says so). With the summary,
  it gives segments only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence

from revsim.importers.billing import Currencies, Segments, contract_term_notes, interval_months
from revsim.importers.context import ScenarioNames
from revsim.importers.exports import ExportTable, Field, header_key
from revsim.importers.history_files import Imported
from revsim.importers.mapping import ImportMapping
from revsim.importers.movements import Span, month_end, month_of, movements_from_levels, movements_from_spans

__all__ = ["FILE_KINDS", "kind_of", "read_chargebee"]

FILE_KINDS = ("subscriptions", "mrr_summary")


def _chargebee(name: str, *aliases: str, required: bool = False) -> Field:
    """A field of the subscriptions export, also accepted with its ``subscriptions.`` prefix."""
    return Field(name, (f"subscriptions.{name}", *aliases), required=required)


SUBSCRIPTION_FIELDS = [
    _chargebee("id", "Subscription Id", required=True),
    _chargebee("customer_id", "Customer Id", required=True),
    _chargebee("status", "Status"),
    _chargebee("mrr", "MRR"),
    _chargebee("plan_unit_price", "Plan Unit Price", "Plan Amount"),
    _chargebee("plan_quantity", "Plan Quantity", "Quantity"),
    _chargebee("billing_period", "Billing Period"),
    _chargebee("billing_period_unit", "Billing Period Unit"),
    _chargebee("currency_code", "Currency Code", "Currency"),
    _chargebee("created_at", "Created At"),
    _chargebee("started_at", "Started At"),
    _chargebee("activated_at", "Activated At"),
    _chargebee("trial_end", "Trial End"),
    _chargebee("cancelled_at", "Cancelled At"),
    Field("segment", suggested=False),
]
SUMMARY_FIELDS = [
    Field("customer_id", ("Customer Id",), required=True),
    Field("subscription_id", ("Subscription Id",), required=True),
    Field("reporting_month", ("Reporting Month",), required=True),
    Field("status", ("Status",)),
    Field("mrr_reporting_currency", ()),
    Field("mrr_billing_currency", ("MRR",)),
    Field("billing_currency_code", ("Currency",)),
    Field("reporting_currency_code", ()),
    Field("exchange_rate", ()),
    Field("segment", suggested=False),
]


def kind_of(header: Sequence[str]) -> str | None:
    keys = {header_key(h) for h in header}
    if "reportingmonth" in keys:
        return "mrr_summary"
    if keys & {"subscriptionsid", "subscriptionscustomerid", "subscriptionid"} or \
            ("customerid" in keys and keys & {"mrr", "subscriptionsmrr", "planunitprice"}):
        return "subscriptions"
    return None


def read_chargebee(files: dict[str, list[str]], mapping: ImportMapping, names: ScenarioNames) -> Imported:
    """Read Chargebee subscriptions and/or monthly MRR summary exports into MRR movements."""
    imported = Imported("chargebee")
    currencies = Currencies(mapping)
    segments = Segments(values=mapping.segments)
    intervals: dict[str | None, Counter] = {}
    cents = bool(mapping.amounts_in_cents)
    spans: list[Span] = []
    last_day: dt.date | None = None
    summary_given = bool(files.get("mrr_summary"))
    for path in files.get("subscriptions", []):
        table = imported.read(path, "subscriptions", mapping, fields=SUBSCRIPTION_FIELDS,
                              what="Chargebee subscriptions export")
        table_spans, table_last = _subscription_spans(table, currencies, cents, segments, names, intervals, imported)
        if not summary_given:
            spans += table_spans
            last_day = max(filter(None, [last_day, table_last]), default=None)
    levels: dict[str, list[tuple[dt.date, int]]] = {}
    for path in files.get("mrr_summary", []):
        table = imported.read(path, "mrr_summary", mapping, fields=SUMMARY_FIELDS,
                              what="Chargebee monthly MRR summary")
        table_levels, table_last = _summary_levels(table, currencies, cents, segments, names, imported)
        for customer, steps in table_levels.items():
            levels.setdefault(customer, []).extend(steps)
        last_day = max(filter(None, [last_day, table_last]), default=None)
    if summary_given:
        merged = {c: sorted(steps) for c, steps in levels.items()}
        imported.movements = movements_from_levels(merged)
        imported.notes.append("the monthly MRR summary gives each month-end MRR: movements are dated at month "
                              "ends, and several changes of one customer within a month count as one")
        if files.get("subscriptions"):
            imported.notes.append("MRR is read from the monthly MRR summary; the subscriptions export gives "
                                  "segments only")
    else:
        imported.movements = movements_from_spans(spans)
        imported.notes.append("a subscriptions export holds each subscription's current MRR only: upgrades and "
                              "downgrades before it do not show (give the monthly MRR summary as well)")
    segments.check()
    imported.segment_of = segments.segment_of
    imported.last_day = last_day
    imported.notes += currencies.notes() + segments.notes() + contract_term_notes(intervals, names.contract_months)
    return imported


def _subscription_spans(table: ExportTable, currencies: Currencies, cents: bool, segments: Segments,
                        names: ScenarioNames, intervals: dict[str | None, Counter], imported: Imported
                        ) -> tuple[list[Span], dt.date | None]:
    ids = table.required_text("id")
    customers = table.required_text("customer_id")
    statuses = [s.casefold() for s in table.text("status")]
    if table.has("mrr"):
        mrr = table.amounts("mrr", cents=cents)
        months: list[float | None] = [None] * len(table)
    elif table.has("plan_unit_price") and table.has("billing_period_unit"):
        prices = table.amounts("plan_unit_price", cents=cents)
        quantities = table.numbers("plan_quantity", default=1.0)
        periods = table.numbers("billing_period", default=1.0)
        months = []
        mrr = []
        for price, quantity, period, unit, line in zip(prices, quantities, periods, table.text("billing_period_unit"),
                                                       table.lines, strict=True):
            m = interval_months(unit, period)
            if m is None:
                table.problem(f"unknown billing period unit '{unit}' (expected week, month or year)",
                              "billing_period_unit", line)
            months.append(m)
            mrr.append(None if price is None or m is None else int(round(price * (quantity or 0) / m)))
    else:
        table.problem("no MRR: the export needs subscriptions.mrr, or plan_unit_price with billing_period_unit",
                      None, table.cells.header_line)
        table.raise_if_any()
        return [], None
    starts = [a or s or c for a, s, c in zip(table.dates("activated_at"), table.dates("started_at"),
                                              table.dates("created_at"), strict=True)]
    trial_ends = table.dates("trial_end")
    cancelled = table.dates("cancelled_at")
    labels = table.labels("segment", segments.values, names.segments, "segment")
    mrr = currencies.convert(table, "currency_code", mrr, table.text("currency_code"))
    table.raise_if_any()
    segments.add(table, customers, labels)
    spans = []
    last_day = None
    skipped = Counter()
    for i, line in enumerate(table.lines):
        start = starts[i]
        if start is None:
            table.problem("no start date (activated_at, started_at or created_at)", "activated_at", line)
            continue
        if statuses[i] in ("future", "in_trial") and not cancelled[i]:
            skipped[f"subscriptions {statuses[i]} (not paying yet)"] += 1
            continue
        paid_from = max(start, trial_ends[i]) if trial_ends[i] else start
        end = cancelled[i]
        for day in (start, end):
            if day is not None:
                last_day = max(last_day or day, day)
        if end is not None and end <= paid_from:
            skipped["subscriptions cancelled before paying (trials that did not convert)"] += 1
            continue
        intervals.setdefault(segments.segment_of.get(customers[i]), Counter())[months[i]] += 1
        spans.append(Span(customers[i], paid_from, end, mrr[i] or 0, ids[i]))
    table.raise_if_any()
    for why, n in skipped.items():
        imported.notes.append(f"{table.file}: {n} {why} left out")
    return spans, last_day


def _summary_levels(table: ExportTable, currencies: Currencies, cents: bool, segments: Segments,
                    names: ScenarioNames, imported: Imported) -> tuple[dict[str, list[tuple[dt.date, int]]], dt.date]:
    customers = table.required_text("customer_id")
    subscriptions = table.required_text("subscription_id")
    months = table.dates("reporting_month", required=True)
    statuses = [s.casefold() for s in table.text("status")]
    if table.has("mrr_reporting_currency"):
        mrr = table.amounts("mrr_reporting_currency", cents=cents)
        mrr = currencies.convert(table, "reporting_currency_code", mrr, table.text("reporting_currency_code"))
    elif table.has("mrr_billing_currency"):
        mrr = table.amounts("mrr_billing_currency", cents=cents)
        if table.has("exchange_rate"):
            rates = table.numbers("exchange_rate", default=1.0)
            mrr = [None if m is None else int(round(m * (r or 1.0))) for m, r in zip(mrr, rates, strict=True)]
            codes = table.text("reporting_currency_code") if table.has("reporting_currency_code") else \
                table.text("billing_currency_code")
        else:
            codes = table.text("billing_currency_code")
        mrr = currencies.convert(table, "billing_currency_code", mrr, codes)
    else:
        table.problem("no MRR column (mrr_billing_currency or mrr_reporting_currency)", None, table.cells.header_line)
        mrr = []
    labels = table.labels("segment", segments.values, names.segments, "segment")
    table.raise_if_any()
    segments.add(table, customers, labels)
    by_customer: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    seen: dict[tuple[str, int], int] = {}
    trials = 0
    for i, line in enumerate(table.lines):
        t = month_of(months[i])  # type: ignore[arg-type]
        key = (subscriptions[i], t)
        if key in seen:
            table.problem(f"duplicate row: subscription {subscriptions[i]} in {months[i]:%Y-%m} is also on line "
                          f"{seen[key]}", "reporting_month", line)
            continue
        seen[key] = line
        if statuses[i] in ("in_trial", "future"):
            trials += mrr[i] == 0 or mrr[i] is None
            continue
        by_customer[customers[i]][t] += mrr[i] or 0
    table.raise_if_any()
    if trials:
        imported.notes.append(f"{table.file}: {trials} rows of subscriptions in trial (no MRR) left out")
    last = max(months)  # type: ignore[type-var]
    levels: dict[str, list[tuple[dt.date, int]]] = {}
    for customer, by_month in by_customer.items():
        first = min(by_month)
        steps = []
        for t in range(first, month_of(last) + 2):  # the month after a customer's last row: 0
            if t > month_of(last):
                break
            steps.append((month_end(t), by_month.get(t, 0)))
        levels[customer] = steps
    return levels, last  # type: ignore[return-value]
