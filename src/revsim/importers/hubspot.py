"""HubSpot: the contacts export (lifecycle stage dates) and the deals export (deal stage dates) -> funnel.csv.

Contacts: each "Became a <stage> Date" column (internal name ``hs_lifecyclestage_<stage>_date``; a custom
lifecycle stage's ``Date entered "<stage> (Lifecycle Stage Pipeline)"`` / ``hs_v2_date_entered_<id>``) is the
day the contact entered that stage. Deals: the "Date entered "<stage> (<pipeline>)"" columns (internal name
``hs_date_entered_<stage id>``), the Create Date (the deal's entry into the pipeline, stage ``created``) and,
for a won deal without a date-entered column, its Close Date.

By default the lifecycle stages lead, marketingqualifiedlead, salesqualifiedlead, opportunity and customer are
the funnel stages lead, mql, sql, opportunity and won (subscriber, evangelist and other are not counted). The
deals count the stages ``created`` -> opportunity and ``closedwon`` -> won only when no contacts export is
given (with one, the contacts' lifecycle already counts those steps); a mapping file's ``stages:`` says
otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from revsim.errors import InputError
from revsim.importers.context import ScenarioNames
from revsim.importers.crm import FunnelBuilder, StageMap, check_stage_targets
from revsim.importers.exports import Field, header_key
from revsim.importers.history_files import Imported
from revsim.importers.mapping import ImportMapping

__all__ = ["FILE_KINDS", "kind_of", "read_hubspot"]

FILE_KINDS = ("contacts", "deals")

#: HubSpot's default lifecycle stages: internal name -> label.
LIFECYCLE_STAGES = {
    "subscriber": "Subscriber", "lead": "Lead", "marketingqualifiedlead": "Marketing Qualified Lead",
    "salesqualifiedlead": "Sales Qualified Lead", "opportunity": "Opportunity", "customer": "Customer",
    "evangelist": "Evangelist", "other": "Other",
}
#: HubSpot's default sales pipeline: stage id -> label.
DEAL_STAGES = {
    "appointmentscheduled": "Appointment Scheduled", "qualifiedtobuy": "Qualified To Buy",
    "presentationscheduled": "Presentation Scheduled", "decisionmakerboughtin": "Decision Maker Bought-In",
    "contractsent": "Contract Sent", "closedwon": "Closed Won", "closedlost": "Closed Lost",
}
DEFAULT_CONTACT_STAGES: dict[str, str | None] = {
    "lead": "lead", "marketingqualifiedlead": "mql", "salesqualifiedlead": "sql", "opportunity": "opportunity",
    "customer": "won", "subscriber": None, "evangelist": None, "other": None,
}
DEFAULT_DEAL_STAGES: dict[str, str | None] = {"created": "opportunity", "closedwon": "won"}

CONTACT_FIELDS = [
    Field("hs_object_id", ("Record ID", "Contact ID", "vid")),
    Field("lifecyclestage", ("Lifecycle Stage",)),
    Field("createdate", ("Create Date",)),
    Field("segment", suggested=False), Field("channel", suggested=False),
]
DEAL_FIELDS = [
    Field("hs_object_id", ("Record ID", "Deal ID")),
    Field("dealstage", ("Deal Stage",), required=True),
    Field("pipeline", ("Pipeline",)),
    Field("amount", ("Amount",)),
    Field("closedate", ("Close Date",)),
    Field("createdate", ("Create Date",), required=True),
    Field("segment", suggested=False), Field("channel", suggested=False),
]

_BECAME = re.compile(r"^became an? (.+?) date$", re.IGNORECASE)
_LIFECYCLE_DATE = re.compile(r"^hs_lifecyclestage_(.+)_date$", re.IGNORECASE)
_DATE_ENTERED = re.compile(r"^date entered [\"'“]?(.+?)(?: \([^()]*\))?[\"'”]?$", re.IGNORECASE)
_ENTERED_ID = re.compile(r"^hs(?:_v2)?_date_entered_(.+)$", re.IGNORECASE)


def kind_of(header: Sequence[str]) -> str | None:
    """``contacts`` or ``deals`` from an export's header, or None."""
    keys = {header_key(h) for h in header}
    if keys & {"dealstage"}:
        return "deals"
    if keys & {"lifecyclestage"} or any(_BECAME.match(h) or _LIFECYCLE_DATE.match(h) for h in header):
        return "contacts"
    return None


def _stage_column(header: str, labels: dict[str, str]) -> str | None:
    """``stage:<id or label>`` for a stage-date column, else None."""
    by_label = {header_key(label): stage for stage, label in labels.items()}
    for pattern in (_BECAME, _DATE_ENTERED):
        match = pattern.match(header.strip())
        if match:
            label = match.group(1).strip()
            return "stage:" + by_label.get(header_key(label), label)
    for pattern in (_LIFECYCLE_DATE, _ENTERED_ID):
        match = pattern.match(header.strip())
        if match:
            return "stage:" + match.group(1)
    return None


