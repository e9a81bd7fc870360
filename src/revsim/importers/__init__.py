"""``revsim import``: CRM and billing exports -> the history files of a calibration.

One module per source (:mod:`~revsim.importers.hubspot`, :mod:`~revsim.importers.salesforce`,
:mod:`~revsim.importers.stripe`, :mod:`~revsim.importers.chargebee`, :mod:`~revsim.importers.chartmogul`), each
with the kinds of file it reads and a reader returning an :class:`~revsim.importers.history_files.Imported`;
:mod:`~revsim.importers.movements` turns subscriptions into MRR movements (ChartMogul's definitions),
:mod:`~revsim.importers.mapping` reads the mapping file, :mod:`~revsim.importers.history_files` writes
``funnel.csv``, ``cohorts.csv`` and ``mrr.csv``. See ``docs/importing.md``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from revsim.errors import InputError, Problem, did_you_mean
from revsim.importers.context import ScenarioNames, scenario_names
from revsim.importers.history_files import Imported
from revsim.importers.mapping import check_targets, load_mapping

__all__ = ["SOURCES", "import_exports", "Imported"]

#: source -> (module, reader, what it reads)
SOURCES = {
    "hubspot": ("revsim.importers.hubspot", "read_hubspot", "contacts and deals exports -> funnel.csv"),
    "salesforce": ("revsim.importers.salesforce", "read_salesforce",
                   "Opportunity and OpportunityHistory exports -> funnel.csv"),
    "stripe": ("revsim.importers.stripe", "read_stripe",
               "subscriptions and invoice line items exports -> cohorts.csv, mrr.csv"),
    "chargebee": ("revsim.importers.chargebee", "read_chargebee",
                  "subscriptions export and monthly MRR summary -> cohorts.csv, mrr.csv"),
    "chartmogul": ("revsim.importers.chartmogul", "read_chartmogul", "MRR movements export -> mrr.csv, cohorts.csv"),
}


def import_exports(source: str, files: Sequence[str], *, mapping: str | None = None,
                   scenario: str | None = None) -> Imported:
    """Read a source's exports (each file's kind told by its columns) into stage entries and MRR movements.

    Parameters
    ----------
    source
        One of :data:`SOURCES`.
    files
        The export files, in any order.
    mapping
        A mapping file (YAML) renaming columns, stages, segments and channels.
    scenario
        A scenario whose stage, segment and channel names the exports must map onto.

    Raises
    ------
    InputError
        Naming the file, the line and the column of every problem.
    """
    from revsim.scenario.csv_source import read_csv_cells

    if source not in SOURCES:
        raise InputError.single(f"unknown source '{source}' (expected {', '.join(SOURCES)})", path=("SOURCE",),
                                suggestion=did_you_mean(source, list(SOURCES)))
    module = importlib.import_module(SOURCES[source][0])
    names: ScenarioNames = scenario_names(scenario)
    loaded = load_mapping(mapping, file_kinds=module.FILE_KINDS)
    check_targets(loaded, "stages", names.stages, "stage")
    check_targets(loaded, "segments", names.segments, "segment")
    check_targets(loaded, "channels", names.channels, "channel")
    by_kind: dict[str, list[str]] = {}
    for file in files:
        cells = read_csv_cells(file, what=f"{source} export")
        renamed = [loaded.renames("*").get(h, h) for h in cells.header]
        kind = module.kind_of(renamed)
        if kind is None:
            raise InputError([Problem(
                f"cannot tell which {source} export this is from its columns ('{', '.join(cells.header[:6])}"
                f"{', ...' if len(cells.header) > 6 else ''}'); expected {', or '.join(module.FILE_KINDS)} "
                f"({SOURCES[source][2]})", (), cells.header_line)], file=cells.file)
        by_kind.setdefault(kind, []).append(file)
    imported = getattr(module, SOURCES[source][1])(by_kind, loaded, names)
    return imported
