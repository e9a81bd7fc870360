"""ChartMogul: the MRR movements export -> mrr.csv (and cohorts.csv).

ChartMogul's MRR Movements dataset has one row per movement: ``DATE``, ``CUSTOMER_UUID`` (or
``CUSTOMER_EXTERNAL_ID``), ``MRR_MOVEMENT`` (the change, in cents of the account's currency, negative for
losses) and ``MOVEMENT_TYPE`` (``new_biz``, ``expansion``, ``contraction``, ``churn``, ``reactivation``). The
movements are summed per month as ChartMogul classified them: mrr.csv comes "directly". The MRR at each
month's end is the running sum of every movement (right when the export starts with the account's first
movement, which a note reminds). Each customer's running MRR also gives its paying spells, hence cohorts.csv.

Amounts are in cents unless the mapping file says ``amounts_in_cents: false``. A movement whose sign
contradicts its type (a positive churn) is refused, as is an unknown type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from revsim.importers.billing import Segments
from revsim.importers.context import ScenarioNames
from revsim.importers.exports import Field, header_key
from revsim.importers.history_files import Imported
from revsim.importers.mapping import ImportMapping
from revsim.importers.movements import Movement

__all__ = ["FILE_KINDS", "kind_of", "read_chartmogul", "TYPES"]

FILE_KINDS = ("movements",)
#: ChartMogul's movement types -> mrr.csv's columns, and the sign each must have.
TYPES = {"new_biz": ("new", 1), "expansion": ("expansion", 1), "contraction": ("contraction", -1),
         "churn": ("churn", -1), "reactivation": ("reactivation", 1)}

FIELDS = [
    Field("DATE", ("Date",), required=True),
    Field("CUSTOMER_UUID", ("Customer UUID",)),
    Field("CUSTOMER_EXTERNAL_ID", ("Customer External ID",)),
    Field("MRR_MOVEMENT", ("MRR Movement", "Movement"), required=True),
    Field("MOVEMENT_TYPE", ("Movement Type", "Type"), required=True),
    Field("CURRENCY_CODE", ("Currency",)),
    Field("segment", suggested=False),
]


def kind_of(header: Sequence[str]) -> str | None:
    keys = {header_key(h) for h in header}
    return "movements" if "movementtype" in keys or "mrrmovement" in keys else None


def read_chartmogul(files: dict[str, list[str]], mapping: ImportMapping, names: ScenarioNames) -> Imported:
    """Read ChartMogul MRR movements exports."""
    imported = Imported("chartmogul")
    segments = Segments(values=mapping.segments)
    cents = True if mapping.amounts_in_cents is None else mapping.amounts_in_cents
    rows = []
    for path in files.get("movements", []):
        table = imported.read(path, "movements", mapping, fields=FIELDS,
                              what="ChartMogul MRR movements export")
        if table.has("CUSTOMER_UUID"):
            customers = table.required_text("CUSTOMER_UUID")
        elif table.has("CUSTOMER_EXTERNAL_ID"):
            customers = table.required_text("CUSTOMER_EXTERNAL_ID")
        else:
            table.problem("missing column for the customer (CUSTOMER_UUID or CUSTOMER_EXTERNAL_ID)", None,
                          table.cells.header_line)
            table.raise_if_any()
        days = table.dates("DATE", required=True)
        amounts = table.amounts("MRR_MOVEMENT", cents=cents, negative=True)
        kinds = table.required_text("MOVEMENT_TYPE")
        labels = table.labels("segment", segments.values, names.segments, "segment")
        for kind, amount, line in zip(kinds, amounts, table.lines, strict=True):
            key = kind.strip().casefold()
            if kind and key not in TYPES:
                from revsim.errors import did_you_mean

                table.problem(f"unknown movement type '{kind}' (expected {', '.join(TYPES)})", "MOVEMENT_TYPE", line,
                              did_you_mean(key, list(TYPES)))
            elif kind and amount is not None and amount * TYPES[key][1] < 0:
                table.problem(f"a {key} movement of {amount / 100:+.2f}: ChartMogul writes gains as positive and losses "
                              "(contraction, churn) as negative amounts", "MRR_MOVEMENT", line)
        table.raise_if_any()
        segments.add(table, customers, labels)
        currencies = {c.strip().upper() for c in table.text("CURRENCY_CODE") if c.strip()}
        if len(currencies) > 1:
            imported.notes.append(f"{table.file}: CURRENCY_CODE names the invoices' currencies "
                                  f"({', '.join(sorted(currencies))}); ChartMogul's movements are all in the "
                                  "account's currency, so they are summed as they are")
        rows += [(d, c, TYPES[k.strip().casefold()][0], abs(a), table.file, line)
                 for d, c, k, a, line in zip(days, customers, kinds, amounts, table.lines, strict=True)]
    rows.sort(key=lambda r: (r[0], r[1]))
    level: Counter = Counter()
    movements = []
    odd = 0
    for day, customer, kind, amount, _, _ in rows:
        sign = 1 if kind in ("new", "expansion", "reactivation") else -1
        before = level[customer]
        level[customer] += sign * amount
        after = level[customer]
        expected = {"new": before == 0, "reactivation": before == 0, "churn": after == 0,
                    "expansion": before > 0, "contraction": after > 0}[kind]
        odd += not expected or after < 0
        movements.append(Movement(day, customer, kind, amount, after))
    if odd:
        imported.cohorts = False
        imported.notes.append(f"{odd} movements do not follow from the customer's running MRR (a churn that leaves "
                              "MRR, an expansion from zero...): the export may not start with each customer's "
                              "first movement; cohorts.csv is not written")
    imported.movements = movements
    segments.check()
    imported.segment_of = segments.segment_of
    imported.last_day = max((r[0] for r in rows), default=None)
    imported.notes.append("the MRR at month end is the running sum of the movements: right when the export starts "
                          "with the account's first movement")
    imported.notes += segments.notes()
    return imported
