"""``revsim schema``: the JSON Schema of scenario files, from the pydantic model.

It accepts every example (and every recipe of the documentation), rejects the type errors of the bad-input
catalogue, describes every field with its unit, and the scenario reference is written from it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from revsim.cli.main import cli
from revsim.scenario.json_schema import scenario_json_schema, schema_text
from revsim.scenario.reference import block_order, field_rows, reference_markdown
from revsim.scenario.schema import Scenario

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO_ROOT / "scenarios").glob("*.yaml")) + [REPO_ROOT / "scenarios" / "history" / "northwind.yaml"]
BAD = REPO_ROOT / "tests" / "bad_inputs" / "scenarios"
#: The files of the bad-input catalogue that are wrong in shape (a type, a key, a required field, a range, a
#: pattern): the JSON Schema refuses them as the loader does. The others are wrong in ways only the loader can
#: see (references between blocks, distributions, files, YAML itself).
TYPE_ERRORS = [
    "amount_not_a_number", "billion_laughs", "correlation_rank_above_one", "currency_lowercase", "deeply_nested",
    "distribution_missing_parameter", "empty", "horizon_as_fraction", "horizon_as_text", "horizon_ten_thousand",
    "horizon_zero", "interval_with_three_numbers", "list_where_mapping_belongs", "loop_lag_zero",
    "mapping_where_list_belongs", "misspelt_distribution_parameter", "misspelt_key_in_segment_entry",
    "misspelt_per_segment_key", "misspelt_stage_key", "misspelt_top_level_key", "negative_count", "negative_price",
    "negative_volume", "only_comments", "percentage_for_a_count", "probability_above_one", "probability_negative",
    "recursive_alias", "seasonality_eleven_months", "start_full_date", "start_month_13", "start_not_year_month",
    "target_month_not_year_month", "top_level_list", "top_level_scalar", "unknown_distribution", "unknown_key",
    "volume_as_boolean", "churn_as_whole_percent",
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_is_valid(validator, path: Path) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize("name", TYPE_ERRORS)
def test_type_errors_of_the_catalogue_are_rejected(validator, name: str) -> None:
    data = yaml.safe_load((BAD / f"{name}.yaml").read_text(encoding="utf-8"))
    assert list(validator.iter_errors(data)), f"{name}.yaml passes the JSON Schema"


def test_percentages_ranges_distributions_and_shorthands_are_valid(validator) -> None:
    data = yaml.safe_load("""
        name: Shorthands
        start: 2027-01
        horizon_months: 12
        segments: [smb, mid]
        channels: [{name: a, volume: 1.2k, growth: 1.5%}]
        funnel: {stages: [{name: lead, conversion: [15%, 0.25], months: 1}, {name: won}]}
        pricing: {smb: {acv: 12k, acv_cv: 40%}, default: {acv: {dist: lognormal, median: 40k, sigma: 0.2}}}
        retention: {churn: {dist: beta, mean: 2%, sd: 0.5%}}
        levers: {churn_down: {path: retention.churn, change: "-20%"}}
    """)
    assert list(validator.iter_errors(data)) == []
    data["channels"][0]["volume"] = "12%"  # a percentage where a count is expected
    assert list(validator.iter_errors(data))


def test_every_field_has_a_description_and_every_number_a_unit() -> None:
    schema = scenario_json_schema()
    blocks = {"Scenario": schema, **{name: schema["$defs"][name] for name in block_order(schema)}}
    missing_description, missing_unit = [], []
    for block, body in blocks.items():
        for name, field in body["properties"].items():
            if not field.get("description"):
                missing_description.append(f"{block}.{name}")
            numeric = field.get("x-form") or field.get("type") in ("integer", "number") or any(
                option.get("type") in ("integer", "number") for option in field.get("anyOf", []))
            if numeric and not field.get("x-unit") and name not in ("lag",) or name == "lag" and not field.get("x-unit"):
                missing_unit.append(f"{block}.{name}")
    assert missing_description == [] and missing_unit == []


def test_the_schema_covers_every_field_of_the_model() -> None:
    schema = scenario_json_schema()
    assert set(schema["properties"]) == set(Scenario.model_fields)
    for name in block_order(schema):
        model = getattr(__import__("revsim.scenario.schema", fromlist=[name]), name, None)
        if model is not None:
            assert set(schema["$defs"][name]["properties"]) == set(model.model_fields), name


def test_the_reference_is_the_schema() -> None:
    """The scenario reference (``revsim schema --format markdown``, the documentation's reference page) has a
    row for every field of every block, with its description and unit as the schema gives them."""
    schema = scenario_json_schema()
    text = reference_markdown(schema)
    for body in [schema, *(schema["$defs"][name] for name in block_order(schema))]:
        for name, accepts, unit, default, description in field_rows(body):
            row = next((line for line in text.splitlines() if line.startswith(f"| `{name}` |")
                        and description.replace("|", "\\|") in line), None)
            assert row is not None, name
            assert unit.replace("|", "\\|") in row and default in row
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")][1:] == block_order(schema)


def test_revsim_schema_prints_and_writes(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0 and json.loads(result.output) == scenario_json_schema()
    out = tmp_path / "s.json"
    assert CliRunner().invoke(cli, ["schema", "--out", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == schema_text()
    markdown = CliRunner().invoke(cli, ["schema", "--format", "markdown"])
    assert markdown.exit_code == 0 and "## Channel" in markdown.output and "| `volume` |" in markdown.output


def test_the_examples_reference_the_schema_shipped_next_to_them() -> None:
    shipped = REPO_ROOT / "scenarios" / "scenario.schema.json"
    assert shipped.read_text(encoding="utf-8") == schema_text(), \
        "scenarios/scenario.schema.json is stale: run revsim schema --out scenarios/scenario.schema.json"
    for path in sorted((REPO_ROOT / "scenarios").glob("*.yaml")):
        assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=scenario.schema.json")


def test_the_schema_is_small_enough_for_an_editor() -> None:
    assert len(schema_text()) < 250_000  # each value form is defined once and referred to
    assert re.search(r'"x-form": "uncertain"', schema_text())
