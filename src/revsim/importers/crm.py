"""Stage entries from CRM records: the part HubSpot and Salesforce share.

A CRM record (a contact, a deal, an opportunity) enters stages on known dates. :class:`FunnelBuilder` maps
each source stage to a funnel stage (through the mapping file's ``stages:``, or the source's defaults),
counts the entries per month, segment and channel, and refuses a funnel stage counted from two files (a
contact's "Became an Opportunity Date" and a deal's creation would count the same step twice).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from revsim.errors import InputError, Problem, did_you_mean
from revsim.importers.exports import ExportTable, header_key
from revsim.importers.mapping import ImportMapping
from revsim.importers.movements import month_of

__all__ = ["FunnelBuilder", "StageMap"]


@dataclass
class StageMap:
    """Source stage -> funnel stage (None: not counted) for one kind of file, and where it came from."""

    kind: str
    targets: dict[str, str | None]
    from_mapping: bool

    def target(self, *names: str) -> tuple[bool, str | None]:
        """The funnel stage of a source stage known by any of ``names`` (id, label): ``(found, stage)``."""
        keys = {header_key(n) for n in names if n}
        for source, target in self.targets.items():
            if header_key(source) in keys:
                return True, target
        return False, None


@dataclass
class FunnelBuilder:
    """Counts stage entries per month, stage, segment and channel across a source's files."""

    mapping: ImportMapping
    scenario_stages: list[str] | None
    funnel: Counter = field(default_factory=Counter)
    counted_by: dict[str, str] = field(default_factory=dict)  # funnel stage -> file that counts it
    order: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    with_segment: dict[str, bool] = field(default_factory=dict)  # file -> has a segment column
    with_channel: dict[str, bool] = field(default_factory=dict)

    def stage_map(self, kind: str, defaults: Mapping[str, str | None]) -> StageMap:
        """The stage map of files of ``kind``: the mapping file's when it has one, else ``defaults``."""
        given = self.mapping.stage_map(kind)
        if given is None:
            return StageMap(kind, dict(defaults), False)
        return StageMap(kind, given, True)

    def claim(self, table: ExportTable, stage: str, where: str) -> None:
        """Record that ``table`` counts entries into ``stage``; refuse a stage counted by two files."""
        other = self.counted_by.get(stage)
        if other is not None and other != table.file:
            raise InputError.single(
                f"the funnel stage '{stage}' is counted from this file ({where}) and from {other}: each stage must "
                "come from one file (map one of them to null in the mapping file's stages:)", file=table.file)
        self.counted_by[stage] = table.file
        if stage not in self.order:
            self.order.append(stage)

    def add(self, table: ExportTable, stage: str, day: dt.date, segment: str | None, channel: str | None) -> None:
        self.funnel[(month_of(day), stage, segment, channel)] += 1

    def columns(self, table: ExportTable, segments: Sequence[str] | None, channels: Sequence[str] | None
                ) -> tuple[list[str | None], list[str | None]]:
        """Each row's segment and channel (from columns renamed ``segment`` and ``channel``)."""
        self.with_segment[table.file] = table.has("segment")
        self.with_channel[table.file] = table.has("channel")
        return (table.labels("segment", self.mapping.segments, segments, "segment"),
                table.labels("channel", self.mapping.channels, channels, "channel"))

    def check_unknown_sources(self, table: ExportTable, stage_map: StageMap, seen: Sequence[str]) -> None:
        """Mapping entries that match no stage of the export: a misspelt one is refused, others noted."""
        if not stage_map.from_mapping:
            return
        seen_keys = {header_key(s) for s in seen}
        problems = []
        for source in stage_map.targets:
            if header_key(source) in seen_keys:
                continue
            close = did_you_mean(source, list(seen))
            path = ("stages", stage_map.kind, source) if stage_map.kind in self.mapping.stages else ("stages", source)
            if close:
                line, column = self.mapping.where(*path)
                problems.append(Problem(f"the stage '{source}' does not appear in {table.file}", path, line, column,
                                        close))
            elif stage_map.kind in self.mapping.stages:
                self.notes.append(f"{self.mapping.file}: stages.{stage_map.kind}.{source}: no such stage in "
                                  f"{table.file}")
        if problems:
            raise InputError(problems, file=self.mapping.file)

    def finish(self) -> tuple[Counter, list[str]]:
        """The counts and the stage order (the scenario's when given); refuse files that disagree on columns."""
        for flag, what in ((self.with_segment, "segment"), (self.with_channel, "channel")):
            counting = {f: has for f, has in flag.items() if f in self.counted_by.values()}
            if len(set(counting.values())) > 1:
                have = [f for f, has in counting.items() if has]
                lack = [f for f, has in counting.items() if not has]
                raise InputError.single(
                    f"{', '.join(have)} has a {what} column but this file has none: give every file the column (a "
                    f"column renamed to {what} in the mapping file's columns:), or none", file=lack[0])
        if self.scenario_stages is not None:
            order = [s for s in self.scenario_stages if s in self.order]
        else:
            order = list(self.order)
        return self.funnel, order


def check_stage_targets(stage_map: StageMap, scenario_stages: Sequence[str] | None, file: str) -> None:
    """Refuse a default stage map whose funnel stages the scenario does not have (suggest a mapping file)."""
    if scenario_stages is None or stage_map.from_mapping:
        return
    missing = sorted({t for t in stage_map.targets.values() if t is not None and t not in scenario_stages})
    if missing:
        raise InputError.single(
            f"the {stage_map.kind} stages map by default to the funnel stages {', '.join(missing)}, which the scenario "
            f"does not have (its stages: {', '.join(scenario_stages)}); say which stage each one is in a mapping "
            f"file (--mapping) under stages: {stage_map.kind}:", file=file)
