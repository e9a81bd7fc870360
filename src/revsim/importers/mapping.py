"""The mapping file of ``revsim import``: how a company's exports name its columns, stages and segments.

Every company customises its CRM: stages get renamed, a "Company size" property tells the segment, a deal
pipeline has stage ids such as ``1948273``. A mapping file (YAML) says what each means::

    columns:                        # header in the export -> field revsim reads (per file kind, or for all)
      contacts: {Company size: segment, Original Source: channel}
      deals: {Company size: segment, Original Source Type: channel}
    stages:                         # stage in the export (id or label) -> funnel stage, or null to skip it
      contacts: {lead: lead, marketingqualifiedlead: mql, salesqualifiedlead: sql, opportunity: null}
      deals: {created: opportunity, closedwon: won}
    segments: {1-49: smb, 50-499: mid_market}     # values of the segment column -> segment
    channels: {Organic Search: inbound, Referrals: referrals}
    ignore: [Close Date Old]        # headers never to be taken for a misspelt field
    currency: USD                   # the currency of the outputs
    rates: {EUR: 1.09}              # 1 EUR = 1.09 USD (amounts in other currencies are refused)
    amounts_in_cents: false         # whether amounts are written in cents (ChartMogul's are, by default)
    date_format: "%d/%m/%Y"         # dates that are not ISO (YYYY-MM-DD)

Every key is optional. The file is validated like a scenario: unknown keys with a suggestion, wrong types, a
stage or segment the scenario does not have, each with its field path (``stages.deals.closedwon``) and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from revsim.errors import InputError, Problem, did_you_mean

__all__ = ["ImportMapping", "load_mapping", "check_targets", "lookup", "TOP_KEYS"]

TOP_KEYS = ("columns", "stages", "segments", "channels", "ignore", "currency", "rates", "amounts_in_cents",
            "date_format")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass
class ImportMapping:
    """A validated mapping file (or the empty mapping when none is given).

    ``columns`` and ``stages`` are keyed by file kind (``contacts``, ``deals``...); the entry ``"*"`` applies
    to every file. ``locations`` keeps where each value sits, for messages.
    """

    file: str | None = None
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    stages: dict[str, dict[str, str | None]] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    ignore: list[str] = field(default_factory=list)
    currency: str | None = None
    rates: dict[str, float] = field(default_factory=dict)
    amounts_in_cents: bool | None = None
    date_format: str | None = None
    locations: dict[tuple[str | int, ...], tuple[int, int]] = field(default_factory=dict, repr=False)

    def renames(self, kind: str) -> dict[str, str]:
        """Header -> field for files of ``kind``."""
        return {**self.columns.get("*", {}), **self.columns.get(kind, {})}

    def stage_map(self, kind: str) -> dict[str, str | None] | None:
        """Source stage -> funnel stage for files of ``kind``, or None when the mapping says nothing."""
        if kind not in self.stages and "*" not in self.stages:
            return None
        return {**self.stages.get("*", {}), **self.stages.get(kind, {})}

    def where(self, *path: str | int) -> tuple[int | None, int | None]:
        return self.locations.get(tuple(path), (None, None))

    def error(self, message: str, path: Sequence[str | int], suggestion: str | None = None) -> InputError:
        line, column = self.where(*path)
        return InputError([Problem(message, tuple(path), line, column, suggestion)], file=self.file)



def load_mapping(path: str | os.PathLike[str] | None, *, file_kinds: Sequence[str]) -> ImportMapping:
    """Read and validate a mapping file; None gives the empty mapping.

    Parameters
    ----------
    path
        The YAML file.
    file_kinds
        The kinds of file of the source being imported (``contacts``, ``deals``): the keys ``columns:`` and
        ``stages:`` accept per kind.

    Raises
    ------
    InputError
        Every problem of the file at once, each with its field path and line.
    """
    if path is None:
        return ImportMapping()
    from revsim.scenario.yaml_source import read_yaml_file

    document = read_yaml_file(path)
    data = document.data
    mapping = ImportMapping(file=document.file, locations=document.locations)
    problems: list[Problem] = []

    def add(message: str, where: Sequence[str | int], suggestion: str | None = None) -> None:
        line, column = document.locate(where)
        problems.append(Problem(message, tuple(where), line, column, suggestion))

    if data is None:
        return mapping
    if not isinstance(data, dict):
        raise InputError.single(f"expected a mapping at the top level (keys {', '.join(TOP_KEYS)}), found "
                                f"{type(data).__name__}", file=document.file, line=1)
    for key, value in data.items():
        if key not in TOP_KEYS:
            add(f"unknown key '{key}' (expected {', '.join(TOP_KEYS)})", (key,), did_you_mean(str(key), TOP_KEYS))
            continue
        if key in ("columns", "stages"):
            parsed = _per_kind(value, key, file_kinds, add, allow_null=key == "stages")
            setattr(mapping, key, parsed)
        elif key in ("segments", "channels"):
            setattr(mapping, key, _names(value, (key,), add, allow_null=False))
        elif key == "ignore":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                add("expected a list of column names", (key,))
            else:
                mapping.ignore = list(value)
        elif key == "currency":
            if not isinstance(value, str) or not _CURRENCY.match(value):
                add(f"expected a three-letter currency code in capitals (USD, EUR), got {value!r}", (key,))
            else:
                mapping.currency = value
        elif key == "rates":
            if not isinstance(value, dict):
                add("expected a mapping of currency codes to rates (EUR: 1.09 means 1 EUR = 1.09 of the "
                    "output currency)", (key,))
                continue
            for code, rate in value.items():
                if not isinstance(code, str) or not _CURRENCY.match(code.upper()):
                    add(f"expected a three-letter currency code, got {code!r}", (key, code))
                elif isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
                    add(f"expected a rate > 0, got {rate!r}", (key, code))
                else:
                    mapping.rates[code.upper()] = float(rate)
        elif key == "amounts_in_cents":
            if not isinstance(value, bool):
                add(f"expected true or false, got {value!r}", (key,))
            else:
                mapping.amounts_in_cents = value
        elif key == "date_format":
            if not isinstance(value, str) or "%" not in value:
                add(f"expected a strptime format such as '%d/%m/%Y', got {value!r}", (key,))
            else:
                mapping.date_format = value
    if problems:
        raise InputError(problems, file=document.file)
    return mapping


def _per_kind(value: Any, key: str, file_kinds: Sequence[str], add: Any, *, allow_null: bool
              ) -> dict[str, dict[str, Any]]:
    """``{kind: {name: target}}`` or a flat ``{name: target}`` (kind ``*``)."""
    if not isinstance(value, dict):
        add(f"expected a mapping (name in the export: name in revsim), per file kind "
            f"({', '.join(file_kinds)}) or for every file", (key,))
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, target in value.items():
        if isinstance(target, dict):
            if name not in file_kinds:
                add(f"unknown file kind '{name}' (this source's files are {', '.join(file_kinds)})", (key, name),
                    did_you_mean(str(name), file_kinds))
                continue
            out[name] = _names(target, (key, name), add, allow_null=allow_null)
        else:
            out.setdefault("*", {}).update(_names({name: target}, (key,), add, allow_null=allow_null))
    return out


def _names(value: Any, where: tuple[str | int, ...], add: Any, *, allow_null: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        add("expected a mapping (name in the export: name in revsim)", where)
        return {}
    out: dict[str, Any] = {}
    for name, target in value.items():
        if target is None and allow_null:
            out[str(name)] = None
        elif isinstance(target, (str, int)) and not isinstance(target, bool) and str(target).strip():
            out[str(name)] = str(target).strip()
        else:
            add(f"expected a name{' or null (to leave it out)' if allow_null else ''}, got {target!r}",
                (*where, name))
    return out


def check_targets(mapping: ImportMapping, key: str, known: Sequence[str] | None, what: str) -> None:
    """Refuse a target of ``stages:``, ``segments:`` or ``channels:`` that the scenario does not have."""
    if known is None:
        return
    problems = []
    entries: list[tuple[tuple[str, ...], Any]] = []
    section = getattr(mapping, key)
    if key == "stages":
        for kind, names in section.items():
            for name, target in names.items():
                entries.append((((key,) if kind == "*" else (key, kind)) + (name,), target))
    else:
        entries = [((key, name), target) for name, target in section.items()]
    for path, target in entries:
        if target is not None and target not in known:
            line, column = mapping.where(*path)
            problems.append(Problem(f"unknown {what} '{target}' (the scenario's {what}s: {', '.join(known)})",
                                    path, line, column, did_you_mean(target, known)))
    if problems:
        raise InputError(problems, file=mapping.file)


def lookup(table: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """``(found, value)`` of ``name`` in ``table``, comparing names like :func:`same_name`."""
    from revsim.importers.exports import header_key

    key = header_key(name)
    for entry, value in table.items():
        if header_key(entry) == key:
            return True, value
    return False, None