def read_hubspot(files: dict[str, list[str]], mapping: ImportMapping, names: ScenarioNames) -> Imported:
    """Read HubSpot contacts and deals exports (``files`` by kind) into stage entries."""
    builder = FunnelBuilder(mapping, names.stages)
    imported = Imported("hubspot")
    for path in files.get("contacts", []):
        stage_map = builder.stage_map("contacts", DEFAULT_CONTACT_STAGES)
        _read_records(path, "contacts", stage_map, builder, names, imported)
    for path in files.get("deals", []):
        defaults = {} if files.get("contacts") else DEFAULT_DEAL_STAGES
        stage_map = builder.stage_map("deals", defaults)
        if not stage_map.targets:
            imported.notes.append(f"{path}: no deal stage is counted: the contacts' lifecycle stages give the funnel "
                                  "(map deal stages in the mapping file's stages: deals: to count them instead)")
            continue
        _read_records(path, "deals", stage_map, builder, names, imported)
    imported.funnel, imported.stages = builder.finish()
    imported.notes += builder.notes
    return imported


def _read_records(path: str, kind: str, stage_map: StageMap, builder: FunnelBuilder, names: ScenarioNames,
                  imported: Imported) -> None:
    labels = LIFECYCLE_STAGES if kind == "contacts" else DEAL_STAGES
    table = imported.read(path, kind, builder.mapping, fields=CONTACT_FIELDS if kind == "contacts" else DEAL_FIELDS,
                          what=f"HubSpot {kind} export", dynamic=lambda h: _stage_column(h, labels))
    stage_columns = [name for name in table.columns if name.startswith("stage:")]
    if kind == "contacts" and not stage_columns:
        raise InputError.single("no lifecycle stage date column (\"Became a Lead Date\"..., or "
                                "hs_lifecyclestage_<stage>_date): export the contacts with those properties",
                                file=table.file, line=table.cells.header_line)
    check_stage_targets(stage_map, names.stages, table.file)
    segments, channels = builder.columns(table, names.segments, names.channels)

    # which source stage each column is, and the funnel stage it counts
    counted: list[tuple[str, str]] = []  # (field, funnel stage)
    seen_sources: list[str] = []
    for name in stage_columns:
        source = name[len("stage:"):]
        seen_sources += [source, labels.get(source, source)]
        found, target = stage_map.target(source, labels.get(source, ""))
        if target is not None:
            counted.append((name, target))
        elif not found:
            imported.notes.append(f"{table.file}: the stage '{labels.get(source, source)}' is not counted (it is "
                                  "in no stage map; add it to the mapping file's stages: to count it)")
    extra_won: str | None = None
    if kind == "deals":
        seen_sources.append("created")
        found, target = stage_map.target("created")
        if target is not None:
            counted.insert(0, ("createdate", target))
        won_found, won_target = stage_map.target("closedwon", "Closed Won")
        if won_target is not None and not any(t == won_target for _, t in counted):
            extra_won = won_target  # dated by the Close Date of deals whose stage is closed won
        seen_sources += list(dict.fromkeys(table.text("dealstage")))
    builder.check_unknown_sources(table, stage_map, seen_sources)
    for name, target in counted:
        builder.claim(table, target, f"column '{table.header(name)}'")
    if extra_won:
        builder.claim(table, extra_won, "Close Date of won deals")
        imported.notes.append(f"{table.file}: no \"Date entered\" column for Closed Won: a won deal enters "
                              f"{extra_won} on its Close Date")

    dates = {name: table.dates(name) for name, _ in counted}
    created = table.dates("createdate") if table.has("createdate") else None
    closed = table.dates("closedate") if extra_won else None
    won_rows = [header_key(s) in ("closedwon",) for s in table.text("dealstage")] if kind == "deals" else None
    if kind == "deals" and table.has("amount"):
        table.amounts("amount", required=False)
    table.raise_if_any()

    order = [t for _, t in counted] + ([extra_won] if extra_won else [])
    skipped = 0
    for i, line in enumerate(table.lines):
        entries: list[tuple[str, object]] = []
        for name, target in counted:
            day = dates[name][i]
            if day is not None:
                entries.append((target, day))
        if extra_won and won_rows and won_rows[i] and closed and closed[i] is not None:
            entries.append((extra_won, closed[i]))
        if kind == "deals" and created is not None and created[i] is not None:
            for target, day in entries:
                if day < created[i]:  # type: ignore[operator]
                    column = next((table.header(n) for n, t in counted if t == target and n != "createdate"),
                                  table.header("closedate") if table.has("closedate") else "")
                    table.problem(f"the deal moves backwards in time: it enters {target} on {day} but was created "
                                  f"on {created[i]}", column or None, line)
        entered = {target for target, _ in entries}
        if entered and any(stage not in entered for stage in order[: max(order.index(s) for s in entered)]):
            skipped += 1
        for target, day in entries:
            builder.add(table, target, day, segments[i], channels[i])  # type: ignore[arg-type]
    table.raise_if_any()
    if skipped:
        imported.notes.append(f"{table.file}: {skipped} records entered a stage without a date for an earlier one "
                              "(counted where their dates say; funnel.csv's channel column tells entries from "
                              "conversions)")
