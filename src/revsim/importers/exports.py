"""Read one CRM or billing export: find its columns through an alias table, parse dates and amounts per cell.

Exports are read by revsim's one CSV reader (:func:`revsim.scenario.csv_source.read_csv_cells`: encodings,
separators, quoting), then each column is matched to a *field* (the system's API name, ``canceled_at``) through
the field's aliases (the dashboard's header, ``Canceled At (UTC)``). Header names are compared without case,
spaces or punctuation, so ``Customer ID``, ``customer_id`` and ``customer id`` are one name. A mapping file
(:mod:`revsim.importers.mapping`) can rename any column to a field.

Exports carry many columns revsim does not need (e-mails, names, taxes): those are ignored, and listed once in
a note. A column whose name is close to a field's alias but is not one (``Canceld At (UTC)``) is refused with
a suggestion, since it is most likely the field misspelt by a renamed header; a required field that no column
provides is refused with the closest header as suggestion.

Every problem with a cell names the file, the line and the column.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from revsim.errors import InputError, Problem, did_you_mean
from revsim.scenario.csv_source import CsvCells, parse_number, read_csv_cells

__all__ = ["Field", "ExportTable", "read_export", "header_key", "parse_date", "MAX_PROBLEMS"]

#: At most this many problems are listed in one error.
MAX_PROBLEMS = 10
#: How close (difflib's ratio) an unknown header must be to a field's name to be taken for it misspelt.
NEAR_MISS = 0.85

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
                       r"\s*(Z|UTC|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
_SLASH_ISO = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_EPOCH = re.compile(r"^\d{9,13}$")
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f", ""}


def header_key(name: str) -> str:
    """A header name compared without case, spaces or punctuation: ``Created (UTC)`` -> ``createdutc``."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


@dataclass(frozen=True)
class Field:
    """A field an importer reads from an export.

    Attributes
    ----------
    name
        The field's name in the system's API (``current_period_start``); also accepted as a header.
    aliases
        Other headers that hold the field (the dashboard export's ``Current Period Start (UTC)``).
    required
        Whether the export must have it.
    suggested
        Whether a header close to the field's names is taken for it misspelt (not for ``segment`` and
        ``channel``, which a mapping file names, and whose short names resemble many custom fields).
    """

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    suggested: bool = True

    @property
    def keys(self) -> set[str]:
        return {header_key(self.name), *(header_key(a) for a in self.aliases)}


