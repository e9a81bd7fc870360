"""Tests for the safe YAML reader of scenario files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revsim.errors import InputError
from revsim.scenario import yaml_source
from revsim.scenario.yaml_source import (
    MAX_ALIASES,
    MAX_COLLECTION_ALIASES,
    MAX_DEPTH,
    YamlDocument,
    parse_yaml_text,
    read_yaml_file,
)


def refused(text: str, *, file: str = "scenario.yaml") -> InputError:
    """Parse ``text``, expecting an InputError, and return it."""
    with pytest.raises(InputError) as info:
        parse_yaml_text(text, file=file)
    return info.value


def only_problem(error: InputError):
    assert len(error.problems) == 1, str(error)
    return error.problems[0]


# ------------------------------------------------------------------------------------------- valid data


def test_valid_document_data_and_types() -> None:
    text = (
        "name: Acme\n"
        "start: 2027-01\n"
        "launch: 2027-01-15\n"
        "seats: 12\n"
        "price: 49.5\n"
        "hex: 0x10\n"
        "active: true\n"
        "legacy: no\n"
        "note: ~\n"
        "empty:\n"
        "quoted: '12'\n"
        "tags: [a, b]\n"
        "funnel:\n"
        "  stages:\n"
        "    - name: lead\n"
        "      conversion: 0.25\n"
        "    - name: won\n"
    )
    doc = parse_yaml_text(text, file="s.yaml")
    assert isinstance(doc, YamlDocument)
    assert doc.file == "s.yaml"
    assert doc.text == text
    assert doc.data == {
        "name": "Acme",
        "start": "2027-01",
        "launch": "2027-01-15",
        "seats": 12,
        "price": 49.5,
        "hex": 16,
        "active": True,
        "legacy": False,
        "note": None,
        "empty": None,
        "quoted": "12",
        "tags": ["a", "b"],
        "funnel": {"stages": [{"name": "lead", "conversion": 0.25}, {"name": "won"}]},
    }
    assert type(doc.data["seats"]) is int
    assert type(doc.data["launch"]) is str  # timestamps stay strings


def test_timestamps_with_time_stay_strings() -> None:
    doc = parse_yaml_text("at: 2027-01-15 10:30:00\nz: 2027-01-15T10:30:00Z\n")
    assert doc.data == {"at": "2027-01-15 10:30:00", "z": "2027-01-15T10:30:00Z"}


def test_locations_are_one_based_for_values_and_items() -> None:
    text = "name: Acme\nfunnel:\n  stages:\n    - lead\n    - {name: won, p: 0.5}\n"
    doc = parse_yaml_text(text)
    assert doc.locations[()] == (1, 1)
    assert doc.locations[("name",)] == (1, 7)
    assert doc.locations[("funnel",)] == (3, 3)
    assert doc.locations[("funnel", "stages")] == (4, 5)
    assert doc.locations[("funnel", "stages", 0)] == (4, 7)
    assert doc.locations[("funnel", "stages", 1)] == (5, 7)
    assert doc.locations[("funnel", "stages", 1, "name")] == (5, 14)
    assert doc.locations[("funnel", "stages", 1, "p")] == (5, 22)


def test_locate_uses_deepest_known_prefix() -> None:
    doc = parse_yaml_text("a:\n  b: [1, 2]\n")
    assert doc.locate(("a", "b", 1)) == (2, 10)
    assert doc.locate(["a", "b", 7, "x"]) == (2, 6)
    assert doc.locate(("missing",)) == (1, 1)
    assert doc.locate(()) == (1, 1)
    empty = YamlDocument(data={}, locations={}, file="x", text="")
    assert empty.locate(("a",)) == (None, None)


def test_integer_keys_and_keys_that_look_like_other_types() -> None:
    doc = parse_yaml_text("1: one\non: yes\n1.5: x\n2027-01-15: d\n'2': two\n")
    assert doc.data == {1: "one", "on": True, "1.5": "x", "2027-01-15": "d", "2": "two"}
    assert doc.locations[(1,)] == (1, 4)


def test_anchors_and_aliases_within_limits() -> None:
    text = "base: &b {price: 10}\nplan: *b\nname: &n Acme\nalias_name: *n\n"
    doc = parse_yaml_text(text)
    assert doc.data == {"base": {"price": 10}, "plan": {"price": 10}, "name": "Acme", "alias_name": "Acme"}
    assert doc.data["plan"] is not doc.data["base"]  # expanded copies, not shared objects
    assert doc.locations[("plan",)] == (2, 7)  # at the alias
    assert doc.locations[("plan", "price")] == (1, 18)  # inside the anchored original


def test_nesting_at_the_limit_is_accepted() -> None:
    # the top-level mapping is level 1, so MAX_DEPTH - 1 nested lists fit
    depth = MAX_DEPTH - 1
    doc = parse_yaml_text("a: " + "[" * depth + "1" + "]" * depth)
    value = doc.data["a"]
    for _ in range(depth):
        value = value[0]
    assert value == 1


# ------------------------------------------------------------------------------------------- reading files


def test_read_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: Acme\nseats: 3\n", encoding="utf-8")
    doc = read_yaml_file(path)
    assert doc.data == {"name": "Acme", "seats": 3}
    assert doc.file == str(path)
    assert doc.text == "name: Acme\nseats: 3\n"
    assert doc.locations[("seats",)] == (2, 8)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: Caf\xc3\xa9\n")
    doc = read_yaml_file(str(path))
    assert doc.data == {"name": "Café"}
    assert doc.text == "name: Café\n"
    assert doc.locations[("name",)] == (1, 7)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(InputError) as info:
        read_yaml_file(path)
    assert info.value.file == str(path)
    assert "file not found" in str(info.value)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_yaml_file(tmp_path)
    assert "is a directory, expected a YAML file" in str(info.value)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.yaml"
    path.write_text("a: 1\n")

    def deny(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(yaml_source, "open", deny, raising=False)
    with pytest.raises(InputError) as info:
        read_yaml_file(path)
    assert "permission denied" in str(info.value)
    assert info.value.file == str(path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_for_real(tmp_path: Path) -> None:
    path = tmp_path / "locked.yaml"
    path.write_text("a: 1\n")
    path.chmod(0)
    try:
        with pytest.raises(InputError, match="permission denied"):
            read_yaml_file(path)
    finally:
        path.chmod(0o600)


def test_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 200 + "\n")
    with pytest.raises(InputError) as info:
        read_yaml_file(path, max_bytes=100)
    assert "100 bytes" in str(info.value)
    assert read_yaml_file(path, max_bytes=1000).data == {"a": "x" * 200}


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: Acme\ncity: Caf\xe9\n")
    with pytest.raises(InputError) as info:
        read_yaml_file(path)
    problem = only_problem(info.value)
    message = str(info.value)
    assert "not valid UTF-8" in message
    assert "byte offset 20" in message
    assert "save the file as UTF-8" in message
    assert "Café" in message  # the legacy decoding shown to help
    assert (problem.line, problem.column) == (2, 10)


def test_utf16_file(tmp_path: Path) -> None:
    path = tmp_path / "utf16.yaml"
    path.write_bytes("a: 1\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16.*save the file as UTF-8"):
        read_yaml_file(path)


# ------------------------------------------------------------------------------------------- shape


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n# and another\n", "~\n", "null\n", "---\n"])
def test_empty_documents(text: str) -> None:
    error = refused(text)
    assert "the file is empty: expected a scenario mapping" in str(error)
    assert error.file == "scenario.yaml"


def test_empty_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="the file is empty"):
        read_yaml_file(path)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("- a\n- b\n", "found a list"),
        ("hello\n", "found a string"),
        ("42\n", "found a number"),
        ("true\n", "found a true/false value"),
    ],
)
def test_top_level_must_be_a_mapping(text: str, found: str) -> None:
    problem = only_problem(refused(text))
    assert "expected a mapping at the top level" in problem.message
    assert found in problem.message
    assert problem.line == 1


def test_more_than_one_document() -> None:
    problem = only_problem(refused("a: 1\n---\nb: 2\n"))
    assert "more than one YAML document" in problem.message
    assert problem.line == 2


# ------------------------------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    ("text", "shown", "line", "column"),
    [
        ("a: 1\nrun: !!python/name:os.system ''\n", "!!python/name:os.system", 2, 6),
        ("obj: !!python/object/apply:os.system ['echo hi']\n", "!!python/object/apply:os.system", 1, 6),
        ("a: !custom thing\n", "!custom", 1, 4),
        ("a: !!str 12\n", "!!str", 1, 4),
        ("!!python/object:collections.OrderedDict {a: 1}\n", "!!python/object:collections.OrderedDict", 1, 1),
        ("a:\n  - !!binary aGVsbG8=\n", "!!binary", 2, 5),
    ],
)
def test_tags_are_refused(text: str, shown: str, line: int, column: int) -> None:
    problem = only_problem(refused(text))
    assert problem.message == f"tags are not allowed in scenario files (found '{shown}')"
    assert (problem.line, problem.column) == (line, column)


def test_tags_never_execute(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    text = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    refused(text)
    assert not marker.exists()


# ------------------------------------------------------------------------------------------- keys


def test_duplicate_keys() -> None:
    error = refused("name: a\nseats: 3\nname: b\n")
    problem = only_problem(error)
    assert "duplicate key 'name'" in problem.message
    assert "line 1" in problem.message and "line 3" in problem.message
    assert (problem.line, problem.column) == (3, 1)


def test_duplicate_keys_nested_and_all_reported() -> None:
    error = refused("a:\n  x: 1\n  x: 2\nb: [{y: 1, y: 2}]\n")
    assert len(error.problems) == 2
    first, second = error.problems
    assert first.path == ("a",) and "'x'" in first.message and first.line == 3
    assert second.path == ("b", 0) and "'y'" in second.message and second.line == 4
    assert "2 problems" in str(error)


def test_duplicate_int_keys() -> None:
    problem = only_problem(refused("1: a\n0x1: b\n"))
    assert "duplicate key '1'" in problem.message


def test_mapping_as_key() -> None:
    problem = only_problem(refused("? {a: 1}\n: value\n"))
    assert "keys must be strings or integers" in problem.message
    assert "mapping" in problem.message
    assert problem.line == 1


def test_list_as_key() -> None:
    problem = only_problem(refused("{[1, 2]: value}\n"))
    assert "keys must be strings or integers" in problem.message
    assert "list" in problem.message


def test_null_key() -> None:
    problem = only_problem(refused("~: value\n"))
    assert "keys must be strings or integers" in problem.message


def test_merge_keys_are_refused() -> None:
    problem = only_problem(refused("base: &b {a: 1}\nplan:\n  <<: *b\n  c: 2\n"))
    assert "merge keys" in problem.message
    assert problem.line == 3


# ------------------------------------------------------------------------------------------- syntax


def test_tab_indentation() -> None:
    problem = only_problem(refused("funnel:\n\tstages: 3\n"))
    assert problem.message == "tab characters are not allowed for indentation in YAML; use spaces"
    assert (problem.line, problem.column) == (2, 1)


def test_tab_after_spaces_in_indentation() -> None:
    problem = only_problem(refused("a:\n  b: 1\n  \tc: 2\n"))
    assert "tab characters are not allowed for indentation" in problem.message
    assert problem.line == 3


def test_tab_elsewhere() -> None:
    problem = only_problem(refused("a:\t1\n"))
    assert "tab character" in problem.message and "use spaces" in problem.message
    assert (problem.line, problem.column) == (1, 3)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: [1, 2\n", 2, 1),
        ("a: 1\nb\nc: 2\n", 3, 1),
        ("a: 'unterminated\n", 2, 1),
        ("a: 1\n  b: 2\n", 2, 4),
    ],
)
def test_syntax_errors(text: str, line: int, column: int) -> None:
    error = refused(text)
    problem = only_problem(error)
    assert problem.message.startswith("YAML syntax error: ")
    assert (problem.line, problem.column) == (line, column)
    assert error.file == "scenario.yaml"
    assert f"line {line}" in str(error)


def test_control_character() -> None:
    problem = only_problem(refused("a: 1\nb: x\x07y\n"))
    assert "#x0007" in problem.message
    assert (problem.line, problem.column) == (2, 5)


def test_undefined_alias() -> None:
    problem = only_problem(refused("a: *nowhere\n"))
    assert "'*nowhere'" in problem.message
    assert (problem.line, problem.column) == (1, 4)


def test_duplicate_anchor() -> None:
    problem = only_problem(refused("a: &x 1\nb: &x 2\n"))
    assert "YAML syntax error" in problem.message and "duplicate anchor" in problem.message


# ------------------------------------------------------------------------------------------- limits


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["lol0: &lol0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        refs = ", ".join([f"*lol{level - 1}"] * width)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_quickly() -> None:
    text = billion_laughs()
    start = time.perf_counter()
    error = refused(text)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5
    problem = only_problem(error)
    assert "too many aliases" in problem.message
    assert problem.line is not None


def test_billion_laughs_file_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs())
    start = time.perf_counter()
    with pytest.raises(InputError, match="too many aliases"):
        read_yaml_file(path)
    assert time.perf_counter() - start < 0.5


def test_collection_alias_limit() -> None:
    ok = "a: &a [1]\nb: [" + ", ".join(["*a"] * MAX_COLLECTION_ALIASES) + "]\n"
    assert len(parse_yaml_text(ok).data["b"]) == MAX_COLLECTION_ALIASES
    too_many = "a: &a [1]\nb: [" + ", ".join(["*a"] * (MAX_COLLECTION_ALIASES + 1)) + "]\n"
    assert "too many aliases to lists or mappings" in only_problem(refused(too_many)).message


def test_scalar_alias_limit() -> None:
    ok = "a: &a x\nb: [" + ", ".join(["*a"] * MAX_ALIASES) + "]\n"
    assert parse_yaml_text(ok).data["b"] == ["x"] * MAX_ALIASES
    too_many = "a: &a x\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    problem = only_problem(refused(too_many))
    assert "too many aliases" in problem.message
    assert problem.line == 2


def test_few_aliases_to_a_huge_list_are_refused() -> None:
    big = "a: &a [" + ", ".join(["1"] * 20_000) + "]\n"
    problem = only_problem(refused(big + "b: [" + ", ".join(["*a"] * 10) + "]\n"))
    assert "aliases would expand" in problem.message


def test_recursive_alias() -> None:
    problem = only_problem(refused("a: &x [1, *x]\n"))
    assert "recursive" in problem.message
    assert problem.line == 1


def test_nesting_too_deep() -> None:
    depth = MAX_DEPTH + 1
    problem = only_problem(refused("a: " + "[" * depth + "]" * depth))
    assert "nested too deeply" in problem.message
    assert problem.line == 1


def test_very_deep_nesting_does_not_recurse() -> None:
    depth = 100_000
    start = time.perf_counter()
    problem = only_problem(refused("[" * depth + "]" * depth))
    assert "nested too deeply" in problem.message
    assert time.perf_counter() - start < 1.0


def test_nesting_too_deep_through_aliases() -> None:
    inner = "[" * 40 + "]" * 40
    problem = only_problem(refused(f"a: &deep {inner}\nb: {'[' * 20}*deep{']' * 20}\n"))
    assert "nested too deeply" in problem.message
    assert problem.line == 2


def test_huge_integer_is_refused_not_computed() -> None:
    problem = only_problem(refused("a: " + "9" * 10_000 + "\n"))
    assert "integer too long" in problem.message
    assert problem.path == ("a",)


# ------------------------------------------------------------------------------------------- robustness

YAML_ALPHABET = st.sampled_from(list("ab1:-[]{},&*!?|>'\"#%@`~. \t\n\r") + ["<<", "\x07", "\ufeff", "é"])


@settings(max_examples=300, deadline=None)
@given(st.lists(YAML_ALPHABET, max_size=60).map("".join))
def test_any_text_gives_a_document_or_an_input_error(text: str) -> None:
    try:
        doc = parse_yaml_text(text)
    except InputError as error:
        assert error.problems
        assert str(error)
    else:
        assert isinstance(doc.data, dict)
        assert doc.locations[()][0] >= 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_give_a_document_or_an_input_error(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_bytes(raw)
    try:
        read_yaml_file(path)
    except InputError as error:
        assert error.file == str(path)
