"""The shared CSV reader: what it accepts (with a note), what it refuses (with the line and the column)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revsim.errors import InputError
from revsim.scenario.csv_source import CsvTable, parse_number, read_csv_cells, read_csv_table

FUNNEL = {"required": ["month", "stage", "count"], "optional": ["segment", "channel"], "numeric": ["count"],
          "what": "funnel history"}


def write(tmp_path: Path, content: bytes | str, name: str = "funnel.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def read(tmp_path: Path, content: bytes | str, encoding: str = "utf-8", **options) -> CsvTable:
    return read_csv_table(write(tmp_path, content, encoding=encoding), **{**FUNNEL, **options})


def refused(tmp_path: Path, content: bytes | str, encoding: str = "utf-8", **options) -> str:
    with pytest.raises(InputError) as caught:
        read(tmp_path, content, encoding, **options)
    text = str(caught.value)
    assert text.startswith(str(tmp_path / "funnel.csv")), text
    return text


# ------------------------------------------------------------------------------------------------ accepted


def test_a_plain_file(tmp_path: Path) -> None:
    table = read(tmp_path, "month,stage,count,segment\n2027-01,lead,12,smb\n2027-01,mql,4.5,smb\n")
    assert list(table.frame.columns) == ["month", "stage", "count", "segment"]
    assert table.frame["count"].dtype == np.float64
    assert table.frame["count"].tolist() == [12.0, 4.5]
    assert table.frame["stage"].tolist() == ["lead", "mql"]
    assert table.notes == []
    assert table.line_of_row == [2, 3]
    assert table.file == str(tmp_path / "funnel.csv")


def test_spaces_empty_lines_case_and_a_trailing_separator_are_accepted_silently(tmp_path: Path) -> None:
    table = read(tmp_path, "\n Month , STAGE ,Count,\n\n2027-01 , lead , 12 ,\n,,,\n2027-02,lead,13,\n\n")
    assert list(table.frame.columns) == ["month", "stage", "count"]
    assert table.frame["stage"].tolist() == ["lead", "lead"]
    assert table.line_of_row == [4, 6]
    assert table.notes == []


def test_windows_line_ends(tmp_path: Path) -> None:
    table = read(tmp_path, "month,stage,count\r\n2027-01,lead,12\r\n")
    assert table.frame["count"].tolist() == [12.0]


def test_optional_columns_missing_are_absent(tmp_path: Path) -> None:
    table = read(tmp_path, "month,stage,count\n2027-01,lead,12\n")
    assert "segment" not in table.frame


def test_utf8_bom(tmp_path: Path) -> None:
    table = read(tmp_path, b"\xef\xbb\xbfmonth,stage,count\n2027-01,lead,12\n")
    assert list(table.frame.columns) == ["month", "stage", "count"]
    assert table.notes == ["the file starts with a UTF-8 byte order mark, which was ignored"]


def test_utf16_with_bom_and_tabs(tmp_path: Path) -> None:
    table = read(tmp_path, "month\tstage\tcount\n2027-01\tlead\t12\n", encoding="utf-16")
    assert table.frame["count"].tolist() == [12.0]
    assert table.notes == ["the file is encoded as UTF-16; it was read as such (UTF-8 is preferred)",
                           "columns are separated by tabs"]


def test_windows_1252_text_is_accepted_with_a_note(tmp_path: Path) -> None:
    table = read(tmp_path, "month,stage,count,segment\n2027-01,lead,12,Caf\u00e9 \u20ac\n", encoding="cp1252")
    assert table.frame["segment"].tolist() == ["Caf\u00e9 \u20ac"]
    assert len(table.notes) == 1
    assert "not UTF-8; it was read as Windows-1252 (Latin-1) text, e.g. line 2" in table.notes[0]


def test_semicolons_and_decimal_commas(tmp_path: Path) -> None:
    table = read(tmp_path, "month;stage;count\n2027-01;lead;12,5\n2027-02;lead;1.234,5\n2027-03;lead;7\n")
    assert table.frame["count"].tolist() == [12.5, 1234.5, 7.0]
    assert table.notes == ["columns are separated by semicolons",
                           "numbers with decimal commas were read as decimals (e.g. '12,5' on line 2)"]


def test_semicolons_with_decimal_points(tmp_path: Path) -> None:
    table = read(tmp_path, "month;stage;count\n2027-01;lead;12.5\n")
    assert table.frame["count"].tolist() == [12.5]
    assert table.notes == ["columns are separated by semicolons"]


def test_excel_separator_line(tmp_path: Path) -> None:
    table = read(tmp_path, "sep=;\nmonth;stage;count\n2027-01;lead;12\n")
    assert table.line_of_row == [3]
    assert "the first line 'sep=;' sets the separator" in table.notes[0]


def test_quoted_thousands_with_a_decimal_point(tmp_path: Path) -> None:
    table = read(tmp_path, 'month,stage,count\n2027-01,lead,"1,234.5"\n')
    assert table.frame["count"].tolist() == [1234.5]
    assert "thousands separators (e.g. '1,234.5' on line 2)" in table.notes[0]


def test_quoted_cells_across_lines_keep_line_numbers(tmp_path: Path) -> None:
    table = read(tmp_path, 'month,stage,count,segment\n2027-01,lead,1,"two\nlines"\n2027-02,lead,2,x\n')
    assert table.line_of_row == [2, 4]


def test_the_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "month,stage,count\n" + "2027-01,lead,1\n" * 100)
    with pytest.raises(InputError, match="larger than the limit of 1,000 bytes for funnel history"):
        read_csv_table(path, **FUNNEL, max_bytes=1000)
    assert len(read_csv_table(path, **FUNNEL, max_bytes=10_000).frame) == 100


# ------------------------------------------------------------------------------------------------ refused


@pytest.mark.parametrize(("content", "parts"), [
    pytest.param("", ["the file is empty: expected funnel history"], id="empty"),
    pytest.param("\n \n", ["the file is empty"], id="blank"),
    pytest.param("month,stage,count\n", ["a header line but no data", "(line 1)"], id="header-only"),
    pytest.param("2027-01,lead,12\n", ["the first line must name the columns (month, stage, count, and optionally "
                                       "segment, channel), but it reads '2027-01,lead,12'"], id="no-header"),
    pytest.param("month,stag,count\n2027-01,lead,1\n",
                 ["unknown column 'stag'", "did you mean 'stage'?", "missing column 'stage'", "(line 1)"],
                 id="misspelt-column"),
    pytest.param("month,stage,count,owner\n2027-01,lead,1,ann\n", ["unknown column 'owner'"], id="unknown-column"),
    pytest.param("month,count\n2027-01,1\n", ["missing column 'stage'"], id="missing-column"),
    pytest.param("month,stage,count,Count\n2027-01,lead,1,2\n", ["the column 'Count' appears twice"],
                 id="duplicate-column"),
    pytest.param("month,stage,count\n2027-01,lead,1,2\n2027-02,lead,1,2\n",
                 ["the line has 4 cells but the header has 3 columns (and 1 more line like it)", "(line 2)"],
                 id="ragged"),
    pytest.param("month,stage,count\n2027-01,lead,\n", ["count: missing value: expected a number (line 2)"],
                 id="missing-number"),
    pytest.param("month,stage,count\n2027-01,,3\n", ["stage: missing value (line 2)"], id="missing-text"),
    pytest.param("month,stage,count\n2027-01,lead,twelve\n", ["count: expected a number, got 'twelve' (line 2)"],
                 id="text-for-number"),
    pytest.param("month,stage,count\n2027-01,lead,inf\n", ["expected a finite number, got 'inf'"], id="inf"),
    pytest.param("month,stage,count\n2027-01,lead,nan\n", ["expected a finite number, got 'nan'"], id="nan"),
    pytest.param("month,stage,count\n2027-01,lead,5%\n", ["12% is 0.12"], id="percent"),
    pytest.param('month,stage,count\n2027-01,lead,"1,5"\n', ["'1,5' is ambiguous", "(line 2)"],
                 id="decimal-comma-with-commas"),
    pytest.param("month;stage;count\n2027-01;lead;1,5\n2027-02;lead;2.5\n",
                 ["mixes decimal commas ('1,5', line 2) and decimal points ('2.5', line 3)"], id="mixed-decimals"),
    pytest.param("month;stage,count\n", ["cannot tell how the columns are separated"], id="mixed-separators"),
    pytest.param('month,stage,count\n2027-01,"lead"x,1\n', ["cannot read the file as CSV", "(line 2)"],
                 id="bad-quotes"),
    pytest.param(b"month,stage,count\n2027-01,lead,1\x81\x8d\n",
                 ["not valid UTF-8: byte 0x81 at byte offset 32", "not recognisable Windows-1252", "(line 2)"],
                 id="undecodable"),
    pytest.param(b"PK\x03\x04\x00\x00", ["NUL byte at byte offset 4", "binary file"], id="binary"),
])
def test_refused(tmp_path: Path, content: bytes | str, parts: list[str]) -> None:
    text = refused(tmp_path, content)
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


def test_every_problem_is_reported_in_line_order_up_to_a_limit(tmp_path: Path) -> None:
    lines = "".join(f"2027-01,{'' if i == 3 else 'lead'},x{i}\n" for i in range(15))
    text = refused(tmp_path, "month,stage,count\n" + lines)
    assert "11 problems:" in text
    assert text.index("count: expected a number, got 'x0' (line 2)") < text.index("stage: missing value (line 5)")
    assert "... and 6 more problems of the same kinds" in text


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_csv_table(tmp_path / "nope.csv", **FUNNEL)
    with pytest.raises(InputError, match="is a directory, expected a CSV file of funnel history"):
        read_csv_table(tmp_path, **FUNNEL)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_csv_table(fifo, **FUNNEL)


# ------------------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(("text", "decimal_comma", "value", "style"), [
    ("12", False, 12.0, "point"),
    ("-1.5e3", False, -1500.0, "point"),
    (".5", False, 0.5, "point"),
    ("1,5", True, 1.5, "comma"),
    ("1.234,56", True, 1234.56, "grouped-comma"),
    ("1,234.5", False, 1234.5, "grouped-point"),
    ("1,5", False, None, "ambiguous"),
    ("1,234", False, None, "ambiguous"),
    ("1.234.567", True, None, "text"),
    ("nan", False, None, "text"),
    ("Infinity", True, None, "text"),
    ("12 k", False, None, "text"),
    ("", False, None, "text"),
])
def test_parse_number(text: str, decimal_comma: bool, value: float | None, style: str) -> None:
    assert parse_number(text, decimal_comma=decimal_comma) == (value, style)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_any_bytes_give_a_table_or_an_input_error(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "any.csv"
    path.write_bytes(raw)
    try:
        table = read_csv_table(path, required=["a"], optional=["b"], numeric=["b"], what="anything")
    except InputError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert len(table.frame) == len(table.line_of_row)
        if "b" in table.frame:
            assert np.isfinite(table.frame["b"].to_numpy()).all()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=20),
       separator=st.sampled_from([",", ";", "\t"]))
def test_written_numbers_read_back_exactly(tmp_path: Path, values: list[float], separator: str) -> None:
    path = tmp_path / "values.csv"
    path.write_text(f"a{separator}b\n" + "".join(f"x{separator}{v!r}\n" for v in values), encoding="utf-8")
    table = read_csv_table(path, required=["a", "b"], numeric=["b"], what="values")
    assert table.frame["b"].tolist() == [float(repr(v)) for v in values]


def test_read_csv_cells_keeps_unknown_columns(tmp_path: Path) -> None:
    cells = read_csv_cells(write(tmp_path, "x;y\n1;2\n"), what="samples")
    assert cells.header == ["x", "y"] and cells.rows == [["1", "2"]] and cells.lines == [2]
    assert cells.separator == ";" and cells.decimal_comma
