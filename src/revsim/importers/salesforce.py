"""Salesforce: Opportunity and OpportunityHistory -> the opportunity stages of funnel.csv.

An opportunity enters the pipeline on its ``CreatedDate`` (stage ``created``) and each stage on the
``CreatedDate`` of the first OpportunityHistory row with that ``StageName`` (OpportunityHistory holds one row
per change of stage, amount or close date: rows that repeat a stage are not new entries). A won opportunity
(``IsWon``) without a history row in a won stage enters it on its ``CloseDate``.

By default ``created`` is the funnel stage ``opportunity`` and ``Closed Won`` is ``won``; a mapping file's
``stages:`` counts other stages (``Qualification: sql``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from revsim.importers.context import ScenarioNames
from revsim.importers.crm import FunnelBuilder, check_stage_targets
from revsim.importers.exports import Field, header_key
from revsim.importers.history_files import Imported
from revsim.importers.mapping import ImportMapping

__all__ = ["FILE_KINDS", "kind_of", "read_salesforce"]

FILE_KINDS = ("opportunities", "history")
DEFAULT_STAGES: dict[str, str | None] = {"created": "opportunity", "Closed Won": "won"}

OPPORTUNITY_FIELDS = [
    Field("Id", ("Opportunity ID", "Opportunity Id", "Record ID"), required=True),
    Field("CreatedDate", ("Created Date",), required=True),
    Field("StageName", ("Stage", "Stage Name"), required=True),
    Field("CloseDate", ("Close Date",)),
    Field("IsWon", ("Won",)),
    Field("IsClosed", ("Closed",)),
    Field("Amount", ()),
    Field("segment", suggested=False), Field("channel", suggested=False),
]
HISTORY_FIELDS = [
    Field("OpportunityId", ("Opportunity ID", "Opportunity Id"), required=True),
    Field("CreatedDate", ("Created Date", "Last Modified"), required=True),
    Field("StageName", ("Stage", "Stage Name", "To Stage"), required=True),
    Field("Amount", ()),
    Field("CloseDate", ("Close Date",)),
]


def kind_of(header: Sequence[str]) -> str | None:
    keys = {header_key(h) for h in header}
    if "opportunityid" in keys:
        return "history"
    if "stagename" in keys or "stage" in keys:
        return "opportunities"
    return None


def read_salesforce(files: dict[str, list[str]], mapping: ImportMapping, names: ScenarioNames) -> Imported:
    """Read Salesforce Opportunity (and OpportunityHistory) exports into stage entries."""
    from revsim.errors import InputError

    if not files.get("opportunities"):
        raise InputError.single("a Salesforce import needs the Opportunity export (Id, CreatedDate, StageName...); "
                                "OpportunityHistory alone does not say when each opportunity was created",
                                path=("FILE",))
    builder = FunnelBuilder(mapping, names.stages)
    imported = Imported("salesforce")
    stage_map = builder.stage_map("opportunities", DEFAULT_STAGES)
    history_map = builder.stage_map("history", stage_map.targets)
    if history_map.from_mapping and not stage_map.from_mapping:
        stage_map = history_map

    opportunities = []
    for path in files["opportunities"]:
        table = imported.read(path, "opportunities", mapping, fields=OPPORTUNITY_FIELDS,
                              what="Salesforce Opportunity export")
        check_stage_targets(stage_map, names.stages, table.file)
        if not table.has("channel") and "leadsource" in {header_key(h) for h in table.extra}:
            imported.notes.append(f"{table.file}: the LeadSource column is not used; rename it to channel in the "
                                  "mapping file's columns: to split the funnel by channel")
        segments, channels = builder.columns(table, names.segments, names.channels)
        ids = table.required_text("Id")
        created = table.dates("CreatedDate", required=True)
        closed = table.dates("CloseDate")
        won = table.flags("IsWon") if table.has("IsWon") else \
            [header_key(s) == "closedwon" for s in table.text("StageName")]
        if table.has("Amount"):
            table.amounts("Amount", required=False)
        table.raise_if_any()
        opportunities.append((table, ids, created, closed, won, segments, channels))

    history: dict[str, list[tuple[dt.date, str, str, int]]] = {}  # id -> (day, stage, file, line)
    known_ids = {i for entry in opportunities for i in entry[1]}
    for path in files.get("history", []):
        table = imported.read(path, "history", mapping, fields=HISTORY_FIELDS,
                              what="Salesforce OpportunityHistory export")
        ids = table.required_text("OpportunityId")
        days = table.dates("CreatedDate", required=True)
        stages = table.required_text("StageName")
        if table.has("Amount"):
            table.amounts("Amount", required=False)
        table.raise_if_any()
        unknown = 0
        for opp, day, stage, line in zip(ids, days, stages, table.lines, strict=True):
            if opp not in known_ids:
                unknown += 1
                continue
            history.setdefault(opp, []).append((day, stage, table.file, line))  # type: ignore[arg-type]
        if unknown:
            imported.notes.append(f"{table.file}: {unknown} rows belong to opportunities not in the Opportunity "
                                  "export; left out")

    seen_stages = ["created"] + [s for entry in opportunities for s in entry[0].text("StageName")] + \
        [row[1] for rows in history.values() for row in rows]
    for table, *_ in opportunities:
        builder.check_unknown_sources(table, stage_map, list(dict.fromkeys(seen_stages)))
    won_target = stage_map.target("Closed Won", "closedwon")[1]
    created_target = stage_map.target("created")[1]
    not_counted: set[str] = set()
    for table, ids, created, closed, won, segments, channels in opportunities:
        if created_target:
            builder.claim(table, created_target, "CreatedDate")
        for target in dict.fromkeys(t for t in stage_map.targets.values() if t and t != created_target):
            builder.claim(table, target, "the stages of OpportunityHistory and CloseDate")
        for i, (opp, line) in enumerate(zip(ids, table.lines, strict=True)):
            start = created[i]
            entries: dict[str, dt.date] = {}
            if created_target:
                entries[created_target] = start  # type: ignore[assignment]
            for day, stage, file, hline in sorted(history.get(opp, []), key=lambda r: r[0]):
                if day < start:  # type: ignore[operator]
                    from revsim.errors import InputError

                    raise InputError.single(
                        f"opportunity {opp} moves backwards in time: it enters '{stage}' on {day}, before it was "
                        f"created on {start} (line {line} of {table.file})", file=file, path=("CreatedDate",),
                        line=hline)
                found, target = stage_map.target(stage)
                if target is None:
                    if not found:
                        not_counted.add(stage)
                    continue
                entries.setdefault(target, day)
            if won[i] and won_target and won_target not in entries:
                if closed[i] is None:
                    table.problem("a won opportunity without a CloseDate", "CloseDate", line)
                    continue
                if closed[i] < start:  # type: ignore[operator]
                    table.problem(f"opportunity {opp} moves backwards in time: it closed on {closed[i]}, before it "
                                  f"was created on {start}", "CloseDate", line)
                    continue
                entries[won_target] = closed[i]  # type: ignore[assignment]
            for target, day in entries.items():
                builder.add(table, target, day, segments[i], channels[i])
        table.raise_if_any()
    if not_counted:
        imported.notes.append("stages not counted (in no stage map): " + ", ".join(sorted(not_counted)))
    if not files.get("history"):
        imported.notes.append("no OpportunityHistory export: only the stages dated by the Opportunity export "
                              "(CreatedDate, and CloseDate for won ones) are counted")
    imported.funnel, imported.stages = builder.finish()
    imported.notes += builder.notes
    return imported
