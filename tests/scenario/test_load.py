"""Tests of the scenario loader: every problem at once, at the right line, and a stable scenario hash."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from revsim.errors import InputError
from revsim.scenario.load import (
    load_scenario,
    parse_scenario_text,
    scenario_from_dict,
    scenario_hash,
    validate_document,
)
from revsim.scenario.yaml_source import parse_yaml_text

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "scenarios" / "saas_sales_led.yaml"

BASE = """\
name: Loader test
start: 2027-01
horizon_months: 12
segments:
  - {name: smb, share: 0.7}
  - {name: mid, share: 0.3}
channels:
  - name: inbound
    volume: [80, 120]
funnel:
  stages:
    - name: lead
      conversion: [0.2, 0.3]
      months: 0.5
    - name: mql
      conversion: {dist: beta, mean: 0.4, sd: 0.05}
      months: 1
    - name: won
pricing:
  acv: [9000, 13000]
retention:
  smb: {churn: 0.1, contract_months: 12}
  default: {churn: 0.05, contract_months: 12}
initial_book:
  - {segment: smb, customers: 50, arr: 500k}
"""


def edited(*replacements: tuple[str, str]) -> str:
    text = BASE
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def refused(text: str, file: str = "load.yaml") -> InputError:
    with pytest.raises(InputError) as info:
        parse_scenario_text(text, file=file)
    return info.value


def line_of(text: str, needle: str) -> int:
    return text.count("\n", 0, text.index(needle)) + 1


def by_path(error: InputError) -> dict[tuple, object]:
    return {p.path: p for p in error.problems}


# ------------------------------------------------------------------------------------------ the example


def test_example_scenario_loads() -> None:
    loaded = load_scenario(EXAMPLE)
    model = loaded.model
    assert loaded.name == "Northwind Analytics (sales-led B2B)"
    assert loaded.file == str(EXAMPLE)
    assert model.segment_names == ["smb", "mid_market"]
    assert model.stage_names == ["lead", "mql", "sql", "opportunity", "won"]
    assert model.channel_names == ["inbound", "outbound"]
    assert model.start == "2027-01" and model.horizon_months == 36
    assert len(model.correlations) == 1
    assert len(loaded.sha256) == 64 and int(loaded.sha256, 16) >= 0


def test_base_scenario_loads() -> None:
    loaded = parse_scenario_text(BASE, file="load.yaml")
    assert loaded.name == "Loader test"
    assert loaded.file == "load.yaml"


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "my_plan.yaml"
    path.write_text(BASE.replace("name: Loader test\n", ""), encoding="utf-8")
    assert load_scenario(path).name == "my_plan"


# --------------------------------------------------------------------------------------- several problems


def test_several_problems_are_reported_at_once() -> None:
    text = edited(
        ("horizon_months: 12", "horizon_months: 0"),
        ("mean: 0.4, sd: 0.05", "mean: 1.2, sd: 0.05"),
        ("customers: 50", "customers: -1"),
        ("  smb: {churn: 0.1,", "  smb: {churn: 1.5,"),
    )
    error = refused(text)
    problems = by_path(error)
    assert set(problems) == {
        ("horizon_months",),
        ("funnel", "stages", 1, "conversion"),
        ("initial_book", 0, "customers"),
        ("retention", "smb", "churn"),
    }
    assert str(error).startswith("load.yaml: 4 problems:\n  - ")
    assert len(str(error).splitlines()) == 5


def test_an_unknown_key_does_not_hide_the_other_problems() -> None:
    text = edited(
        ("horizon_months: 12", "horizon_month: 12"),
        ("mean: 0.4, sd: 0.05", "mean: 1.2, sd: 0.05"),
        ("customers: 50", "customers: -1"),
    )
    problems = by_path(refused(text))
    assert ("horizon_month",) in problems
    assert ("funnel", "stages", 1, "conversion") in problems
    assert ("initial_book", 0, "customers") in problems


def test_every_unknown_key_of_a_mapping_is_reported() -> None:
    text = edited(
        ("      conversion: [0.2, 0.3]\n      months: 0.5\n", "      convertion: [0.2, 0.3]\n      monhts: 0.5\n")
    )
    problems = by_path(refused(text))
    assert ("funnel", "stages", 0, "convertion") in problems
    assert ("funnel", "stages", 0, "monhts") in problems
    assert "did you mean 'months'?" in problems[("funnel", "stages", 0, "monhts")].message


def test_problems_in_different_segments_are_all_reported() -> None:
    text = edited(
        ("  smb: {churn: 0.1,", "  smb: {churn: 1.5,"),
        ("  default: {churn: 0.05,", "  default: {churn: -0.05,"),
    )
    problems = by_path(refused(text))
    assert set(problems) == {("retention", "smb", "churn"), ("retention", "default", "churn")}


# ------------------------------------------------------------------------------------------ line numbers


@pytest.mark.parametrize(
    ("old", "new", "path", "needle"),
    [
        ("horizon_months: 12", "horizon_months: 0", ("horizon_months",), "horizon_months"),
        ("start: 2027-01", "start: 27-01", ("start",), "start:"),
        ("volume: [80, 120]", "volume: [120, 80]", ("channels", 0, "volume"), "volume:"),
        ("mean: 0.4, sd: 0.05", "mean: 0.4, sd: 0.9", ("funnel", "stages", 1, "conversion"), "sd: 0.9"),
        ("      months: 1\n", "      months: -1\n", ("funnel", "stages", 1, "months"), "months: -1"),
        ("  acv: [9000, 13000]", "  acv: abc", ("pricing", "acv"), "acv: abc"),
        ("  smb: {churn: 0.1,", "  smb: {churn: 1.5,", ("retention", "smb", "churn"), "churn: 1.5"),
        ("customers: 50", "customers: 1.5", ("initial_book", 0, "customers"), "customers: 1.5"),
        ("      conversion: [0.2, 0.3]", "      convertion: [0.2, 0.3]", ("funnel", "stages", 0, "convertion"),
         "convertion"),
        ("    - name: won\n", "    - name: won\n      months: 1\n", ("funnel", "stages", 2), "name: won"),
    ],
)
def test_problem_is_located_at_its_line(old: str, new: str, path: tuple, needle: str) -> None:
    text = edited((old, new))
    error = refused(text)
    problems = by_path(error)
    assert path in problems, str(error)
    assert problems[path].line == line_of(text, needle), str(error)
    assert f"(line {line_of(text, needle)}, column " in str(error)


def test_file_errors_name_the_file_as_given(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(edited(("horizon_months: 12", "horizon_months: 0")), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert info.value.file == str(path)
    assert str(info.value).startswith(f"{path}: horizon_months: ")


def test_missing_required_field() -> None:
    error = refused(edited(("pricing:\n  acv: [9000, 13000]\n", "")))
    (problem,) = error.problems
    assert problem.path == ("pricing",)
    assert problem.message.startswith("required field is missing")


def test_scenario_from_dict_reports_paths_without_lines() -> None:
    data = parse_scenario_text(BASE).data
    broken = copy.deepcopy(data)
    broken["horizon_months"] = 0
    with pytest.raises(InputError) as info:
        scenario_from_dict(broken)
    (problem,) = info.value.problems
    assert problem.path == ("horizon_months",)
    assert problem.line is None
    assert info.value.file == "<dict>"


# ------------------------------------------------------------------------------------------------ hash


def test_scenario_hash_is_stable_for_the_same_data() -> None:
    first = load_scenario(EXAMPLE)
    second = load_scenario(EXAMPLE)
    assert first.sha256 == second.sha256
    assert scenario_hash(first.data) == first.sha256
    reordered = dict(reversed(list(first.data.items())))
    assert scenario_hash(reordered) == first.sha256
    assert scenario_from_dict(copy.deepcopy(first.data)).sha256 == first.sha256


def test_scenario_hash_ignores_comments_and_layout() -> None:
    plain = parse_scenario_text(BASE)
    commented = "# a comment\n" + BASE.replace("start: 2027-01", "start: 2027-01   # first month").replace(
        "  - {segment: smb, customers: 50, arr: 500k}", "  - segment: smb\n    customers: 50\n    arr: 500k"
    )
    assert parse_scenario_text(commented).sha256 == plain.sha256


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("horizon_months: 12", "horizon_months: 13"),
        ("mean: 0.4, sd: 0.05", "mean: 0.41, sd: 0.05"),
        ("customers: 50", "customers: 51"),
        ("name: Loader test", "name: Loader test 2"),
    ],
)
def test_scenario_hash_changes_when_a_value_changes(old: str, new: str) -> None:
    assert parse_scenario_text(edited((old, new))).sha256 != parse_scenario_text(BASE).sha256


def test_scenario_hash_of_the_example_changes_when_a_value_changes(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    changed = tmp_path / "changed.yaml"
    changed.write_text(text.replace("reps: 12", "reps: 13"), encoding="utf-8")
    assert load_scenario(changed).sha256 != load_scenario(EXAMPLE).sha256


def test_scenario_hash_of_dicts() -> None:
    assert scenario_hash({"a": 1, "b": [1, 2]}) == scenario_hash({"b": [1, 2], "a": 1})
    assert scenario_hash({"a": 1}) != scenario_hash({"a": 2})
    assert scenario_hash({"a": [1, 2]}) != scenario_hash({"a": [2, 1]})


def test_loading_does_not_modify_the_parsed_document() -> None:
    document = parse_yaml_text(BASE.replace("name: Loader test\n", ""), file="unnamed.yaml")
    loaded = validate_document(document, REPO_ROOT)
    assert loaded.name == "unnamed"
    assert loaded.data["name"] == "unnamed"
    assert "name" not in document.data