@dataclass
class ExportTable:
    """An export with its columns matched to fields; cells are read on demand, problems collected.

    ``problems`` gathers every cell that cannot be read; :meth:`raise_if_any` raises them together.
    """

    file: str
    what: str
    cells: CsvCells
    columns: dict[str, int]  # field -> column index
    extra: dict[str, int] = field(default_factory=dict)  # other headers (as written) -> column index
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    date_format: str | None = None

    @property
    def lines(self) -> list[int]:
        return self.cells.lines

    def __len__(self) -> int:
        return len(self.cells.rows)

    def has(self, name: str) -> bool:
        return name in self.columns

    def header(self, name: str) -> str:
        """The header of the column that holds field ``name``, as written in the file."""
        return self.cells.header[self.columns[name]]

    def problem(self, message: str, name: str | None, line: int | None, suggestion: str | None = None) -> None:
        column = (self.header(name) if name in self.columns else name) if name else None
        self.problems.append(Problem(message, (column,) if column else (), line, None, suggestion))

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        problems = sorted(self.problems, key=lambda p: p.line or 0)
        if len(problems) > MAX_PROBLEMS:
            extra = len(problems) - MAX_PROBLEMS
            problems = [*problems[:MAX_PROBLEMS], Problem(f"... and {extra} more problem{'s' if extra > 1 else ''}")]
        raise InputError(problems, file=self.file)

    # ------------------------------------------------------------------------------------------- cells

    def text(self, name: str) -> list[str]:
        """The column's cells as text ('' for every row when the export has no such column)."""
        if name not in self.columns:
            return [""] * len(self)
        index = self.columns[name]
        return [row[index] for row in self.cells.rows]

    def required_text(self, name: str) -> list[str]:
        values = self.text(name)
        for value, line in zip(values, self.lines, strict=True):
            if value == "":
                self.problem("missing value", name, line)
        return values

    def dates(self, name: str, *, required: bool = False) -> list[dt.date | None]:
        """The column's cells as dates (None for a blank cell, or a problem when ``required``)."""
        out: list[dt.date | None] = []
        for text, line in zip(self.text(name), self.lines, strict=True):
            if text == "":
                if required:
                    self.problem("missing date", name, line)
                out.append(None)
                continue
            value, why = parse_date(text, self.date_format)
            if value is None:
                self.problem(why, name, line)
            out.append(value)
        return out

    def amounts(self, name: str, *, cents: bool = False, required: bool = True, negative: bool = False
                ) -> list[int | None]:
        """The column's cells as amounts in integer cents (``cents``: the cells are already in cents).

        A negative amount is a problem unless ``negative``; a blank cell is a problem when ``required``.
        """
        out: list[int | None] = []
        for text, line in zip(self.text(name), self.lines, strict=True):
            cleaned = text.replace("$", "").replace("€", "").replace("£", "").strip()
            if cleaned == "":
                if required:
                    self.problem("missing amount", name, line)
                out.append(None)
                continue
            value, style = parse_number(cleaned, decimal_comma=self.cells.decimal_comma)
            if value is None:
                shown = text if len(text) <= 40 else text[:37] + "..."
                self.problem(f"expected an amount, got '{shown}'"
                             + (" (a comma in a number of a comma-separated file is ambiguous)"
                                if style == "ambiguous" else ""), name, line)
                out.append(None)
                continue
            if value < 0 and not negative:
                self.problem(f"negative amount {text}: expected an amount >= 0", name, line)
                out.append(None)
                continue
            out.append(int(round(value)) if cents else int(round(value * 100)))
        return out

    def numbers(self, name: str, *, default: float | None = None) -> list[float | None]:
        """The column's cells as numbers (``default`` for a blank cell, or when the export has no column)."""
        out: list[float | None] = []
        for text, line in zip(self.text(name), self.lines, strict=True):
            if text == "":
                out.append(default)
                continue
            value, _ = parse_number(text, decimal_comma=self.cells.decimal_comma)
            if value is None:
                self.problem(f"expected a number, got '{text}'", name, line)
            out.append(value)
        return out

    def labels(self, name: str, values: Mapping[str, str], known: Sequence[str] | None, what: str
               ) -> list[str | None]:
        """The column's cells as segment or channel names: through the mapping file's ``values`` (``segments:``
        or ``channels:``), checked against the scenario's names ``known``. None for every row without a column.

        A value neither mapped nor known is a problem (with a suggestion); so is a blank cell.
        """
        if name not in self.columns:
            return [None] * len(self)
        by_key = {header_key(k): v for k, v in values.items()}
        known_by_key = {header_key(k): k for k in known or ()}
        out: list[str | None] = []
        for text, line in zip(self.text(name), self.lines, strict=True):
            key = header_key(text)
            if text == "":
                self.problem(f"missing {what}: every row needs one when the export has a {what} column", name, line)
                out.append(None)
            elif key in by_key:
                out.append(by_key[key])
            elif known is not None:
                if key in known_by_key:
                    out.append(known_by_key[key])
                else:
                    self.problem(f"unknown {what} '{text}' (the scenario's {what}s: {', '.join(known)}); map it in "
                                 f"the mapping file's {what}s:", name, line, did_you_mean(text, list(known)))
                    out.append(None)
            elif values:
                self.problem(f"'{text}' is not in the mapping file's {what}s: ({', '.join(values)})", name, line,
                             did_you_mean(text, list(values)))
                out.append(None)
            else:
                out.append(text)
        return out

    def flags(self, name: str) -> list[bool]:
        """The column's cells as booleans (``true``/``false``, ``yes``/``no``, ``1``/``0``; blank is false)."""
        out: list[bool] = []
        for text, line in zip(self.text(name), self.lines, strict=True):
            key = text.casefold()
            if key in _TRUE:
                out.append(True)
            elif key in _FALSE:
                out.append(False)
            else:
                self.problem(f"expected true or false, got '{text}'", name, line)
                out.append(False)
        return out


