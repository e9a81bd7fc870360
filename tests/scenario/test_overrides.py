"""Overrides (``--set PATH=VALUE``) and levers: paths, values, validation, and the changes levers make."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import pytest

from revsim.errors import InputError
from revsim.scenario.levers import (
    ABSOLUTE,
    ADDITIVE,
    RELATIVE,
    Change,
    changed_values,
    default_range,
    get_lever,
    parse_change,
    parse_setting,
    scenario_levers,
)
from revsim.scenario.load import load_scenario, parse_scenario_text, scenario_from_dict
from revsim.scenario.overrides import (
    PathError,
    ScenarioNote,
    apply_lever,
    apply_overrides,
    override_scenario,
    parse_path,
    parse_value,
    resolve,
)
from revsim.scenario.schema import iter_inputs

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "saas_sales_led.yaml"


@pytest.fixture(scope="module")
def example():
    return load_scenario(EXAMPLE)


def inputs(loaded) -> dict[str, str]:
    return {path: dist.describe() for path, dist in iter_inputs(loaded.model)}


# ---------------------------------------------------------------------------------------------- paths


@pytest.mark.parametrize("text, tokens", [
    ("funnel.stages.mql.conversion", ["funnel", "stages", "mql", "conversion"]),
    ("funnel.stages[1].conversion", ["funnel", "stages", 1, "conversion"]),
    ("initial_book.0.customers", ["initial_book", 0, "customers"]),
    ("retention.*.churn", ["retention", "*", "churn"]),
    ("a[0][2]", ["a", 0, 2]),
])
def test_paths_split_into_keys_and_indexes(text: str, tokens: list) -> None:
    assert parse_path(text) == tokens


@pytest.mark.parametrize("text", ["", "a..b", "a[x]", "a]"])
def test_malformed_paths_are_refused(text: str) -> None:
    with pytest.raises(PathError):
        parse_path(text)


@pytest.mark.parametrize("path, suggestion", [
    ("funnel.stages.mqll.conversion", "funnel.stages.mql.conversion"),
    ("funnel.stages.mql.conversoin", "funnel.stages.mql.conversion"),
    ("retention.smbb.churn", "retention.smb.churn"),
    ("chanels.inbound.volume", "channels.inbound.volume"),
    ("channels.inbund.volume", "channels.inbound.volume"),
    ("funnel.stages.opportunity.by_segment.mid_markt.conversion",
     "funnel.stages.opportunity.by_segment.mid_market.conversion"),
    ("costs.channel_spend.inbond", "costs.channel_spend.inbound"),
])
def test_a_path_that_names_nothing_gets_the_corrected_path(example, path: str, suggestion: str) -> None:
    with pytest.raises(PathError) as caught:
        resolve(copy.deepcopy(example.data), example.model, path)
    assert caught.value.suggestion == suggestion


def test_paths_reach_list_items_by_name_and_position(example) -> None:
    data = copy.deepcopy(example.data)
    by_name = resolve(data, example.model, "funnel.stages.mql.conversion")[0]
    by_index = resolve(data, example.model, "funnel.stages[1].conversion")[0]
    assert by_name.loc == by_index.loc == ("funnel", "stages", 1, "conversion")
    assert by_name.input_path == "funnel.stages.mql.conversion"
    assert by_name.value == {"dist": "beta", "mean": 0.35, "sd": 0.04}
    assert [t.input_path for t in resolve(data, example.model, "retention.*.churn")] == [
        "retention.smb.churn", "retention.mid_market.churn"]


@pytest.mark.parametrize("path, message", [
    ("retention.churn", "retention.*.churn"),  # a keyed block needs the segment
    ("onboarding.smb.success", "written once for every segment"),  # a flat block has none
    ("initial_book.smb.customers", "give a position"),
    ("initial_book[5].customers", "positions 0 to 1"),
    ("name.first", "single value"),
    ("funnel.stages.lead.conversion.mean", "interval"),  # an interval, not a dist: mapping
    ("funnel.sales_capacity.reps.mean", "single value"),
])
def test_paths_into_the_wrong_shape_say_how_to_write_them(example, path: str, message: str) -> None:
    with pytest.raises(PathError, match=message.replace("*", r"\*").replace("[", r"\[")):
        resolve(copy.deepcopy(example.data), example.model, path)


def test_missing_values_the_schema_allows_are_created(example) -> None:
    changed = apply_overrides(example, {
        "expansion.smb.rate": 0.02,  # a segment's own entry, copied from `default`
        "funnel.stages.opportunity.by_segment.smb.months": 1.5,
        "costs.other_spend": "20k",
    })
    assert changed.data["expansion"]["smb"] == {**example.data["expansion"]["default"], "rate": 0.02}
    assert changed.data["expansion"]["default"] == example.data["expansion"]["default"]
    found = inputs(changed)
    assert found["expansion.smb.size"] == "0.25"  # the rest of the default entry kept
    assert found["funnel.stages.opportunity.by_segment.smb.months"] == "1.5"
    assert found["costs.other_spend"] == "20000"


def test_a_left_out_per_segment_block_gets_a_default_entry_for_the_other_segments() -> None:
    base = parse_scenario_text(
        "name: t\nstart: 2027-01\nhorizon_months: 6\nsegments: [a, b]\n"
        "funnel: {stages: [{name: lead, conversion: 0.1, months: 1}, {name: won}]}\n"
        "pricing: {acv: 1200}\nretention: {churn: 0.1}\ninitial_book: [{segment: a, customers: 5, mrr: 500}]\n")
    changed = apply_overrides(base, ["advocacy.a.rate=0.3"])
    assert changed.data["advocacy"] == {"default": {}, "a": {"rate": 0.3}}
    assert inputs(changed)["advocacy.a.rate"] == "0.3" and inputs(changed)["advocacy.default.rate"] == "0"


# ---------------------------------------------------------------------------------------------- values


@pytest.mark.parametrize("text, value", [
    ("0.32", 0.32),
    ("[0.01,0.02]", [0.01, 0.02]),
    ("{dist: beta, mean: 0.3, sd: 0.02}", {"dist": "beta", "mean": 0.3, "sd": 0.02}),
    ("12k", "12k"),
    ("2027-06", "2027-06"),
    ("smb", "smb"),
])
def test_values_are_read_as_in_the_file(text: str, value) -> None:
    assert parse_value(text) == value


def test_values_are_read_safely() -> None:
    with pytest.raises(ValueError, match="could not read"):
        parse_value("!!python/object/apply:os.system ['true']")
    with pytest.raises(ValueError, match="could not read"):
        parse_value("[0.3")


# ---------------------------------------------------------------------------------------------- overrides


def test_overrides_change_the_value_and_the_hash(example) -> None:
    changed = apply_overrides(example, ["funnel.stages.sql.conversion=0.6", "retention.smb.churn=[0.1,0.2]",
                                        "pricing.smb.acv=12k"])
    found = inputs(changed)
    assert found["funnel.stages.sql.conversion"] == "0.6"
    assert found["retention.smb.churn"].startswith("beta(")
    assert found["pricing.smb.acv"] == "12000"
    assert changed.sha256 != example.sha256
    assert example.data["pricing"]["smb"]["acv"] == [9000, 13000]  # the original is untouched
    again = apply_overrides(example, {"funnel.stages.sql.conversion": 0.6, "retention.smb.churn": [0.1, 0.2],
                                      "pricing.smb.acv": "12k"})
    assert again.sha256 == changed.sha256


def test_an_invalid_override_is_reported_like_the_file_naming_the_override(example) -> None:
    with pytest.raises(InputError) as caught:
        apply_overrides(example, ["funnel.stages.mql.conversion=1.5"])
    problem = caught.value.problems[0]
    assert problem.path == ("funnel", "stages", 1, "conversion")
    assert problem.line is None  # the value is not in the file
    assert "--set funnel.stages.mql.conversion=1.5" in str(caught.value)
    assert "probability" in str(caught.value)


def test_every_bad_override_is_reported_at_once(example) -> None:
    with pytest.raises(InputError) as caught:
        apply_overrides(example, ["funnel.stages.mqll.conversion=0.3", "no_equals_sign", "nosuch=1"])
    text = str(caught.value)
    assert "3 problems" in text
    assert "did you mean 'funnel.stages.mql.conversion'" in text
    assert "expected PATH=VALUE" in text


def test_making_a_correlated_input_constant_drops_its_correlation_with_a_note(example) -> None:
    changed, notes = override_scenario(example, ["funnel.stages.lead.conversion=0.25"])
    assert changed.model.correlations == []
    assert len(notes) == 1 and "funnel.stages.mql.conversion" in notes[0]
    with pytest.warns(ScenarioNote, match="no longer applies"):
        apply_overrides(example, ["funnel.stages.lead.conversion=0.25"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        apply_overrides(example, ["funnel.stages.lead.conversion=[0.2, 0.35]"])  # still uncertain: kept


# ---------------------------------------------------------------------------------------------- levers


@pytest.mark.parametrize("written, kind, amount", [
    ("+10%", RELATIVE, 0.1),
    ("-20%", RELATIVE, -0.2),
    ("+0.03", ADDITIVE, 0.03),
    ("-0.5", ADDITIVE, -0.5),
    (-0.5, ADDITIVE, -0.5),
    ("+5k", ADDITIVE, 5000.0),
    ("0.32", ABSOLUTE, 0.32),
    (14, ABSOLUTE, 14.0),
    ("12k", ABSOLUTE, 12000.0),
    ("=-0.01", ABSOLUTE, -0.01),
])
def test_changes_are_relative_additive_or_absolute(written, kind: str, amount: float) -> None:
    change = parse_change(written)
    assert (change.kind, change.amount) == (kind, pytest.approx(amount))


@pytest.mark.parametrize("written, message", [("35%", "ambiguous"), ("abc", "expected"), (None, "expected"),
                                              (True, "expected")])
def test_unclear_changes_are_refused(written, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_change(written)


def test_settings_read_percentages_and_amounts() -> None:
    assert parse_setting("-60%") == pytest.approx(-0.6)
    assert parse_setting("5k") == 5000
    assert parse_setting(0.2) == 0.2


def test_yaml_keeps_the_plus_sign_of_an_additive_change() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    loaded = parse_scenario_text(text + "\n  - {name: inline, path: funnel.sales_capacity.reps, change: +3}\n")
    levers = scenario_levers(loaded)
    assert levers["mql_plus_3pts"].change == Change(ADDITIVE, 0.03)
    assert levers["two_more_reps"].change == Change(ADDITIVE, 2.0)
    assert levers["inline"].change == Change(ADDITIVE, 3.0)
    assert levers["churn_down_fifth"].change == Change(RELATIVE, -0.2)
    plain = parse_scenario_text(text + "\n  - {name: set_reps, path: funnel.sales_capacity.reps, change: 15}\n")
    assert scenario_levers(plain)["set_reps"].change == Change(ABSOLUTE, 15.0)


def lever_data(example, path: str, change, value=None) -> dict:
    data = copy.deepcopy(example.data)
    if value is not None:
        targets = resolve(data, example.model, path)
        for target in targets:
            target.set(value)
    data["levers"] = [{"name": "x", "path": path, "change": change}]
    return data


@pytest.mark.parametrize("value, change, expected", [
    (0.3, "+0.03", 0.33),
    (0.3, "+10%", 0.33),
    ([0.2, 0.3], "+0.05", [0.25, 0.35]),
    ([0.2, 0.3], "-50%", [0.1, 0.15]),
    ({"dist": "beta", "mean": 0.3, "sd": 0.04}, "+0.03", {"dist": "beta", "mean": 0.33, "sd": 0.04}),
    ({"dist": "beta", "mean": 0.3, "sd": 0.04}, "-50%", {"dist": "beta", "mean": 0.15, "sd": 0.02}),
    ({"dist": "normal", "mean": 0.3, "sd": 0.05, "low": 0, "high": 1}, "+0.1",
     {"dist": "normal", "mean": 0.4, "sd": 0.05, "low": 0, "high": 1}),  # truncation bounds stay
    ({"dist": "triangular", "low": 0.1, "mode": 0.2, "high": 0.4}, "+0.05",
     {"dist": "triangular", "low": 0.15, "mode": 0.25, "high": 0.45}),
    ({"dist": "pert", "min": 0.1, "mode": 0.2, "max": 0.4}, "+100%",
     {"dist": "pert", "min": 0.2, "mode": 0.4, "max": 0.8}),
    (0.3, "0.35", 0.35),
    (0.3, [0.3, 0.4], [0.3, 0.4]),
])
def test_a_lever_moves_every_form_of_uncertain_input(example, value, change, expected) -> None:
    path = "funnel.stages.sql.conversion"
    loaded = scenario_from_dict(lever_data(example, path, change, value))
    (new,) = changed_values(loaded.data, loaded.model, scenario_levers(loaded)["x"]).values()
    if isinstance(expected, dict):
        assert new.keys() == expected.keys() and new["dist"] == expected["dist"]
        numbers = {k: v for k, v in expected.items() if k != "dist"}
        assert {k: new[k] for k in new if k != "dist"} == pytest.approx(numbers)
    else:
        assert new == pytest.approx(expected)


def test_a_lever_on_a_lognormal_and_a_gamma(example) -> None:
    path = "channels.inbound.volume"
    for value, change, expected in [
        ({"dist": "lognormal", "median": 1000, "sigma": 0.2}, "+10%", {"median": 1100.0, "sigma": 0.2}),
        ({"dist": "gamma", "shape": 4, "scale": 250}, "-20%", {"shape": 4, "scale": 200.0}),
        ({"dist": "gamma", "mean": 1000, "sd": 100}, "+50", {"mean": 1050.0, "sd": 100}),
        ("1.2k", "+10%", None),
    ]:
        loaded = scenario_from_dict(lever_data(example, path, change, value))
        new = next(iter(changed_values(loaded.data, loaded.model, scenario_levers(loaded)["x"]).values()))
        if expected is None:
            assert new == pytest.approx(1320.0)
            continue
        for key, number in expected.items():
            assert new[key] == pytest.approx(number)


@pytest.mark.parametrize("path, value, change, message", [
    ("retention.smb.churn", {"dist": "beta", "alpha": 2, "beta": 8}, "+0.01", "alpha and beta"),
    ("channels.inbound.volume", {"dist": "gamma", "shape": 2, "scale": 500}, "+100", "shape and scale"),
    ("channels.inbound.volume", {"dist": "gamma", "shape": 2, "scale": 500}, "-100", "shape and scale"),
])
def test_changes_without_meaning_are_refused_when_the_scenario_loads(example, path, value, change, message,
                                                                      tmp_path) -> None:
    (tmp_path / "x.csv").write_text("churn\n0.1\n0.2\n0.15\n", encoding="utf-8")
    data = lever_data(example, path, change, value)
    with pytest.raises(InputError, match=message) as caught:
        scenario_from_dict(data, base_dir=tmp_path)
    assert caught.value.problems[0].path[:2] == ("levers", 0)


@pytest.mark.parametrize("value, change, expected", [
    ({"dist": "empirical", "file": "x.csv"}, "+0.03", {"shift": 0.03}),
    ({"dist": "empirical", "file": "x.csv"}, "-20%", {"scale": 0.8}),
    ({"dist": "empirical", "file": "x.csv", "shift": 0.01, "scale": 2}, "+50%", {"shift": 0.015, "scale": 3}),
    ({"dist": "empirical", "file": "x.csv", "shift": 0.03}, "-0.03", {}),  # back to the samples as they are
])
def test_a_lever_shifts_or_scales_samples_read_from_a_file(example, tmp_path, value, change, expected) -> None:
    (tmp_path / "x.csv").write_text("churn\n0.1\n0.2\n0.15\n", encoding="utf-8")
    loaded = scenario_from_dict(lever_data(example, "retention.smb.churn", change, value), base_dir=tmp_path)
    (new,) = changed_values(loaded.data, loaded.model, scenario_levers(loaded)["x"]).values()
    assert {k: v for k, v in new.items() if k in ("shift", "scale")} == pytest.approx(expected)
    assert new["file"] == "x.csv"
    changed, _ = apply_lever(loaded, "x", base_dir=tmp_path)
    churn = dict(iter_inputs(changed.model))["retention.smb.churn"]
    samples = [0.1, 0.2, 0.15]
    shift, scale = expected.get("shift", 0.0), expected.get("scale", 1.0)
    assert sorted(churn.values) == pytest.approx(sorted(x * scale + shift for x in samples))


def test_a_lever_that_takes_samples_out_of_their_domain_is_refused_naming_it(example, tmp_path) -> None:
    (tmp_path / "x.csv").write_text("churn\n0.1\n0.2\n0.15\n", encoding="utf-8")
    data = lever_data(example, "retention.smb.churn", "+0.03", {"dist": "empirical", "file": "x.csv"})
    loaded = scenario_from_dict(data, base_dir=tmp_path)
    with pytest.raises(InputError) as caught:
        apply_lever(loaded, "x", -0.15, base_dir=tmp_path)  # 0.1 - 0.15 < 0
    text = str(caught.value)
    assert "lever 'x' (-0.15)" in text and "retention.smb.churn" in text
    assert "expected a probability between 0 and 1" in text and "range from -0.05 to 0.05" in text


def test_a_lever_naming_no_input_is_an_error_with_the_corrected_path(example) -> None:
    data = lever_data(example, "funnel.stages.mqll.conversion", "+0.03")
    with pytest.raises(InputError, match="did you mean 'funnel.stages.mql.conversion'") as caught:
        scenario_from_dict(data)
    assert caught.value.problems[0].path == ("levers", 0, "path")


def test_levers_may_be_a_mapping_and_names_must_be_unique(example) -> None:
    data = copy.deepcopy(example.data)
    data["levers"] = {"a": {"path": "pricing.smb.acv", "change": "+5%"}}
    assert list(scenario_levers(scenario_from_dict(data))) == ["a"]
    data["levers"] = [{"name": "a", "path": "pricing.smb.acv", "change": "+5%"}] * 2
    with pytest.raises(InputError, match="defined twice"):
        scenario_from_dict(data)


def test_applying_a_lever_and_its_settings(example) -> None:
    lever = scenario_levers(example)["churn_down_fifth"]
    assert default_range(example, lever) == (0.0, pytest.approx(-0.6))
    changed, _ = apply_lever(example, lever, -0.5)
    assert changed.data["retention"]["smb"]["churn"] == [0.06, 0.11]  # both ends of [0.12, 0.22] halved
    assert changed.data["retention"]["mid_market"]["churn"] == [0.03, 0.06]
    assert default_range(example, scenario_levers(example)["two_more_reps"]) == (0.0, 8.0)
    with pytest.raises(InputError, match="lever 'mql_plus_3pts'"):
        apply_lever(example, "mql_plus_3pts", 0.9)  # a beta mean above 1


def test_ad_hoc_levers_and_unknown_names(example) -> None:
    spec = get_lever(example, "retention.smb.churn=-20%")
    assert spec.paths == ("retention.smb.churn",) and spec.change == Change(RELATIVE, -0.2)
    with pytest.raises(InputError) as caught:
        get_lever(example, "churn_down_5th")
    assert caught.value.problems[0].suggestion == "churn_down_fifth"
    with pytest.raises(InputError, match="did you mean 'retention.smb.churn'"):
        get_lever(example, "retention.smbb.churn=-20%")
