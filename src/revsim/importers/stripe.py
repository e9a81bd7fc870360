"""Stripe: the subscriptions export and the invoice line items export -> cohorts.csv and mrr.csv.

Stripe's dashboard lets each user choose the columns of an export and names them its own way (``Customer ID``,
``Canceled At (UTC)``); API-based exports use the API's field names (``customer``, ``canceled_at``). Both are
read through :data:`SUBSCRIPTION_FIELDS` and :data:`INVOICE_LINE_FIELDS`, alias tables from header to API
field; a header close to a field's but not one is refused with a did-you-mean.

* **Invoice lines** (the better source): each line of a subscription bills ``amount`` for the service period
  ``period.start`` to ``period.end``; its MRR is the amount divided by the months of the period, from the
  period's start to its end. An annual invoice is spread over its twelve months, not booked on the invoice
  date. A customer's MRR ends with the end of its last paid period (churn is recognised at the end of the
  final service period). Proration lines, one-off invoice items and void or draft invoices are not recurring
  revenue: they are left out, with a note. A negative amount on any other line is refused.
* **Subscriptions** alone: each subscription pays ``amount x quantity`` per interval from its start (the end of
  its trial) to its end (``ended_at``; for a subscription cancelled at the end of its period,
  ``current_period_end``). The export holds each subscription's current price only, so upgrades and downgrades
  before it are invisible: a note says so. With invoice lines, the subscriptions export only gives segments.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from revsim.importers.billing import Currencies, Segments, contract_term_notes, interval_months, period_months
from revsim.importers.context import ScenarioNames
from revsim.importers.exports import ExportTable, Field, header_key
from revsim.importers.history_files import Imported
from revsim.importers.mapping import ImportMapping
from revsim.importers.movements import Span, movements_from_spans

__all__ = ["FILE_KINDS", "kind_of", "read_stripe", "SUBSCRIPTION_FIELDS", "INVOICE_LINE_FIELDS"]

FILE_KINDS = ("subscriptions", "invoices")

#: Header aliases of the subscriptions export: API field -> the dashboard's names.
SUBSCRIPTION_FIELDS = [
    Field("id", ("Subscription ID", "Subscription"), required=True),
    Field("customer", ("Customer ID", "Customer"), required=True),
    Field("status", ("Status",)),
    Field("plan.amount", ("Amount", "Plan Amount", "Price", "unit_amount", "price.unit_amount"), required=True),
    Field("plan.interval", ("Interval", "Plan Interval", "Billing Interval", "price.recurring.interval"),
          required=True),
    Field("plan.interval_count", ("Interval Count", "Plan Interval Count", "price.recurring.interval_count")),
    Field("quantity", ("Quantity",)),
    Field("currency", ("Currency", "Plan Currency")),
    Field("created", ("Created (UTC)", "Created", "Created Date (UTC)")),
    Field("start_date", ("Start (UTC)", "Start Date (UTC)", "Start Date", "Start")),
    Field("trial_start", ("Trial Start (UTC)", "Trial Start")),
    Field("trial_end", ("Trial End (UTC)", "Trial End")),
    Field("canceled_at", ("Canceled At (UTC)", "Canceled At", "Cancelled At (UTC)")),
    Field("cancel_at_period_end", ("Cancel At Period End",)),
    Field("ended_at", ("Ended At (UTC)", "Ended At", "Ended")),
    Field("current_period_start", ("Current Period Start (UTC)", "Current Period Start")),
    Field("current_period_end", ("Current Period End (UTC)", "Current Period End")),
    Field("plan.id", ("Plan", "Plan ID", "Price ID", "Price")),
    Field("segment", suggested=False),
]
#: Header aliases of the invoice line items export.
INVOICE_LINE_FIELDS = [
    Field("id", ("Line Item ID", "Invoice Line Item ID")),
    Field("invoice", ("Invoice ID", "Invoice")),
    Field("customer", ("Customer ID", "Customer"), required=True),
    Field("subscription", ("Subscription ID", "Subscription")),
    Field("amount", ("Amount", "Line Amount", "Line Item Amount"), required=True),
    Field("currency", ("Currency",)),
    Field("period.start", ("Period Start (UTC)", "Period Start", "Line Item Period Start (UTC)", "period_start",
                           "Service Period Start"), required=True),
    Field("period.end", ("Period End (UTC)", "Period End", "Line Item Period End (UTC)", "period_end",
                         "Service Period End"), required=True),
    Field("proration", ("Proration", "Is Proration")),
    Field("type", ("Type", "Line Type")),
    Field("invoice.status", ("Invoice Status", "Status")),
    Field("segment", suggested=False),
]


def kind_of(header: Sequence[str]) -> str | None:
    keys = {header_key(h) for h in header}
    line_keys = {k for f in INVOICE_LINE_FIELDS if f.name.startswith("period.") for k in f.keys}
    if keys & line_keys:
        return "invoices"
    sub_keys = {k for f in SUBSCRIPTION_FIELDS if f.name in ("plan.interval", "plan.amount") for k in f.keys}
    if keys & sub_keys:
        return "subscriptions"
    return None


def read_stripe(files: dict[str, list[str]], mapping: ImportMapping, names: ScenarioNames) -> Imported:
    """Read Stripe subscriptions and/or invoice line items exports into MRR movements."""
    imported = Imported("stripe")
    currencies = Currencies(mapping)
    segments = Segments(values=mapping.segments)
    intervals: dict[str | None, Counter] = {}
    spans: list[Span] = []
    last_day: dt.date | None = None
    cents = bool(mapping.amounts_in_cents)
    lines_given = bool(files.get("invoices"))
    for path in files.get("subscriptions", []):
        table = imported.read(path, "subscriptions", mapping, fields=SUBSCRIPTION_FIELDS,
                              what="Stripe subscriptions export")
        sub_spans, sub_last = _subscription_spans(table, currencies, cents, imported, segments, names, intervals)
        if not lines_given:
            spans += sub_spans
            last_day = max(filter(None, [last_day, sub_last]), default=None)
    for path in files.get("invoices", []):
        table = imported.read(path, "invoices", mapping, fields=INVOICE_LINE_FIELDS,
                              what="Stripe invoice line items export")
        line_spans, line_last = _line_spans(table, currencies, cents, imported, segments, names, intervals)
        spans += line_spans
        last_day = max(filter(None, [last_day, line_last]), default=None)
    if files.get("subscriptions") and lines_given:
        imported.notes.append("MRR is read from the invoice lines; the subscriptions export gives segments only")
    elif files.get("subscriptions"):
        imported.notes.append("a subscriptions export holds each subscription's current price only: upgrades and "
                              "downgrades before it do not show (give the invoice line items export as well)")
    imported.movements = movements_from_spans(spans)
    segments.check()
    imported.segment_of = segments.segment_of
    imported.last_day = last_day
    imported.notes += currencies.notes() + segments.notes() + contract_term_notes(intervals, names.contract_months)
    return imported


def _subscription_spans(table: ExportTable, currencies: Currencies, cents: bool, imported: Imported,
                        segments: Segments, names: ScenarioNames, intervals: dict[str | None, Counter]
                        ) -> tuple[list[Span], dt.date | None]:
    ids = table.required_text("id")
    customers = table.required_text("customer")
    statuses = [s.casefold() for s in table.text("status")]
    amounts = table.amounts("plan.amount", cents=cents)
    units = table.required_text("plan.interval")
    counts = table.numbers("plan.interval_count", default=1.0)
    quantities = table.numbers("quantity", default=1.0)
    created = table.dates("created")
    starts = table.dates("start_date")
    trial_ends = table.dates("trial_end")
    ended = table.dates("ended_at")
    period_ends = table.dates("current_period_end")
    current_starts = table.dates("current_period_start")
    canceled = table.dates("canceled_at")
    at_period_end = table.flags("cancel_at_period_end") if table.has("cancel_at_period_end") else [False] * len(table)
    labels = table.labels("segment", segments.values, names.segments, "segment")
    amounts = currencies.convert(table, "currency", amounts, table.text("currency"))
    months = []
    for unit, count, line in zip(units, counts, table.lines, strict=True):
        m = interval_months(unit, count) if unit else None
        if unit and m is None:
            table.problem(f"unknown billing interval '{unit}' (expected day, week, month or year)", "plan.interval",
                          line)
        months.append(m)
    for quantity, line in zip(quantities, table.lines, strict=True):
        if quantity is not None and quantity < 0:
            table.problem(f"negative quantity {quantity:g}", "quantity", line)
    table.raise_if_any()
    segments.add(table, customers, labels)
    spans: list[Span] = []
    skipped: Counter = Counter()
    last_day: dt.date | None = None
    for i, line in enumerate(table.lines):
        status = statuses[i]
        if status in ("incomplete", "incomplete_expired"):
            skipped["never paid (incomplete)"] += 1
            continue
        start = starts[i] or created[i]
        if start is None:
            table.problem("no start date (Start (UTC) or Created (UTC))", "start_date", line)
            continue
        paid_from = max(start, trial_ends[i]) if trial_ends[i] else start
        end = ended[i]
        if end is None and at_period_end[i] and canceled[i] is not None:
            end = period_ends[i]
        for day in (start, ended[i], canceled[i], current_starts[i]):  # what has happened (not future ends)
            if day is not None:
                last_day = max(last_day or day, day)
        if end is not None and end <= paid_from:
            skipped["ended before paying (a trial that did not convert)"] += 1
            continue
        mrr = int(round((amounts[i] or 0) * (quantities[i] or 0) / (months[i] or 1)))
        intervals.setdefault(segments.segment_of.get(customers[i]), Counter())[months[i]] += 1
        spans.append(Span(customers[i], paid_from, end, mrr, ids[i]))
    table.raise_if_any()
    for why, n in skipped.items():
        imported.notes.append(f"{table.file}: {n} subscriptions left out: {why}")
    return spans, last_day


def _line_spans(table: ExportTable, currencies: Currencies, cents: bool, imported: Imported, segments: Segments,
                names: ScenarioNames, intervals: dict[str | None, Counter]) -> tuple[list[Span], dt.date | None]:
    customers = table.required_text("customer")
    subscriptions = table.text("subscription")
    starts = table.dates("period.start", required=True)
    ends = table.dates("period.end", required=True)
    prorations = table.flags("proration") if table.has("proration") else [False] * len(table)
    types = [t.casefold() for t in table.text("type")]
    statuses = [s.casefold() for s in table.text("invoice.status")]
    amounts = table.amounts("amount", cents=cents, negative=True)
    labels = table.labels("segment", segments.values, names.segments, "segment")
    skipped: Counter = Counter()
    for i, line in enumerate(table.lines):
        if amounts[i] is not None and amounts[i] < 0 and not prorations[i]:  # type: ignore[operator]
            table.problem(f"negative amount {table.text('amount')[i]} on a line that is not a proration: credits and "
                          "refunds are not recurring revenue (remove the line, or export it with Proration = true)",
                          "amount", line)
        if starts[i] and ends[i] and ends[i] < starts[i]:  # type: ignore[operator]
            table.problem(f"the service period ends ({ends[i]}) before it starts ({starts[i]})", "period.end", line)
    amounts = currencies.convert(table, "currency", amounts, table.text("currency"))
    table.raise_if_any()
    segments.add(table, customers, labels)
    spans: list[Span] = []
    last_day: dt.date | None = None
    partial = 0
    for i in range(len(table)):
        start, end, amount = starts[i], ends[i], amounts[i]
        assert start is not None and end is not None and amount is not None
        last_day = max(last_day or start, start)  # the latest period billed (later ends are the future)
        if prorations[i]:
            skipped["proration lines (the change shows from the next full period)"] += 1
            continue
        if types[i] in ("invoiceitem", "one_time", "one-time") or (table.has("subscription") and not subscriptions[i]):
            skipped["one-off invoice items (not recurring)"] += 1
            continue
        if statuses[i] in ("void", "draft", "uncollectible"):
            skipped[f"lines of {statuses[i]} invoices"] += 1
            continue
        if end <= start:
            skipped["lines with an empty service period"] += 1
            continue
        if amount == 0:
            skipped["lines of 0 (free trials and free plans)"] += 1
            continue
        months, whole = period_months(start, end)
        partial += not whole
        intervals.setdefault(segments.segment_of.get(customers[i]), Counter())[months if whole else 0] += 1
        spans.append(Span(customers[i], start, end, int(round(amount / months)), subscriptions[i]))
    for why, n in skipped.items():
        imported.notes.append(f"{table.file}: {n} {why} left out")
    if partial:
        imported.notes.append(f"{table.file}: {partial} lines cover a period that is not a whole number of months; "
                              "their MRR is counted by days (30.4375 a month)")
    return spans, last_day
