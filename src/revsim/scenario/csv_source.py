"""Read the CSV files finance exports (CRMs, spreadsheets), with all their mess, or refuse them clearly.

One reader for every CSV revsim reads: empirical samples named in a scenario and the history files of a
calibration. :func:`read_csv_table` reads a table with known columns; :func:`read_csv_cells` is the layer
under it, for files whose columns are not known in advance.

What is accepted, and said in a note (:attr:`CsvTable.notes`):

* UTF-8 with a byte order mark (Excel's "CSV UTF-8"), UTF-16 with a byte order mark (Excel's "Unicode
  text");
* Windows-1252 / Latin-1 text, when every character outside ASCII reads as a letter or a common symbol
  (``é``, ``€``, ``£``...); anything else that is not UTF-8 is refused with the offending byte's offset;
* columns separated by semicolons or tabs (detected from the header line) or announced by Excel's
  ``sep=;`` first line;
* decimal commas (``1,5`` for 1.5) in files whose columns are separated by semicolons or tabs, and the
  unambiguous thousands separators ``1.234,5`` (there) and ``1,234.5`` (anywhere).

What is accepted silently: spaces around cells and column names, column names in another case
(``Month``), empty lines and lines of empty cells, and a trailing separator on every line.

What is refused, each problem with the file, the line and the column: a missing file, a directory, a file
over the size limit, an empty file, a binary file, text in an unknown encoding, a header that mixes
separators, unknown columns (with a suggestion), missing or duplicate columns, lines with more cells than
the header, missing values, values that are not finite numbers in numeric columns, and a decimal comma in a
comma-separated file (``"1,5"`` could be 1.5 or 15).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "funnel.csv").write_text("month;stage;count\\n2027-01;lead;12,5\\n", encoding="utf-8")
>>> table = read_csv_table(folder / "funnel.csv", required=["month", "stage", "count"], numeric=["count"],
...                        what="funnel history")
>>> table.frame["count"].tolist(), table.line_of_row
([12.5], [2])
>>> table.notes[0]
'columns are separated by semicolons'
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from revsim.errors import InputError, Problem, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "CsvTable",
    "CsvCells",
    "read_csv_table",
    "read_csv_cells",
    "parse_number",
    "numeric_column",
    "DEFAULT_MAX_BYTES",
    "MAX_REPORTED_PROBLEMS",
]

#: Largest CSV file read by default.
DEFAULT_MAX_BYTES = 50_000_000
#: At most this many problems are listed in one error (the rest are counted).
MAX_REPORTED_PROBLEMS = 10

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs"}
#: Characters outside ASCII that Windows-1252 text plausibly holds besides letters.
_LEGACY_SYMBOLS = set("€£¥¢§°µ±×÷·–—‘’‚“”„…«»¿¡ªº¹²³¼½¾ \u00a0®©™")

_PLAIN = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_GROUPED_DECIMAL_COMMA = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")  # 1.234,5 / 1.234.567
_GROUPED_POINT = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+\.\d+$")  # 1,234.5
_COMMA_ANYWHERE = re.compile(r"^[+-]?[\d.,]*,[\d.,]*$")
_SEP_DIRECTIVE = re.compile(r"^\s*sep=(.)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class CsvTable:
    """A CSV file read as a table.

    Attributes
    ----------
    frame
        One row per data line, one column per column found in the file (required ones always, optional ones
        when present), named as in ``required`` and ``optional``; numeric columns are float64, the others
        text with surrounding spaces removed.
    file
        The file name as given, for messages.
    notes
        What was accepted that a careful reader should know about (a byte order mark, a legacy encoding,
        semicolon separators, decimal commas), one sentence each.
    line_of_row
        The line of the file each row of ``frame`` comes from (1-based), for messages about a row.
    """

    frame: pd.DataFrame
    file: str
    notes: list[str] = field(default_factory=list)
    line_of_row: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class CsvCells:
    """A CSV file as cells of text, before any column is interpreted.

    ``header`` is the first non-empty line's cells and ``rows`` the following non-empty lines' cells (each
    as long as the header), all stripped of surrounding spaces; ``lines`` holds the line each row starts on
    and ``header_line`` the header's.
    """

    file: str
    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    header_line: int
    separator: str
    notes: list[str] = field(default_factory=list)

    @property
    def decimal_comma(self) -> bool:
        """Whether a comma in a number can be a decimal comma (not when commas separate the columns)."""
        return self.separator != ","


def read_csv_table(
    path: str | os.PathLike[str],
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    numeric: Sequence[str] = (),
    what: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    blank: Sequence[str] = (),
) -> CsvTable:
    """Read a CSV file whose columns are known, checking every cell of the numeric ones.

    Parameters
    ----------
    path
        The file; named in messages as given.
    required
        Columns the file must have (matched ignoring case and surrounding spaces).
    optional
        Columns the file may have. Any other column is an error, with a suggestion for a misspelt one.
    numeric
        Columns (among ``required`` and ``optional``) whose every cell must be a finite number.
    blank
        Numeric columns whose cells may also be empty (read as NaN: a value not known on that line).
    what
        What the file holds, for messages: ``"funnel history"``, ``"empirical samples"``.
    max_bytes
        Larger files are refused without being read.

    Returns
    -------
    CsvTable

    Raises
    ------
    InputError
        Naming the file and, for each problem (at most :data:`MAX_REPORTED_PROBLEMS` are listed), the line
        and the column.
    """
    cells = read_csv_cells(path, what=what, max_bytes=max_bytes)
    file = cells.file
    wanted = [*required, *optional]
    by_key = {_key(name): name for name in wanted}

    problems: list[Problem] = []
    names = [by_key.get(_key(name), name) for name in cells.header]
    missing = [name for name in required if name not in names]
    if missing and not set(names) & set(wanted):
        # No column is recognised: the first line is probably data, or the file is another kind of table.
        raise InputError.single(
            f"the first line must name the columns ({_expected_columns(required, optional)}), but it reads "
            f"'{cells.separator.join(cells.header)}'; is this a CSV file of {what}?",
            file=file, line=cells.header_line)
    for position, name in enumerate(cells.header):
        if by_key.get(_key(name)) is not None:
            continue
        hint = did_you_mean(_key(name), list(by_key)) if name else None
        suggestion = by_key[hint] if hint else None
        label = f"unknown column '{name}'" if name else f"column {position + 1} has no name"
        message = f"{label} in the header (expected {_expected_columns(required, optional)})"
        problems.append(Problem(message, (), cells.header_line, None, suggestion))
    if missing:
        plural = "s" if len(missing) > 1 else ""
        message = (f"missing column{plural} {', '.join(repr(m) for m in missing)}: the first line must name the "
                   f"columns ({_expected_columns(required, optional)}); it reads '{cells.separator.join(cells.header)}'")
        problems.append(Problem(message, (), cells.header_line))
    if problems:
        raise InputError(problems, file=file)
    if not cells.rows:
        raise InputError.single(f"the file has a header line but no data: expected {what}", file=file,
                                line=cells.header_line)

    import numpy as np
    import pandas as pd

    notes = list(cells.notes)
    columns: dict[str, object] = {}
    numeric_set = set(numeric)
    required_set = set(required)
    for index, name in enumerate(names):
        texts = [row[index] for row in cells.rows]
        if name in numeric_set:
            may_be_blank = name in set(blank)
            values, value_lines, column_problems, note = numeric_column(cells, index, skip_blank=may_be_blank)
            problems += [Problem(p.message, (name,), p.line) for p in column_problems]
            if note and note not in notes:
                notes.append(note)
            if not column_problems:
                if may_be_blank:
                    row_of_line = {line: row for row, line in enumerate(cells.lines)}
                    full = np.full(len(cells.rows), np.nan)
                    full[[row_of_line[line] for line in value_lines]] = values
                    columns[name] = full
                else:
                    columns[name] = np.asarray(values, dtype=np.float64)
        else:
            if name in required_set:
                for text, line in zip(texts, cells.lines, strict=True):
                    if text == "":
                        problems.append(Problem("missing value", (name,), line))
            columns[name] = pd.array(texts, dtype=object)
    _raise_problems(sorted(problems, key=lambda problem: problem.line or 0), file)
    frame = pd.DataFrame({name: columns[name] for name in names})
    return CsvTable(frame=frame, file=file, notes=notes, line_of_row=list(cells.lines))


def read_csv_cells(path: str | os.PathLike[str], *, what: str, max_bytes: int = DEFAULT_MAX_BYTES) -> CsvCells:
    """Read a CSV file as stripped cells: encoding, separator, quoting, empty lines and ragged lines handled.

    Parameters
    ----------
    path
        The file; named in messages as given.
    what
        What the file holds, for messages.
    max_bytes
        Larger files are refused without being read.

    Raises
    ------
    InputError
        When the file cannot be read, is empty, binary, in an unknown encoding, has a header that mixes
        separators, or a line with more cells than the header.
    """
    file = _name(path)
    raw = _read_bytes(file, max_bytes, what)
    notes: list[str] = []
    text = _decode(raw, file, notes)
    if not text.strip():
        raise InputError.single(f"the file is empty: expected {what}", file=file)

    lines = io.StringIO(text, newline="").readlines()  # the line ends csv knows: \n, \r\n and \r
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    separator = None
    directive = _SEP_DIRECTIVE.match(lines[first])
    if directive and directive.group(1) in _SEPARATORS:
        separator = directive.group(1)
        notes.append(f"the first line '{lines[first].strip()}' sets the separator; columns are separated by "
                     f"{_SEPARATORS[separator]}")
        first += 1
        while first < len(lines) and not lines[first].strip():
            first += 1
        if first >= len(lines):
            raise InputError.single(f"the file holds no header line: expected {what}", file=file)
    else:
        separator = _detect_separator(lines[first], file, first + 1)
        if separator != ",":
            notes.append(f"columns are separated by {_SEPARATORS[separator]}")

    reader = csv.reader(io.StringIO("".join(lines[first:]), newline=""), delimiter=separator, quotechar='"',
                        strict=True)
    header: list[str] | None = None
    header_line = first + 1
    rows: list[list[str]] = []
    row_lines: list[int] = []
    ragged: list[tuple[int, int]] = []  # (line, cells) of lines with more cells than the header
    consumed = 0
    try:
        for record in reader:
            line = first + consumed + 1
            consumed = reader.line_num
            cells = [cell.strip() for cell in record]
            if not any(cells):
                continue
            if header is None:
                header, header_line = cells, line
                continue
            if len(cells) > len(header):
                if any(cells[len(header):]):
                    ragged.append((line, len(cells)))
                    continue
                cells = cells[: len(header)]
            elif len(cells) < len(header):
                cells = cells + [""] * (len(header) - len(cells))
            rows.append(cells)
            row_lines.append(line)
    except csv.Error as exc:
        raise InputError.single(f"cannot read the file as CSV: {exc}", file=file, line=first + reader.line_num) from None
    if header is None:  # pragma: no cover - a non-blank text always has a non-empty line
        raise InputError.single(f"the file is empty: expected {what}", file=file)
    if ragged:
        line, found = ragged[0]
        raise InputError.single(_too_many_cells(found, len(header), separator, len(ragged) - 1), file=file, line=line)

    # A trailing separator on every line gives a last column without a name and without values.
    while header and header[-1] == "" and all(row[len(header) - 1] == "" for row in rows):
        header = header[:-1]
        rows = [row[: len(header)] for row in rows]
    seen: dict[str, int] = {}
    for position, name in enumerate(header):
        key = _key(name)
        if name and key in seen:
            raise InputError.single(
                f"the column '{name}' appears twice in the header (columns {seen[key] + 1} and {position + 1})",
                file=file, line=header_line)
        seen.setdefault(key, position)
    return CsvCells(file=file, header=header, rows=rows, lines=row_lines, header_line=header_line,
                    separator=separator, notes=notes)


def parse_number(text: str, *, decimal_comma: bool) -> tuple[float | None, str]:
    """Read one cell as a finite number.

    Parameters
    ----------
    text
        The cell, stripped.
    decimal_comma
        Whether a comma may be a decimal comma (files separated by semicolons or tabs).

    Returns
    -------
    tuple
        ``(value, style)``: the number, or None when the cell is not a finite number; ``style`` says how it
        was written: ``"point"`` (``1.5``, ``12``), ``"comma"`` (``1,5``), ``"grouped-comma"``
        (``1.234,5``), ``"grouped-point"`` (``1,234.5``), or, when ``value`` is None, ``"ambiguous"``
        (a comma that could be a decimal comma or a thousands separator) or ``"text"``.
    """
    if _PLAIN.match(text):
        value = float(text)
        if not math.isfinite(value):
            return None, "text"
        return value, "point"
    if _GROUPED_POINT.match(text):
        return float(text.replace(",", "")), "grouped-point"
    if decimal_comma:
        if _DECIMAL_COMMA.match(text):
            return float(text.replace(",", ".")), "comma"
        if _GROUPED_DECIMAL_COMMA.match(text) and "," in text:
            return float(text.replace(".", "").replace(",", ".")), "grouped-comma"
    if _COMMA_ANYWHERE.match(text) and any(c.isdigit() for c in text):
        return None, "ambiguous"
    return None, "text"


# ------------------------------------------------------------------------------------------------- reading


def _name(path: str | os.PathLike[str]) -> str:
    try:
        name = os.fspath(path)
    except TypeError:
        raise InputError.single(f"expected a file name, got {type(path).__name__}") from None
    return os.fsdecode(name) if isinstance(name, bytes) else name


def _read_bytes(file: str, max_bytes: int, what: str) -> bytes:
    from revsim.special_files import special_kind

    try:
        if os.path.isdir(file):
            raise InputError.single(f"is a directory, expected a CSV file of {what}", file=file)
        kind = special_kind(file)
        if kind is not None:  # opening a FIFO would wait for a writer forever
            raise InputError.single(f"is {kind}, not a regular file; expected a CSV file of {what}", file=file)
        with open(file, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError.single(f"file not found (expected a CSV file of {what})", file=file) from None
    except IsADirectoryError:
        raise InputError.single(f"is a directory, expected a CSV file of {what}", file=file) from None
    except PermissionError:
        raise InputError.single("permission denied: the file cannot be read (check its permissions)",
                                file=file) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError.single(f"the file cannot be read: {reason}", file=file) from None
    if len(raw) > max_bytes:
        raise InputError.single(
            f"the file is larger than the limit of {max_bytes:,} bytes for {what}; refusing to read it", file=file)
    return raw


def _decode(raw: bytes, file: str, notes: list[str]) -> str:
    """Decode UTF-8 (BOM or not), UTF-16 with a BOM, or plausible Windows-1252; refuse anything else."""
    if raw.startswith(_UTF8_BOM):
        notes.append("the file starts with a UTF-8 byte order mark, which was ignored")
        raw = raw[len(_UTF8_BOM):]
    elif raw.startswith(_UTF16_BOMS):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError.single(f"the file starts like UTF-16 text but byte offset {exc.start} cannot be "
                                    "decoded; save the file as UTF-8 CSV", file=file) from None
        notes.append("the file is encoded as UTF-16; it was read as such (UTF-8 is preferred)")
        return text
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        raise InputError.single(
            f"the file holds a NUL byte at byte offset {offset}: it is a binary file (a spreadsheet?) or UTF-16 "
            "text without a byte order mark, not CSV; save it as CSV UTF-8",
            file=file, line=raw.count(b"\n", 0, offset) + 1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
    line = raw.count(b"\n", 0, offset) + 1
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        odd = [c for c in text if ord(c) > 127 and not c.isalpha() and c not in _LEGACY_SYMBOLS]
        if not odd:
            start = raw.rfind(b"\n", 0, offset) + 1
            end = raw.find(b"\n", offset)
            sample = raw[start: end if end >= 0 else len(raw)].decode("cp1252").strip()
            sample = sample if len(sample) <= 60 else sample[:57] + "..."
            notes.append(f"the file is not UTF-8; it was read as Windows-1252 (Latin-1) text, e.g. line {line}: "
                         f"'{sample}' (save it as UTF-8 to be sure)")
            return text
    raise InputError.single(
        f"the file is not valid UTF-8: byte 0x{raw[offset]:02x} at byte offset {offset} cannot be decoded, and the "
        "text is not recognisable Windows-1252 (Latin-1) either; save the file as CSV UTF-8",
        file=file, line=line)


def _detect_separator(header: str, file: str, line: int) -> str:
    """The separator the header line uses: the most frequent of ',', ';' and tab outside quotes."""
    counts = dict.fromkeys(_SEPARATORS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts.values())
    if best == 0:
        return ","
    winners = [sep for sep, n in counts.items() if n == best]
    if len(winners) > 1:
        names = " and ".join(_SEPARATORS[s] for s in winners)
        raise InputError.single(
            f"cannot tell how the columns are separated: the header line has as many {names}; use one separator "
            "(commas, or semicolons)", file=file, line=line)
    return winners[0]


def _too_many_cells(found: int, expected: int, separator: str, others: int) -> str:
    message = f"the line has {found} cells but the header has {expected} column{'s' if expected > 1 else ''}"
    if others:
        message += f" (and {others} more line{'s' if others > 1 else ''} like it)"
    if separator == ",":
        message += ("; if a number is written with a decimal comma (1,5), write it with a point (1.5) or separate "
                    "the columns with semicolons")
    return message


# ---------------------------------------------------------------------------------------------------- cells


def numeric_column(cells: CsvCells, index: int, *, skip_blank: bool = False
                   ) -> tuple[list[float], list[int], list[Problem], str | None]:
    """Read column ``index`` of ``cells`` as numbers.

    Returns
    -------
    tuple
        ``(values, lines, problems, note)``: the numbers and the line of each (blank cells are skipped when
        ``skip_blank``, else reported as missing), the problems found (each with the column's name and the
        line), and a note when decimal commas or thousands separators were read.
    """
    name = cells.header[index] or f"column {index + 1}"
    texts = [row[index] for row in cells.rows]
    values: list[float] = []
    value_lines: list[int] = []
    problems: list[Problem] = []
    styles: dict[str, tuple[int, str]] = {}  # style -> (first line, text)
    first_point: tuple[int, str] | None = None
    for text, line in zip(texts, cells.lines, strict=True):
        if text == "":
            if not skip_blank:
                problems.append(Problem("missing value: expected a number", (name,), line))
            continue
        value, style = parse_number(text, decimal_comma=cells.decimal_comma)
        if value is None:
            problems.append(Problem(_not_a_number(text, style, cells.separator), (name,), line))
            continue
        styles.setdefault(style, (line, text))
        if style == "point" and "." in text and first_point is None:
            first_point = (line, text)
        values.append(value)
        value_lines.append(line)
    comma_styles = [s for s in ("comma", "grouped-comma") if s in styles]
    if comma_styles and first_point is not None:
        comma_line, comma_text = styles[comma_styles[0]]
        point_line, point_text = first_point
        problems.append(Problem(
            f"the column mixes decimal commas ('{comma_text}', line {comma_line}) and decimal points "
            f"('{point_text}', line {point_line}): write every number the same way", (name,), point_line))
    if "grouped-point" in styles and comma_styles:
        line, text = styles["grouped-point"]
        problems.append(Problem(f"'{text}' uses a comma as thousands separator, but the column also uses decimal "
                                "commas: write every number the same way", (name,), line))
    note = None
    if comma_styles:
        line, text = styles[comma_styles[0]]
        note = f"numbers with decimal commas were read as decimals (e.g. '{text}' on line {line})"
    elif "grouped-point" in styles:
        line, text = styles["grouped-point"]
        note = f"commas in numbers were read as thousands separators (e.g. '{text}' on line {line})"
    return values, value_lines, problems, note


def _not_a_number(text: str, style: str, separator: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    if style == "ambiguous" and separator == ",":
        return (f"'{shown}' is ambiguous: in a comma-separated file a comma in a number could be a decimal comma or "
                "a thousands separator; write the number with a decimal point (1.5) and no grouping, or separate "
                "the columns with semicolons")
    if style == "ambiguous":
        return f"'{shown}' is ambiguous (a decimal comma or a thousands separator?); write it like 1234.5"
    if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return f"expected a finite number, got '{shown}'"
    if text.endswith("%"):
        return f"expected a number, got '{shown}' (write percentages as fractions: 12% is 0.12)"
    return f"expected a number, got '{shown}'"


def _raise_problems(problems: list[Problem], file: str) -> None:
    if not problems:
        return
    if len(problems) > MAX_REPORTED_PROBLEMS:
        extra = len(problems) - MAX_REPORTED_PROBLEMS
        problems = [*problems[:MAX_REPORTED_PROBLEMS],
                    Problem(f"... and {extra} more problem{'s' if extra > 1 else ''} of the same kinds")]
    raise InputError(problems, file=file)


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _expected_columns(required: Sequence[str], optional: Sequence[str]) -> str:
    text = ", ".join(required)
    if optional:
        text += f", and optionally {', '.join(optional)}"
    return text