def read_export(path: str, *, fields: Sequence[Field], what: str, renames: Mapping[str, str] | None = None,
                ignore: Sequence[str] = (), date_format: str | None = None, cells: CsvCells | None = None,
                dynamic: Callable[[str], str | None] | None = None) -> ExportTable:
    """Read an export and match its columns to ``fields``.

    Parameters
    ----------
    path
        The file.
    fields
        The fields the importer reads; required ones must be present.
    what
        What the file holds, for messages (``"Stripe subscriptions export"``).
    renames
        Header (as written, any case) -> field name, from the mapping file; applied before the aliases.
    ignore
        Headers to ignore even when they look like a misspelt field.
    date_format
        A ``strptime`` format for dates that are not ISO (``%d/%m/%Y``).
    cells
        The file already read (when the importer read it to tell its kind).
    dynamic
        Header -> field name for families of columns recognised by their pattern (HubSpot's ``Became a ...
        Date``), or None.

    Raises
    ------
    InputError
        For a missing required field or a header that looks like a misspelt field, naming the file and line.
    """
    cells = cells or read_csv_cells(path, what=what)
    by_key: dict[str, str] = {}
    for f in fields:
        for key in f.keys:
            by_key.setdefault(key, f.name)
    suggestible = [key for key, name in by_key.items() if next(f for f in fields if f.name == name).suggested]
    renamed = {header_key(k): v for k, v in (renames or {}).items()}
    ignored = {header_key(name) for name in ignore}
    columns: dict[str, int] = {}
    extra: dict[str, int] = {}
    problems: list[Problem] = []
    near_misses: dict[str, str] = {}
    for index, header in enumerate(cells.header):
        key = header_key(header)
        name = renamed.get(key) or by_key.get(key) or (dynamic(header) if dynamic else None)
        if name and name in columns:
            problems.append(Problem(f"the columns '{cells.header[columns[name]]}' and '{header}' both hold the "
                                    f"field {name}: keep one (or rename one in the mapping file's columns:)",
                                    (header,), cells.header_line))
            continue
        if name:
            columns[name] = index
            continue
        extra[header] = index
        if key in ignored or not key:
            continue
        close = next(iter(difflib.get_close_matches(key, suggestible, n=1, cutoff=NEAR_MISS)), None)
        if close and by_key[close] not in {renamed.get(header_key(h)) or by_key.get(header_key(h))
                                           for h in cells.header}:
            near_misses[header] = close
    known_headers = {f.name: f for f in fields}
    for header, close in near_misses.items():
        target = known_headers[by_key[close]]
        alias = next((a for a in (target.name, *target.aliases) if header_key(a) == close), target.name)
        problems.append(Problem(
            f"unknown column '{header}' in the header of this {what}; it looks like the field {target.name} "
            "misspelt (rename it, or list it under ignore: in the mapping file)", (header,), cells.header_line,
            None, alias))
    for f in fields:
        if f.required and f.name not in columns:
            headers = ", ".join(f"'{h}'" for h in (f.aliases[:1] or (f.name,)))
            hint = did_you_mean(header_key(f.aliases[0] if f.aliases else f.name),
                                [header_key(h) for h in extra])
            suggestion = next((h for h in extra if header_key(h) == hint), None) if hint else None
            problems.append(Problem(
                f"missing column for the field {f.name} (a column named {headers} or '{f.name}', or one renamed "
                f"to {f.name} in the mapping file's columns:)", (), cells.header_line, None, suggestion))
    if problems:
        raise InputError(problems, file=cells.file)
    if not cells.rows:
        raise InputError.single(f"the file has a header line but no data: expected a {what}", file=cells.file,
                                line=cells.header_line)
    notes = list(cells.notes)
    unused = [h for h in extra if h]
    if unused:
        shown = ", ".join(unused[:8]) + (f" and {len(unused) - 8} more" if len(unused) > 8 else "")
        notes.append(f"columns not used: {shown}")
    return ExportTable(file=cells.file, what=what, cells=cells, columns=columns, extra=extra, notes=notes,
                       date_format=date_format)


def parse_date(text: str, date_format: str | None = None) -> tuple[dt.date | None, str]:
    """Read a date: ISO (``2024-03-15``, ``2024-03-15 10:22``, ``2024-03-15T10:22:00Z``), ``2024/03/15``,
    a Unix timestamp in seconds or milliseconds, or ``date_format``.

    Times are dropped: the date is the calendar day written (a timestamp's day in UTC). Returns
    ``(date, "")`` or ``(None, reason)``.
    """
    if date_format:
        try:
            return dt.datetime.strptime(text, date_format).date(), ""
        except ValueError:
            return None, f"'{text}' is not a date in the mapping file's date_format '{date_format}'"
    match = _ISO_DATE.match(text) or _SLASH_ISO.match(text)
    if match:
        try:
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3))), ""
        except ValueError:
            return None, f"'{text}' is not a valid date"
    if _EPOCH.match(text):
        seconds = int(text) / (1000 if len(text) > 11 else 1)
        return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).date(), ""
    if re.match(r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}", text):
        return None, (f"'{text}' is ambiguous (day/month or month/day?): export dates as YYYY-MM-DD, or set "
                      "date_format in the mapping file (date_format: '%d/%m/%Y')")
    return None, f"expected a date (YYYY-MM-DD), got '{text}'"
